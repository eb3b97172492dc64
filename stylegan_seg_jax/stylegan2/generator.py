"""The `Generator` handle: a StyleGAN2 module with its variables, ready to call.

    gen = stylegan2.load('ffhq', resolution=256)   # or a toy domain's
    w = gen.mapping(z, psi=0.7)                    # [N, w_dim]
    images, features = gen.synthesis(w)            # const noise

Also the project's seed convention for latents (`z_from_seeds`), random
initialisation (`init`), the average-latent estimate used when a checkpoint
has none (`estimate_w_avg`) and pruning a variable tree to a lower
resolution (`prune_to_resolution`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

from stylegan_seg_jax.stylegan2.networks import GeneratorConfig
from stylegan_seg_jax.stylegan2.networks import NoiseMode
from stylegan_seg_jax.stylegan2.networks import StyleGAN2
from stylegan_seg_jax.stylegan2.networks import truncate

__all__ = ['Generator', 'z_from_seeds', 'init', 'abstract_variables',
           'estimate_w_avg', 'W_AVG_SAMPLES', 'prune_to_resolution']

# Samples of the average-latent estimate (the reference's mean_latent(4096)).
W_AVG_SAMPLES = 4096


def z_from_seeds(seeds: Sequence[int], z_dim: int) -> np.ndarray:
  """The project's seed convention for input latents.

  Each seed gives z = numpy.random.default_rng(seed).standard_normal(z_dim),
  so a seed names the same sample on any machine and in any batch.

  Args:
    seeds: non-negative integer seeds.
    z_dim: size of each latent.

  Returns:
    z [len(seeds), z_dim] float32.

  Raises:
    ValueError: a negative seed.
  """
  seeds = [int(s) for s in seeds]
  bad = [s for s in seeds if s < 0]
  if bad:
    raise ValueError(f'seeds must be non-negative, got {bad[0]}')
  if not seeds:
    return np.zeros((0, z_dim), np.float32)
  return np.stack([np.random.default_rng(s).standard_normal(z_dim)
                   for s in seeds]).astype(np.float32)


@functools.partial(jax.jit, static_argnames=('module', 'cutoff'))
def _map(module, variables, z, psi, cutoff):
  return module.apply(variables, z, psi, cutoff, method=StyleGAN2.mapping)


@functools.partial(jax.jit,
                   static_argnames=('module', 'noise_mode', 'return_rgb'))
def _synthesize(module, variables, ws, rng, noise_mode, return_rgb):
  rngs = {'noise': rng} if rng is not None else {}
  img, feats, rgbs = module.apply(variables, ws, noise_mode, rngs=rngs,
                                  method=StyleGAN2.synthesis)
  return (img, feats, rgbs) if return_rgb else (img, feats)


@dataclasses.dataclass(frozen=True)
class Generator:
  """A loaded generator: the linen module, its variables and its config.

  Attributes:
    module: the `StyleGAN2` linen module (hashable; use it in jitted code with
      `module.apply(variables, ws, method=StyleGAN2.synthesis)`).
    variables: the variable dict `{'params': ..., 'buffers': ...}`.
    config: the architecture.
    metadata: provenance from the converted checkpoint (source format, sha256,
      where w_avg came from); empty for generators built in memory.
  """

  module: StyleGAN2
  variables: Any
  config: GeneratorConfig
  metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def mapping(self, z: ArrayLike, psi: float = 1.0,
              cutoff: int | None = None) -> jax.Array:
    """Maps z [N, z_dim] to w [N, w_dim], truncated against the stored w_avg.

    Args:
      z: [N, z_dim] latents.
      psi: truncation psi (1 = no truncation).
      cutoff: if set, truncate only the first `cutoff` W+ rows and return
        W+ [N, num_ws, w_dim].

    Returns:
      w [N, w_dim], or W+ [N, num_ws, w_dim] when `cutoff` is set.
    """
    return _map(self.module, self.variables, jnp.asarray(z, jnp.float32),
                jnp.float32(psi), cutoff)

  def truncate(self, w: ArrayLike, psi: float) -> jax.Array:
    """w_avg + psi (w - w_avg) of untruncated w [N, w_dim] or W+.

    Uses the generator's stored w_avg (the one truncation every component
    shares).
    """
    return truncate(jnp.asarray(w, jnp.float32),
                    self.variables['buffers']['mapping']['w_avg'], psi)

  def synthesis(
      self,
      ws: ArrayLike,
      noise_mode: NoiseMode = 'const',
      rng: jax.Array | None = None,
      return_rgb: bool = False,
  ):
    """Synthesises images and every conv activation.

    Args:
      ws: [N, w_dim] (broadcast to every layer) or W+ [N, num_ws, w_dim]
        (extra rows beyond num_ws, e.g. from a higher-resolution model, are
        ignored).
      noise_mode: 'const' (stored noise buffers), 'random' (needs `rng`) or
        'none'.
      rng: PRNG key for `noise_mode='random'`.
      return_rgb: also return the per-block ToRGB outputs.

    Returns:
      `(images, features)`: images [N, R, R, img_channels] float32 in the
      generator's raw range (about [-1, 1]); features a tuple of
      [N, h, w, c] arrays, one per synthesis conv layer in generation order.
      With `return_rgb`, a third element: the ToRGB outputs, one per block.
    """
    if noise_mode == 'random' and rng is None:
      raise ValueError("noise_mode='random' needs an explicit rng key")
    return _synthesize(self.module, self.variables,
                       jnp.asarray(ws, jnp.float32),
                       rng, noise_mode, return_rgb)

  def __call__(self, z: ArrayLike, psi: float = 1.0,
               noise_mode: NoiseMode = 'const', rng: jax.Array | None = None):
    """Images and features of latents z: `synthesis(mapping(z, psi))`."""
    return self.synthesis(self.mapping(z, psi), noise_mode, rng)


def abstract_variables(config: GeneratorConfig) -> Any:
  """Shapes and dtypes of the variables of `StyleGAN2(config)`."""
  module = StyleGAN2(config)
  z = jax.ShapeDtypeStruct((1, config.z_dim), jnp.float32)
  return jax.eval_shape(module.init, jax.random.key(0), z)


def init(config: GeneratorConfig, rng: jax.Array) -> Generator:
  """A randomly initialised generator (NVIDIA's init; w_avg = 0)."""
  module = StyleGAN2(config)
  variables = jax.jit(module.init)(rng, jnp.zeros((1, config.z_dim)))
  return Generator(module, variables, config)


def estimate_w_avg(config: GeneratorConfig, variables: Any,
                   num_samples: int = W_AVG_SAMPLES,
                   seed: int = 0) -> np.ndarray:
  """Mean of mapping(z) over `num_samples` seeded z ~ N(0, I).

  For checkpoints that store no average latent (and for freshly trained
  generators); seeded, so every component of a run shares one w_avg.
  """
  module = StyleGAN2(config)
  z = jax.random.normal(jax.random.key(seed), (num_samples, config.z_dim))
  w = jax.jit(lambda v, z: module.apply(v, z, method=StyleGAN2.mapping))(
      variables, z)
  return np.asarray(jnp.mean(w, axis=0), np.float32)


def prune_to_resolution(variables: Any, resolution: int) -> Any:
  """Drops the synthesis blocks above `resolution` from a variable tree."""
  def keep(name: str) -> bool:
    return not (name[:1] == 'b' and name[1:].isdigit()
                and int(name[1:]) > resolution)
  out = {}
  for col, tree in variables.items():
    tree = dict(tree)
    if 'synthesis' in tree:
      tree['synthesis'] = {k: v for k, v in tree['synthesis'].items()
                           if keep(k)}
    out[col] = tree
  return out
