"""The two SwAV views: W+ block resampling, then rotation and flip.

W+ perturbation (docs/method.md §3). From an untruncated w per image, each view
independently picks a style block l ~ U{0 .. num_blocks - 1} and replaces W+
rows 2l and 2l + 1 by (1 - s) w + s mapping(z'_j), with a fresh z'_j per row
(s = 1: style mixing at one block). Truncation:

* single (default): every row is truncated once, after mixing;
* double (the reference's quirk): the rows are truncated before mixing and
  the generator truncates the whole W+ again, so unperturbed rows end at
  w_avg + psi^2 (w - w_avg) and perturbed rows at w_avg + psi (w' - w_avg).

Spatial transforms. Each view is rotated by an angle ~ U[-max, max] degrees
about the image centre (nearest, zero fill outside, no expansion) and then
flipped horizontally with probability 1/2, as torchvision's
Compose([RandomRotation, RandomHorizontalFlip]) on the feature maps. Maps are
never materialised: `view_coords` turns output pixels of a view into the
source pixels to read (plus a validity mask for pixels rotated in from
outside). The reference pairs pixel i of one view with pixel i of the other
although each view was transformed independently (`align_views=False`);
`align_views=True` maps the sampled pixels of view s through both transforms
so that each pair shows the same source location.
"""

from __future__ import annotations

from collections.abc import Callable
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from stylegan_seg_jax import stylegan2

__all__ = ['Transform', 'perturb_wplus', 'sample_transforms', 'view_coords',
           'pair_coords']


class Transform(NamedTuple):
  """Per-image spatial transform of a view: angle (radians), flip (bool)."""

  angle: jax.Array  # [N]
  flip: jax.Array   # [N]


def perturb_wplus(
    key: jax.Array,
    w: jax.Array,
    mapping_fn: Callable[[jax.Array], jax.Array],
    w_avg: jax.Array,
    *,
    num_ws: int,
    z_dim: int,
    num_blocks: int,
    strength: float = 1.0,
    psi: float = 1.0,
    double_truncation: bool = False,
    block: int | None = None,
) -> jax.Array:
  """One view's W+ [N, num_ws, w_dim] from untruncated w [N, w_dim].

  Args:
    key: PRNG key of this view.
    w: [N, w_dim] (or W+ [N, num_ws, w_dim]) untruncated latents.
    mapping_fn: z [M, z_dim] -> untruncated w [M, w_dim].
    w_avg: [w_dim] average latent.
    num_ws: W+ rows of the generator.
    z_dim: latent size for the fresh z'.
    num_blocks: W+ blocks (row pairs) eligible for resampling (rows
      0 .. 2 num_blocks - 1).
    strength: s; 1 replaces the rows.
    psi: truncation.
    double_truncation: reproduce the reference's double truncation.
    block: resample this block (HFC-KMeans' per-block copies) instead of a
      random one.

  Returns:
    The view's W+ latents, truncated.
  """
  if 2 * num_blocks > num_ws:
    raise ValueError(f'num_blocks={num_blocks} needs {2 * num_blocks} W+ '
                     f'rows; the generator has {num_ws}')
  n, w_dim = w.shape[0], w.shape[-1]
  k_block, k_z = jax.random.split(key)
  if block is None:
    blocks = jax.random.randint(k_block, (n,), 0, num_blocks)
  else:
    blocks = jnp.full((n,), block, jnp.int32)
  fresh = mapping_fn(jax.random.normal(k_z, (n * 2, z_dim))).reshape(
      n, 2, w_dim)
  base = w if not double_truncation else stylegan2.truncate(w, w_avg, psi)
  wplus = (base if base.ndim == 3
           else jnp.broadcast_to(base[:, None], (n, num_ws, w_dim)))
  rows = jnp.arange(num_ws)[None, :]                     # [1, num_ws]
  hit = (rows // 2 == blocks[:, None]) & (rows < 2 * num_blocks)
  replacement = jnp.take_along_axis(
      fresh, jnp.clip(rows - 2 * blocks[:, None], 0, 1)[..., None], axis=1)
  mixed = jnp.where(hit[..., None],
                    (1.0 - strength) * wplus + strength * replacement, wplus)
  return stylegan2.truncate(mixed, w_avg, psi)


def sample_transforms(key: jax.Array, n: int,
                      max_degrees: float = 10.0) -> Transform:
  """Random rotation in [-max, max] degrees and a fair-coin flip, per image."""
  k_a, k_f = jax.random.split(key)
  angle = jax.random.uniform(k_a, (n,), minval=-max_degrees,
                             maxval=max_degrees) * (math.pi / 180.0)
  flip = jax.random.bernoulli(k_f, 0.5, (n,))
  return Transform(angle, flip)


def _rotate(coords: jax.Array, angle: jax.Array, res: int) -> jax.Array:
  """Rotates pixel centres about the image centre; returns nearest pixels."""
  c = res / 2.0
  y = coords[..., 0].astype(jnp.float32) + 0.5 - c
  x = coords[..., 1].astype(jnp.float32) + 0.5 - c
  ca, sa = jnp.cos(angle)[:, None], jnp.sin(angle)[:, None]
  xr = ca * x - sa * y
  yr = sa * x + ca * y
  return jnp.stack([jnp.floor(yr + c), jnp.floor(xr + c)],
                   axis=-1).astype(jnp.int32)


def _flip(coords: jax.Array, flip: jax.Array, res: int) -> jax.Array:
  x = jnp.where(flip[:, None], res - 1 - coords[..., 1], coords[..., 1])
  return jnp.stack([coords[..., 0], x], axis=-1)


def _inside(coords: jax.Array, res: int) -> jax.Array:
  return jnp.all((coords >= 0) & (coords < res), axis=-1)


def view_coords(coords: jax.Array, t: Transform,
                res: int) -> tuple[jax.Array, jax.Array]:
  """Source pixels read by a view's output pixels.

  The view is flip(rotate(maps)): output pixel p shows the source pixel
  rotate^-1(flip(p)).

  Args:
    coords: [N, P, 2] int32 output pixels (row, col).
    t: the view's transform.
    res: resolution.

  Returns:
    (source pixels [N, P, 2] clipped into the image, valid [N, P]).
  """
  src = _rotate(_flip(coords, t.flip, res), -t.angle, res)
  return jnp.clip(src, 0, res - 1), _inside(src, res)


def pair_coords(
    coords: jax.Array, ts: Transform, tt: Transform, res: int,
    align_views: bool,
) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
  """Source pixels (and validity) read by views s and t for sampled pixels.

  Args:
    coords: [N, P, 2] pixels sampled on view s's output grid.
    ts: view s's transform.
    tt: view t's transform.
    res: resolution.
    align_views: False pairs pixel i of s with pixel i of t (reference);
      True pairs it with the pixel of t that shows the same source location.

  Returns:
    ((src_s, valid_s), (src_t, valid_t)).
  """
  src_s, valid_s = view_coords(coords, ts, res)
  if not align_views:
    return (src_s, valid_s), view_coords(coords, tt, res)
  # Where view t shows source pixel src_s: flip(rotate(src_s)).
  out_t = _flip(_rotate(src_s, tt.angle, res), tt.flip, res)
  src_t, valid_t = view_coords(jnp.clip(out_t, 0, res - 1), tt, res)
  return (src_s, valid_s), (src_t, valid_t & valid_s & _inside(out_t, res))
