"""Toy domains: procedural renderers with shipped generators and exact masks.

No pretrained StyleGAN2 can be downloaded on an air-gapped machine and a
random generator has nothing to segment, so the project ships its own:
each domain is a renderer (jnp, batched, jittable, deterministic in z), a
small StyleGAN2 trained so that G(z) ~= render(f(z)), and a label set. Every
sample then has an exact part mask, with no annotator.

* `registry`: the `Domain` record, the registry (`get`, `names`,
  `register`) and the config vocabulary ('toy:NAME', 'toy:NAME:seed:N',
  'toy:NAME:rendered', 'toy:NAME:shifted').
* `drawing`: the primitives the renderers share (SDF shapes, compositing,
  noise).
* `fidelity`: PSNR and per-class fidelity of a generator, sample grids.
* `generator_training`: the `toy_generator` stage that fits a domain's
  generator to its renderer.
* one subpackage per built-in domain (a plugin): `faces` (64 px, 8
  classes), `faces_fine` and `cars` (128 px; each with two label sets).

    from stylegan_seg_jax import domains
    faces = domains.get('faces')
    gen = faces.load_generator()
    z = faces.latents(range(16))
    images, features = gen(z, psi=1.0)
    masks = faces.ground_truth(z)

`stylegan-seg toy {grid,testset,report} --domain=NAME` is its command.
"""

from stylegan_seg_jax.domains.registry import PREFIX
from stylegan_seg_jax.domains.registry import RENDER_SETS
from stylegan_seg_jax.domains.registry import Domain
from stylegan_seg_jax.domains.registry import DomainError
from stylegan_seg_jax.domains.registry import canonical
from stylegan_seg_jax.domains.registry import default
from stylegan_seg_jax.domains.registry import domain_of
from stylegan_seg_jax.domains.registry import get
from stylegan_seg_jax.domains.registry import is_spec
from stylegan_seg_jax.domains.registry import names
from stylegan_seg_jax.domains.registry import oneshot_seed_of
from stylegan_seg_jax.domains.registry import register
from stylegan_seg_jax.domains.registry import render_set_of

__all__ = ['canonical', 'default', 'Domain', 'DomainError', 'domain_of',
           'get', 'is_spec', 'names', 'oneshot_seed_of', 'PREFIX',
           'register', 'render_set_of', 'RENDER_SETS']
