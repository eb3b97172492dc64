"""The built-in toy domain: a shipped StyleGAN2 of procedural faces and masks.

* `faces`: the procedural renderer (scene parameters -> image and mask).
* `domain`: the domain API, re-exported here: the shipped generator, seeded
  latents, exact ground truth, fidelity report, sample grids.
* `generator_training`: how the shipped generator was fitted (the
  `toy_generator` stage of the training binary).

    from stylegan_seg_jax import toy
    gen = toy.load_generator()
    z = toy.latents(range(16))
    images, features = gen(z, psi=1.0)
    masks = toy.ground_truth(z)

`stylegan-seg toy {grid,testset,report}` is its command.
"""

from stylegan_seg_jax.toy import faces
from stylegan_seg_jax.toy.domain import CLASS_NAMES
from stylegan_seg_jax.toy.domain import COLOUR_TOLERANCE
from stylegan_seg_jax.toy.domain import EVAL_SEEDS
from stylegan_seg_jax.toy.domain import GENERATOR_DIR
from stylegan_seg_jax.toy.domain import ONESHOT_SEEDS
from stylegan_seg_jax.toy.domain import RESOLUTION
from stylegan_seg_jax.toy.domain import TEST_SEEDS
from stylegan_seg_jax.toy.domain import TEST_SET_NAME
from stylegan_seg_jax.toy.domain import Z_DIM
from stylegan_seg_jax.toy.domain import fidelity_report
from stylegan_seg_jax.toy.domain import generated_images
from stylegan_seg_jax.toy.domain import ground_truth
from stylegan_seg_jax.toy.domain import latents
from stylegan_seg_jax.toy.domain import load_generator
from stylegan_seg_jax.toy.domain import psnr
from stylegan_seg_jax.toy.domain import render_targets
from stylegan_seg_jax.toy.domain import save_sample_grid

__all__ = [
    'faces', 'CLASS_NAMES', 'RESOLUTION', 'Z_DIM', 'ONESHOT_SEEDS',
    'TEST_SEEDS', 'EVAL_SEEDS', 'GENERATOR_DIR', 'TEST_SET_NAME',
    'COLOUR_TOLERANCE', 'latents', 'ground_truth', 'render_targets',
    'load_generator', 'generated_images', 'psnr', 'fidelity_report',
    'save_sample_grid',
]

