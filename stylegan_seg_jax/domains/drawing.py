"""Drawing primitives shared by the procedural renderers (jnp, batched).

Every renderer of a toy domain draws its scene as signed-distance-function
(SDF) layers composited in painter's order: a layer's alpha is
`clip(0.5 - sdf * px, 0, 1)` (anti-aliased over one pixel, `px` pixels per
scene unit) and the exact mask takes, at each pixel centre, the class of the
topmost layer whose SDF is negative there. Colours and textures are smooth,
deterministic functions of the scene parameters, so a generator can learn
the image from z.

Shapes broadcast: scene values come as [N, 1, 1], pixel coordinates as
[1, R, R] (or [N, R, R] after a per-sample transform).
"""

from __future__ import annotations

from collections.abc import Sequence
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

__all__ = ['pixel_grid', 'uniform_scene', 'param_value', 'ramp', 'ellipse',
           'bent_capsule', 'box', 'polygon', 'smooth_noise', 'composite']

_EPS = 1e-12


def pixel_grid(resolution: int) -> tuple[jax.Array, jax.Array]:
  """(x, y) [1, R, R] of the pixel centres in [-1, 1]; y points down."""
  coords = (jnp.arange(resolution, dtype=jnp.float32) + 0.5) / resolution
  coords = coords * 2.0 - 1.0
  y, x = jnp.meshgrid(coords, coords, indexing='ij')
  return x[None], y[None]


def uniform_scene(z: jax.Array, num_params: int) -> jax.Array:
  """The map f of every toy domain: scene[k] = Phi(z[k]), uniform on [0, 1].

  Raises:
    ValueError: z does not have `num_params` dimensions.
  """
  if z.shape[-1] != num_params:
    raise ValueError(f'latents of this domain have {num_params} dims, '
                     f'got {z.shape[-1]}')
  return jax.scipy.special.ndtr(z.astype(jnp.float32))


def param_value(scene: jax.Array, index: int, lo: float,
                hi: float) -> jax.Array:
  """Scene column `index` mapped linearly onto [lo, hi], as [N, 1, 1]."""
  return (lo + (hi - lo) * scene[:, index])[:, None, None]


def ramp(table: np.ndarray, t: jax.Array) -> jax.Array:
  """Piecewise-linear colour ramp through `table` rows; t [N] in [0, 1].

  Returns:
    [N, 3] colours.
  """
  pos = jnp.clip(t, 0.0, 1.0) * (len(table) - 1)
  lo = jnp.clip(jnp.floor(pos), 0, len(table) - 2).astype(jnp.int32)
  frac = (pos - lo)[:, None]
  tab = jnp.asarray(table, jnp.float32)
  return tab[lo] * (1 - frac) + tab[lo + 1] * frac


def ellipse(u, v, cu, cv, ru, rv):
  """Approximate SDF of an axis-aligned ellipse (exact on circles)."""
  q = jnp.sqrt(jnp.square((u - cu) / ru) + jnp.square((v - cv) / rv) + _EPS)
  return (q - 1.0) * jnp.minimum(ru, rv)


def bent_capsule(u, v, cu, cv, half_len, half_thick, angle, bend):
  """SDF of a thick arc: a segment along `angle`, bent by `bend` * s^2."""
  du, dv = u - cu, v - cv
  c, s = jnp.cos(angle), jnp.sin(angle)
  along = du * c + dv * s
  across = -du * s + dv * c + bend * jnp.square(along)
  out = jnp.maximum(jnp.abs(along) - half_len, 0.0)
  return jnp.sqrt(jnp.square(out) + jnp.square(across) + _EPS) - half_thick


def box(u, v, cu, cv, hu, hv, radius: ArrayLike = 0.0):
  """SDF of an axis-aligned box of half-sizes (hu, hv), corners rounded."""
  qu = jnp.abs(u - cu) - hu + radius
  qv = jnp.abs(v - cv) - hv + radius
  outside = jnp.sqrt(jnp.square(jnp.maximum(qu, 0.0))
                     + jnp.square(jnp.maximum(qv, 0.0)) + _EPS)
  return outside + jnp.minimum(jnp.maximum(qu, qv), 0.0) - radius


