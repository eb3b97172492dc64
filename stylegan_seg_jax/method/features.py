"""Per-pixel embeddings of the generator's multi-scale features, no concat.

The paper's pixel feature h(p) is the concatenation, over the selected conv
layers, of each layer's activation map upsampled to the output resolution
(nearest by default), followed by a linear projection P (5376 -> 512 for a
256 model): e(p) = P h(p). Materialising h costs C_total x R x R floats per
image (about 1.4 GB at 256). Because upsampling (nearest or bilinear) is
linear and acts on each channel alike, and P is linear,

    P concat_l(up(f_l)) = sum_l up(P_l f_l),     P = [P_1 | P_2 | ...],

so each layer is projected at its native resolution and only the D-channel
projections are resampled. For a set of P sampled pixels, layers with fewer
than P pixels are projected, upsampled and summed into one [R, R, D] map
that is read at the pixels; larger layers are read at the pixels' mapped
coordinates first and then projected. Nothing of width C_total is ever
built, and no per-layer [P, D] gathers pile up in the backward pass.

Coordinates are integer positions on the output grid (row, column). Nearest
resampling of a layer of size h reads row floor(y * h / R) (PyTorch's
`interpolate(mode='nearest')`); bilinear uses half-pixel centres with the
source coordinate clamped at the borders (`align_corners=False`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['Interpolation', 'channel_slices', 'grid_coords', 'embed_pixels',
           'embed_maps', 'naive_embed_maps', 'squared_norms', 'conv_maps',
           'conv_same', 'concat_maps']

Interpolation = Literal['nearest', 'bilinear']


def channel_slices(channels: Sequence[int]) -> list[slice]:
  """Row ranges of each layer in the concatenated channel axis."""
  edges = np.cumsum([0] + list(channels))
  return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def grid_coords(resolution: int) -> jax.Array:
  """All output pixels as integer (row, col) coordinates [R * R, 2]."""
  r = jnp.arange(resolution, dtype=jnp.int32)
  yy, xx = jnp.meshgrid(r, r, indexing='ij')
  return jnp.stack([yy.reshape(-1), xx.reshape(-1)], axis=-1)


def _taps(
    coord: jax.Array, size: int, out_res: int, interpolation: Interpolation
) -> list[tuple[jax.Array, jax.Array | None]]:
  """Source indices and weights along one axis for output coordinates.

  The weight is None for nearest resampling (a single tap of weight 1).
  """
  if interpolation == 'nearest':
    idx = (coord * size) // out_res
    return [(jnp.clip(idx, 0, size - 1), None)]
  src = (coord.astype(jnp.float32) + 0.5) * (size / out_res) - 0.5
  src = jnp.maximum(src, 0.0)
  lo = jnp.floor(src)
  frac = src - lo
  lo = lo.astype(jnp.int32)
  hi = jnp.minimum(lo + 1, size - 1)
  lo = jnp.minimum(lo, size - 1)
  return [(lo, 1.0 - frac), (hi, frac)]


def _read(fmap: jax.Array, coords: jax.Array, out_res: int,
          interpolation: Interpolation) -> jax.Array:
  """Resampled values of fmap [N, h, w, C] at coords [N, P, 2] -> [N, P, C]."""
  _, h, w, _ = fmap.shape
  rows = _taps(coords[..., 0], h, out_res, interpolation)
  cols = _taps(coords[..., 1], w, out_res, interpolation)
  gather = jax.vmap(lambda f, r, c: f[r, c])
  out: jax.Array | float = 0.0
  for r_idx, r_wt in rows:
    for c_idx, c_wt in cols:
      val = gather(fmap, r_idx, c_idx)
      wt = 1.0
      if r_wt is not None:
        # Both axes share the interpolation: both weighted or neither.
        assert c_wt is not None
        wt = r_wt * c_wt
        val = val * wt[..., None]
      out = out + val
  return jnp.asarray(out)


def _upsample(fmap: jax.Array, out_res: int,
              interpolation: Interpolation) -> jax.Array:
  """Resamples [N, h, w, C] maps to [N, R, R, C]."""
  n, h, w, c = fmap.shape
  if interpolation == 'nearest':
    rows = (jnp.arange(out_res) * h) // out_res
    cols = (jnp.arange(out_res) * w) // out_res
    return fmap[:, rows][:, :, cols]
  return jax.image.resize(fmap, (n, out_res, out_res, c), 'bilinear',
                          antialias=False)


def _sum_upsampled(maps: Sequence[jax.Array], out_res: int,
                   interpolation: Interpolation) -> jax.Array:
  """sum_l up(maps_l) on the R x R grid ([N, h_l, w_l, D] each).

  Nearest resampling between powers of two composes exactly, so maps are
  summed from the coarsest resolution up (one resample per resolution
  instead of one full-size map per layer).
  """
  if interpolation != 'nearest':
    return jnp.asarray(sum(_upsample(m, out_res, interpolation)
                           for m in maps))
  by_res: dict[int, jax.Array] = {}
  for m in maps:
    by_res[m.shape[1]] = by_res.get(m.shape[1], 0.0) + m
  total = None
  for r in sorted(by_res):
    total = by_res[r] if total is None else (
        _upsample(total, r, 'nearest') + by_res[r])
  if total is None:
    raise ValueError('no feature maps to sum')
  return _upsample(total, out_res, 'nearest')


def embed_pixels(features: Sequence[jax.Array], kernel: jax.Array,
                 coords: jax.Array, out_res: int,
                 interpolation: Interpolation = 'nearest',
                 valid: jax.Array | None = None) -> jax.Array:
  """Projected embeddings e(p) = P h(p) at given pixels, lean.

  Args:
    features: the selected layers' maps, each [N, h_l, w_l, c_l].
    kernel: [sum c_l, D] projection (rows in layer order).
    coords: [N, P, 2] int32 (row, col) positions on the R x R output grid.
    out_res: output resolution R.
    interpolation: 'nearest' or 'bilinear' upsampling of each layer.
    valid: optional [N, P] bool; invalid pixels (e.g. rotated in from
      outside the image) read zero features, hence a zero embedding.

  Returns:
    [N, P, D] embeddings.
  """
  slices = channel_slices([f.shape[-1] for f in features])
  num_pixels = coords.shape[1]
  small = [(f, sl) for f, sl in zip(features, slices)
           if f.shape[1] * f.shape[2] <= num_pixels]
  out: jax.Array | float = 0.0
  for fmap, sl in zip(features, slices):
    if fmap.shape[1] * fmap.shape[2] > num_pixels:
      out = out + _read(fmap, coords, out_res, interpolation) @ kernel[sl]
  if small:
    # Nearest resampling between powers of two composes exactly, so the
    # small layers' sum can live at the largest small layer's resolution.
    dense_res = (max(f.shape[1] for f, _ in small)
                 if interpolation == 'nearest' else out_res)
    dense = sum(_upsample(f @ kernel[sl], dense_res, interpolation)
                for f, sl in small)
    at = coords * dense_res // out_res
    out = out + jax.vmap(lambda m, c: m[c[:, 0], c[:, 1]])(dense, at)
  if valid is not None:
    out = jnp.where(valid[..., None], out, 0.0)
  return jnp.asarray(out)


def embed_maps(features: Sequence[jax.Array], kernel: jax.Array, out_res: int,
               interpolation: Interpolation = 'nearest') -> jax.Array:
  """Full embedding maps [N, R, R, D] = P h(p) for every output pixel, lean."""
  slices = channel_slices([f.shape[-1] for f in features])
  return _sum_upsampled([f @ kernel[sl] for f, sl in zip(features, slices)],
                        out_res, interpolation)


def squared_norms(features: Sequence[jax.Array], coords: jax.Array,
                  out_res: int,
                  interpolation: Interpolation = 'nearest') -> jax.Array:
  """||h(p)||^2 of the (virtual) concatenated feature at pixels [N, P].

  Exact for nearest resampling; for bilinear it is the norm of the
  resampled concatenation, computed by resampling each layer.
  """
  out: jax.Array | float = 0.0
  for fmap in features:
    if interpolation == 'nearest':
      sq = jnp.sum(jnp.square(fmap), axis=-1, keepdims=True)
      out = out + _read(sq, coords, out_res, 'nearest')[..., 0]
    else:
      vals = _read(fmap, coords, out_res, interpolation)
      out = out + jnp.sum(jnp.square(vals), axis=-1)
  return jnp.asarray(out)


def conv_maps(features: Sequence[jax.Array], kernel: jax.Array, out_res: int,
              dilation: int = 1,
              interpolation: Interpolation = 'nearest') -> jax.Array:
  """A 'same' dilated conv over the (virtual) concatenated features, lean.

  A k x k convolution of the upsampled concatenation is a sum over kernel
  taps of shifted per-pixel projections, and per-pixel projections commute
  with upsampling. So each layer is projected by all k * k taps at its native
  resolution ([h, w, k * k * O]), the tap maps are upsampled and summed over
  layers, and the shifted taps are added up on the output grid. Nothing of
  width sum c_l is built (RepurposeGAN's 5376 -> 16 conv holds 144 channels
  at 256 x 256 instead of 5376).

  Args:
    features: the layers' maps, each [N, h_l, w_l, c_l].
    kernel: [k, k, sum c_l, O] (HWIO, cross-correlation like lax.conv and
      torch), zero padding of dilation * (k // 2) on each side.
    out_res: output grid resolution R.
    dilation: kernel dilation.
    interpolation: upsampling of each layer.

  Returns:
    [N, R, R, O], without bias.
  """
  kh, kw, _, cout = kernel.shape
  slices = channel_slices([f.shape[-1] for f in features])
  taps = _sum_upsampled(
      [fmap @ kernel[:, :, sl].transpose(2, 0, 1, 3).reshape(
          sl.stop - sl.start, -1) for fmap, sl in zip(features, slices)],
      out_res, interpolation)
  n = taps.shape[0]
  taps = taps.reshape(n, out_res, out_res, kh, kw, cout)
  ph, pw = dilation * (kh // 2), dilation * (kw // 2)
  taps = jnp.pad(taps, ((0, 0), (ph, ph), (pw, pw), (0, 0), (0, 0), (0, 0)))
  out: jax.Array | float = 0.0
  for i in range(kh):
    for j in range(kw):
      y, x = i * dilation, j * dilation
      out = out + taps[:, y:y + out_res, x:x + out_res, i, j]
  return jnp.asarray(out)


def concat_maps(features: Sequence[jax.Array], out_res: int,
                interpolation: Interpolation = 'nearest') -> jax.Array:
  """The reference's pixel features: every layer upsampled and concatenated.

  [N, R, R, sum c_l]. Only for small models, tests and the benchmark's
  reference path; the heads use `embed_maps` / `conv_maps` instead.
  """
  return jnp.concatenate([_upsample(f, out_res, interpolation)
                          for f in features], axis=-1)


def conv_same(x: jax.Array, kernel: jax.Array, dilation: int = 1) -> jax.Array:
  """Dilated 'same' conv of x [N, H, W, C] with kernel [k, k, C, O].

  Zero padding dilation * (k // 2) on each side (torch's
  Conv2d(padding=dilation) for k = 3).
  """
  kh, kw = kernel.shape[:2]
  ph, pw = dilation * (kh // 2), dilation * (kw // 2)
  pad = [(ph, ph), (pw, pw)]
  return jax.lax.conv_general_dilated(
      x, kernel, (1, 1), pad, rhs_dilation=(dilation, dilation),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def naive_embed_maps(features: Sequence[jax.Array], kernel: jax.Array,
                     out_res: int,
                     interpolation: Interpolation = 'nearest') -> jax.Array:
  """Reference path: upsample every layer, concatenate, then project.

  This is what the paper's code does; it materialises [N, R, R, sum c_l].
  Used by tests and the benchmark only.
  """
  return concat_maps(features, out_res, interpolation) @ kernel