def polygon(u, v, pu: Sequence, pv: Sequence):
  """Exact SDF of a simple polygon with vertices (pu[i], pv[i]).

  Vertices may be arrays broadcasting against u, v (for example [N, 1, 1]
  per-sample points after a projection). Negative inside, for either winding.
  """
  n = len(pu)
  d2 = jnp.full(jnp.broadcast_shapes(jnp.shape(u), jnp.shape(v)), jnp.inf)
  sign = jnp.ones_like(u + v)
  for i in range(n):
    j = (i + n - 1) % n
    eu, ev = pu[j] - pu[i], pv[j] - pv[i]
    wu, wv = u - pu[i], v - pv[i]
    t = jnp.clip((wu * eu + wv * ev) / (eu * eu + ev * ev + _EPS), 0.0, 1.0)
    du, dv = wu - eu * t, wv - ev * t
    dist2 = du * du + dv * dv
    d2 = jnp.minimum(d2, dist2)
    c1 = v >= pv[i]
    c2 = v < pv[j]
    c3 = eu * wv > ev * wu
    flip = (c1 & c2 & c3) | (~c1 & ~c2 & ~c3)
    sign = jnp.where(flip, -sign, sign)
  return sign * jnp.sqrt(d2 + _EPS)


# Fixed wave directions and phases of `smooth_noise` (a constant of the
# package: the texture of a sample depends on the scene only through the
# offset and scale passed in).
_WAVES = np.random.default_rng(20261203).uniform(0.0, 2 * math.pi, (4, 6, 2))


def smooth_noise(u, v, offset_u, offset_v, base_freq: float,
                 octaves: int = 3, gain: float = 0.5):
  """Smooth band-limited noise in about [-1, 1]: octaves of plane waves.

  Each octave o sums six plane waves of frequency `base_freq * 2**o` (in
  cycles per scene unit) along fixed directions, amplitude `gain**o`. The
  sample's texture moves with (offset_u, offset_v), scene values, so it is a
  smooth function of z that a generator can learn.

  Args:
    u: horizontal coordinates (scene units).
    v: vertical coordinates.
    offset_u: the texture's horizontal offset, e.g. scene values [N, 1, 1].
    offset_v: its vertical offset.
    base_freq: cycles per unit of the lowest octave.
    octaves: number of octaves (at most 4).
    gain: amplitude ratio between successive octaves.
  """
  total, norm = 0.0, 0.0
  for o in range(octaves):
    freq = base_freq * 2.0 ** o * 2 * math.pi
    amp = gain ** o
    for k in range(6):
      angle, phase = _WAVES[o, k]
      proj = ((u + offset_u) * math.cos(angle)
              + (v + offset_v) * math.sin(angle))
      total = total + amp * jnp.sin(freq * proj + phase)
    norm += amp * math.sqrt(6.0 / 2.0)
  return total / norm


def composite(background: jax.Array, layers: Sequence, px) -> tuple[
    jax.Array, jax.Array]:
  """Painter's-order compositing of SDF layers with an exact mask.

  Args:
    background: [N, R, R, 3] colours under every layer (class 0).
    layers: (sdf [N or 1, R, R], colour broadcasting to [N, R, R, 3],
      class id) bottom to top. A layer whose sdf is +inf is absent.
    px: pixels per scene unit (scalar or [N, 1, 1]).

  Returns:
    images [N, R, R, 3] clipped to [0, 1]; masks [N, R, R] int32.
  """
  image = background
  mask = jnp.zeros(background.shape[:3], jnp.int32)
  for sdf, colour, cls in layers:
    alpha = jnp.clip(0.5 - sdf * px, 0.0, 1.0)[..., None]
    image = image * (1 - alpha) + jnp.broadcast_to(colour, image.shape) * alpha
    mask = jnp.where(sdf < 0.0, cls, mask)
  return jnp.clip(image, 0.0, 1.0), mask
