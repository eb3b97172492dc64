"""Procedural 3-D cars with exact part masks: the `cars` renderer (128 px).

Scene map
---------
A scene is a vector of named parameters in [0, 1] (`PARAMS`). The map from
the generator's latent z ~ N(0, I) to a scene is

    scene[k] = Phi(z[k]),   k = 0 .. len(PARAMS) - 1,

Phi the standard normal CDF (`drawing.uniform_scene`): one latent dimension
per parameter, `z_dim == NUM_PARAMS`. `render(scene)` maps parameter k
linearly onto its documented physical range `PARAMS[name] = (lo, hi)`
(lengths in metres, angles in radians) and draws the car. Nothing is
random: the image and the mask are smooth, deterministic functions of the
scene (except at the anti-aliased edges).

3-D model
---------
Car frame: x forward (the nose at x = +L/2, the tail at -L/2), y to the
car's left, z up, the ground at z = 0. The car is rigid and made of:

* the lower body: a convex hexagonal prism, the side profile (x, z)
  (front bottom, hood front, windshield base, back-window base, tail top,
  rear bottom) extruded over the width W. Its faces: the two sides (the
  doors, dark wheel arches), the vertical front face (headlights in its
  upper corners, the grille between them, the front bumper strip), the
  vertical back face (tail lights, the trunk panel between them with the
  licence plate, the rear bumper), the hood (sloping down to the nose)
  and the trunk deck (sloping down to the tail). Lamps and bumpers wrap
  round the corners onto the sides (0.24 m and 0.35 m). The bottom is
  never seen; the flat top between the windshield and back-window bases
  is the cabin's base.
* the cabin (greenhouse): a convex prismatoid on the lower body's top
  (z = belt height h1), its base as wide as the body, its roof narrower
  by the tumblehome. Faces: the windshield (a body-coloured frame with a
  glass inset), the roof, the back window (frame and glass inset), and the
  two sides (a side window in each, split by a B-pillar).
* four wheels: cylinders of radius r, their outer disc flush with the
  body side (y = +-W/2), 0.2 m wide inwards. A tyre's silhouette is the
  union of the projected outer and inner discs and the quad joining their
  tangent points (seen from an end, a thin upright strip); the outer disc
  (the tyre ring and a rim of radius 0.62 r) is drawn where the camera
  sees that side.
* two mirrors: small ellipsoids just outside the body at the A-pillars.

The `body_type` parameter morphs the profile continuously (piecewise
linearly through three key shapes, `_PROFILES`): 0 saloon (long hood,
separate boot, raked back window), 0.5 hatchback (short deck, the back
window down to the tail) and 1 van (short hood, steep windshield, tall
cabin, near-vertical back). `length`, `width`, `height`, `hood`, `rake`,
`tumblehome` and `wheel_radius` vary the proportions.

Camera: a pinhole looking at the car's centre (0, 0, hr / 2) from the
azimuth `yaw` and the elevation `pitch`, `distance` car lengths away.
Yaw convention: 0 is the front view (the camera on the +x axis: the
headlights and grille face it), pi / 2 the car's left side (camera on +y;
the nose then points to the image's left), pi the back view (tail lights,
plate), 3 pi / 2 the right side; the azimuth grows counter-clockwise seen
from above. The focal length frames the car: its projected width and
height (an orthographic estimate magnified by the perspective of its near
half) cover about `fill` of the image width (cars span 45-80% of it in
90% of the scenes), and the image is shifted by `shift_x`, `shift_y`. The
ranges keep the camera at least 0.4 m above the belt plane z = h1.

Visibility
----------
Every part is a planar convex polygon (its 3-D vertices projected: lines
stay lines, so the image polygon is exact) or a disc or an ellipsoid
(drawn as the ellipse of its local affine projection). Occlusion is exact
by construction:

* back-face culling: a face, and the parts painted on it, is drawn only
  if its outward normal points to the camera. The vertical sides and ends
  are mutually exclusive (the camera sees at most one side and one end),
  so one layer serves both (the per-sample class switches between, e.g.,
  headlight and tail light).
* painter's order by solids: within a convex solid the visible faces do
  not overlap (so they share one layer, without seams). The lower body
  lies below the belt plane, the cabin above it and the camera above it
  too, so the lower body never hides the cabin: lower body, then cabin.
* wheels and mirrors: the tyre silhouettes and the far mirror are drawn
  before the body (the body hides them where it is in front: they lie
  inside or beyond its width); the near wheels' outer discs and the near
  mirror are drawn last (outside the body's width on the camera's side,
  nothing of the car can be in front of them).

Layers bottom to top: background, ground (with the car's soft shadow),
tyres, far mirror, lower-body faces, doors and grille or trunk panel,
lamps, plate and bumpers, cabin faces, glass, B-pillars, near tyre rings,
rims, near mirror. Edges are anti-aliased over one pixel and the mask is
exactly the topmost layer at each pixel centre (`drawing.composite`'s
rule, evaluated as a scan: `_composite`).

For speed (the generator's training renders its targets in every step)
the polygons use `_convex_polygon`, a half-plane SDF several times
cheaper than `drawing.polygon` (all polygons here are convex), and every
shape is evaluated once in a scan over shapes (`_Shapes`): about 4 ms per
128-pixel image on two CPU cores.

Appearance: paint from a palette of common car colours (white, silver,
grey, black, blues, reds, beige), a Lambert shade per face from a light
direction, a soft specular blob (a Gaussian around the highlight of the
car's bounding ellipsoid, weighted per face); dark glass with a soft sky
reflection band; bright lamps; dark tyres; metallic rims with a radial
shade. The ground (a road below the edge of the ground plane, consistent
with the pitch) and the background (sky and a soft skyline of buildings)
carry low-amplitude smooth noise.

Classes (`CLASS_NAMES`, index = class id), in the spirit of Car-20 with
the parts a cartoon car can show exactly:

    0 background (sky, buildings), 1 ground (road, the shadow is on it),
    2 body (side panels, pillars, roof frame, end faces, wheel arches),
    3 door, 4 side_window, 5 windshield, 6 back_window, 7 hood,
    8 trunk (the deck lid and its panel between the tail lights; a
    hatchback's or van's tailgate), 9 roof, 10 tyre, 11 rim,
    12 headlight, 13 tail_light, 14 licence_plate (back only),
    15 mirror, 16 grille, 17 front_bumper, 18 rear_bumper.

Label sets (`LABEL_SETS`): 'fine' is `CLASS_NAMES` itself; 'coarse' is the
reference LSUN-car benchmark's 8 classes (background, body, door, window,
windshield, hood, wheel, lights): ground -> background; trunk, roof,
plate, mirror, grille and both bumpers -> body; side window -> window;
the back window -> windshield (it is the rear windscreen: the large
sloped pane closing the cabin at one end, as the windshield does at the
other); tyre and rim -> wheel; headlight and tail light -> lights.

All functions are jnp, batched over the leading axis and jittable.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

from stylegan_seg_jax.domains import drawing

__all__ = ['RESOLUTION', 'CLASS_NAMES', 'LABEL_SETS', 'PARAMS', 'NUM_PARAMS',
           'scene_from_latent', 'render']

RESOLUTION = 128

CLASS_NAMES = ('background', 'ground', 'body', 'door', 'side_window',
               'windshield', 'back_window', 'hood', 'trunk', 'roof', 'tyre',
               'rim', 'headlight', 'tail_light', 'licence_plate', 'mirror',
               'grille', 'front_bumper', 'rear_bumper')
_ID = {name: i for i, name in enumerate(CLASS_NAMES)}

_COARSE = ('background', 'body', 'door', 'window', 'windshield', 'hood',
           'wheel', 'lights')
_COARSE_OF = {
    'background': 'background', 'ground': 'background', 'body': 'body',
    'door': 'door', 'side_window': 'window', 'windshield': 'windshield',
    'back_window': 'windshield', 'hood': 'hood', 'trunk': 'body',
    'roof': 'body', 'tyre': 'wheel', 'rim': 'wheel', 'headlight': 'lights',
    'tail_light': 'lights', 'licence_plate': 'body', 'mirror': 'body',
    'grille': 'body', 'front_bumper': 'body', 'rear_bumper': 'body',
}

# label set name -> (class names, lookup: fine class id -> label set id).
LABEL_SETS: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
    'coarse': (_COARSE, np.array([_COARSE.index(_COARSE_OF[c])
                                  for c in CLASS_NAMES], np.int32)),
    'fine': (CLASS_NAMES, np.arange(len(CLASS_NAMES), dtype=np.int32)),
}

# name: (lo, hi) of the physical value that scene value 0 .. 1 maps to.
PARAMS = {
    'yaw': (0.0, 2 * math.pi),        # camera azimuth; 0 front, pi/2 left
    'pitch': (math.radians(5.0), math.radians(30.0)),  # elevation
    'distance': (2.0, 4.0),           # camera distance / car length
    'fill': (0.56, 0.92),             # share of the image width (about)
    'shift_x': (-0.08, 0.08),         # image offset (image half-widths)
    'shift_y': (-0.06, 0.08),
    'body_type': (0.0, 1.0),          # 0 saloon, 0.5 hatchback, 1 van
    'length': (3.8, 4.9),             # metres
    'width': (1.68, 1.95),            # metres
    'height': (0.92, 1.08),           # vertical scale of the profile
    'hood': (-0.03, 0.03),            # windshield base shift / length
    'rake': (-0.03, 0.03),            # roof ends shift / length
    'tumblehome': (0.06, 0.16),       # roof inset per side, metres
    'wheel_radius': (0.30, 0.36),     # metres
    'colour': (0.0, 1.0),             # paint palette position
    'paint_light': (0.85, 1.10),
    'trim': (0.0, 1.0),               # bumpers: paint .. black plastic
    'rim_tone': (0.0, 1.0),           # dark grey .. silver
    'lamp_shape': (0.0, 1.0),         # narrow .. wide lamps
    'light_azimuth': (-1.2, 1.2),     # key light, relative to the camera
    'light_elevation': (0.5, 1.2),
    'glass_tint': (0.0, 1.0),
    'sky': (0.0, 1.0),                # background palette position
    'ground_tone': (0.0, 1.0),
    'horizon': (1.5, 5.0),            # ground edge, camera distances away
    'skyline_phase': (0.0, 2 * math.pi),
    'skyline_height': (0.10, 0.45),   # image half-heights
    'texture_u': (0.0, 10.0),         # noise offsets
    'texture_v': (0.0, 10.0),
}
NUM_PARAMS = len(PARAMS)
_INDEX = {name: i for i, name in enumerate(PARAMS)}

# Key profiles of body_type 0 (saloon), 0.5 (hatchback), 1 (van): x as a
# fraction of the length from the tail, heights in metres (times `height`).
_PROFILES = {
    #          saloon hatch  van
    'xw': (0.75, 0.76, 0.86),     # windshield base
    'xrf': (0.57, 0.57, 0.79),    # roof front
    'xrb': (0.31, 0.13, 0.02),    # roof back
    'xb': (0.16, 0.03, 0.0),      # back-window base
    'zc': (0.22, 0.22, 0.25),     # body bottom
    'zf': (0.74, 0.76, 0.86),     # hood front (top of the front face)
    'h1': (0.92, 0.94, 1.00),     # belt: hood rear, cabin base
    'zr': (0.88, 0.90, 1.00),     # tail top (top of the back face)
    'hr': (1.42, 1.48, 1.85),     # roof
    'axf': (0.80, 0.81, 0.82),    # front axle
    'axr': (0.20, 0.17, 0.17),    # rear axle
}

_PAINT = np.array([[0.93, 0.93, 0.91], [0.72, 0.74, 0.76],
                   [0.42, 0.43, 0.45], [0.07, 0.07, 0.08],
                   [0.10, 0.18, 0.42], [0.20, 0.38, 0.72],
                   [0.75, 0.10, 0.09], [0.45, 0.06, 0.08],
                   [0.80, 0.74, 0.60]], np.float32)
_SKY = np.array([[0.52, 0.70, 0.92], [0.78, 0.82, 0.86],
                 [0.93, 0.80, 0.66], [0.62, 0.76, 0.90]], np.float32)
_WALL = np.array([[0.62, 0.58, 0.55], [0.48, 0.52, 0.58],
                  [0.75, 0.70, 0.62], [0.35, 0.45, 0.35]], np.float32)
_ROAD = np.array([[0.30, 0.30, 0.31], [0.45, 0.44, 0.42],
                  [0.58, 0.56, 0.52], [0.40, 0.42, 0.36]], np.float32)
_GLASS = np.array([[0.10, 0.12, 0.15], [0.07, 0.10, 0.09],
                   [0.13, 0.13, 0.13]], np.float32)

_BIG = 1e4        # the SDF of an absent (culled) layer
_TYRE_WIDTH = 0.2  # metres
_RIM = 0.62       # rim radius / tyre radius
_ARCH = 1.18      # wheel arch radius / tyre radius


def scene_from_latent(z: jax.Array) -> jax.Array:
  """The map f: z [N, NUM_PARAMS] -> scene [N, NUM_PARAMS] in [0, 1]."""
  return drawing.uniform_scene(z, NUM_PARAMS)


_LO = np.array([lo for lo, _ in PARAMS.values()], np.float32)
_HI = np.array([hi for _, hi in PARAMS.values()], np.float32)


def _params(scene: jax.Array) -> dict[str, jax.Array]:
  """Every parameter mapped onto its physical range, as [N, 1, 1]."""
  values = scene * (_HI - _LO) + _LO  # one op for all (`param_value` each)
  return {name: values[:, i, None, None] for i, name in enumerate(PARAMS)}


def _dot(a: jax.Array, b: jax.Array) -> jax.Array:
  """Dot product over the last axis of [..., 3] vectors -> [...]."""
  return jnp.sum(a * b, axis=-1)


def _normalize(a: jax.Array) -> jax.Array:
  return a / jnp.sqrt(_dot(a, a) + 1e-12)[..., None]


def _vec(x, y, z) -> jax.Array:
  """Stacks broadcastable coordinates ([..., N, 1, 1]) into [..., 3]."""
  x, y, z = jnp.broadcast_arrays(jnp.asarray(x, jnp.float32),
                                 jnp.asarray(y, jnp.float32),
                                 jnp.asarray(z, jnp.float32))
  return jnp.stack([x, y, z], -1)


class _Camera(NamedTuple):
  """A pinhole camera in the car frame; vectors are [N, 1, 1, 3]."""

  pos: jax.Array
  right: jax.Array   # image +u
  down: jax.Array    # image +v
  fwd: jax.Array     # viewing direction
  focal: jax.Array   # [N, 1, 1]: image half-widths per unit of tangent
  su: jax.Array      # [N, 1, 1] image offsets
  sv: jax.Array

  def project(self, p: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Image (u, v) [..., N, 1, 1] of car-frame points [..., N, 1, 1, 3]."""
    d = p - self.pos
    z = _dot(d, self.fwd)
    return (self.su + self.focal * _dot(d, self.right) / z,
            self.sv + self.focal * _dot(d, self.down) / z)

  def image_vector(self, p: jax.Array, e: jax.Array
                   ) -> tuple[jax.Array, jax.Array]:
    """The projection's Jacobian at p applied to the 3-D vector e."""
    d = p - self.pos
    z = _dot(d, self.fwd)
    ef = _dot(e, self.fwd)
    k = self.focal / z
    return (k * (_dot(e, self.right) - _dot(d, self.right) / z * ef),
            k * (_dot(e, self.down) - _dot(d, self.down) / z * ef))

  def facing(self, quad: jax.Array) -> jax.Array:
    """Whether planar quads face the camera.

    Args:
      quad: [..., 4, N, 1, 1, 3] points, counter-clockwise seen from
        outside.

    Returns:
      [..., N, 1, 1] bool.
    """
    normal = jnp.cross(quad[..., 2, :, :, :, :] - quad[..., 0, :, :, :, :],
                       quad[..., 3, :, :, :, :] - quad[..., 1, :, :, :, :])
    return _dot(normal, self.pos - quad[..., 0, :, :, :, :]) > 0.0


class _Ellipse(NamedTuple):
  """Image ellipses {c + M w : |w| <= 1} by centre and S = M M^T."""

  cu: jax.Array
  cv: jax.Array
  s00: jax.Array
  s01: jax.Array
  s11: jax.Array

  def scaled(self, k: float) -> _Ellipse:
    k2 = k * k
    return _Ellipse(self.cu, self.cv, self.s00 * k2, self.s01 * k2,
                    self.s11 * k2)

  def support(self, nu: jax.Array, nv: jax.Array
              ) -> tuple[jax.Array, jax.Array]:
    """The boundary point farthest along the unit direction (nu, nv)."""
    su = self.s00 * nu + self.s01 * nv
    sv = self.s01 * nu + self.s11 * nv
    norm = jnp.sqrt(nu * su + nv * sv + 1e-12)
    return self.cu + su / norm, self.cv + sv / norm


def _discs(cam: _Camera, centres: jax.Array, axes: list[jax.Array]
           ) -> _Ellipse:
  """Image ellipses of the 3-D ellipses or ellipsoids centre + sum t_k a_k.

  The local affine projection (exact to first order; the parts are small
  next to the camera distance). centres [..., N, 1, 1, 3]; axes broadcast.
  """
  cu, cv = cam.project(centres)
  images = [cam.image_vector(centres, a) for a in axes]
  total = lambda terms: functools.reduce(jnp.add, terms)
  return _Ellipse(cu, cv, total([au * au for au, _ in images]),
                  total([au * av for au, av in images]),
                  total([av * av for _, av in images]))


def _ellipse_coefficients(e: _Ellipse) -> jax.Array:
  """Per-ellipse constants of `_ellipse_sdf`: [..., 6] (centre, Q, major)."""
  det = e.s00 * e.s11 - e.s01 * e.s01 + 1e-14
  major = jnp.sqrt(0.5 * (e.s00 + e.s11) + jnp.sqrt(
      0.25 * jnp.square(e.s00 - e.s11) + e.s01 * e.s01))
  return jnp.stack([e.cu, e.cv, e.s11 / det, -e.s01 / det, e.s00 / det,
                    major], -1)


def _ellipse_sdf(x: jax.Array, y: jax.Array, coef: jax.Array) -> jax.Array:
  """First-order SDF of a general image ellipse; negative exactly inside.

  With Q = S^-1 and d the offset from the centre, q = d^T Q d is 1 on the
  boundary and the SDF is (q - 1) / |grad q| (exact to first order at the
  boundary, which is all the one-pixel anti-aliasing needs). Far from a
  flat ellipse that underestimates the distance, so it is bounded below by
  the distance to the circle of the major semi-axis (the sign is kept).

  Args:
    x: pixel coordinates (x).
    y: pixel coordinates (y).
    coef: `_ellipse_coefficients`, [..., 6] broadcasting against x, y
      once the last axis is dropped.
  """
  cu, cv, qa, qb, qc, major = (coef[..., i] for i in range(6))
  du, dv = x - cu, y - cv
  gu = qa * du + qb * dv
  gv = qb * du + qc * dv
  q = du * gu + dv * gv
  first = (q - 1.0) * jax.lax.rsqrt(4.0 * (gu * gu + gv * gv) + 1e-12)
  return jnp.maximum(first, jnp.sqrt(du * du + dv * dv) - major)


def _half_planes(pu: list[jax.Array], pv: list[jax.Array],
                 visible: jax.Array | None = None) -> jax.Array:
  """The half-planes of convex polygons, for `_convex_polygon`.

  Each polygon (vertices pu[i], pv[i], arrays of one shape) becomes its
  edges' lines and its bounding box's four: [..., k + 4, 3] coefficients
  (a, b, c) with a x + b y + c the signed distance, positive outside. A
  zero-length edge is skipped; a polygon of (near) zero area, or not
  `visible`, gets an always-positive line (absent).
  """
  k = len(pu)
  area = sum(pu[i] * pv[(i + 1) % k] - pu[(i + 1) % k] * pv[i]
             for i in range(k))
  orient = jnp.where(area >= 0.0, 1.0, -1.0)
  absent = jnp.abs(area) <= 1e-7
  if visible is not None:
    absent = absent | ~visible
  lines = []
  for i in range(k):
    j = (i + 1) % k
    eu, ev = pu[j] - pu[i], pv[j] - pv[i]
    length = jnp.sqrt(eu * eu + ev * ev)
    valid = length > 1e-6
    inv = jnp.where(valid, orient / jnp.maximum(length, 1e-6), 0.0)
    nu, nv = ev * inv, -eu * inv
    c = jnp.where(valid, -(nu * pu[i] + nv * pv[i]), -_BIG)
    if i == 0:
      c = jnp.where(absent, _BIG, c)
    lines.append(jnp.stack([nu, nv, c], -1))
  # The vertices' bounding box bounds the far field: without it the acute
  # corners of a polygon seen edge-on would extend its edges (and their
  # anti-aliasing) along the whole line.
  one, zero = jnp.ones_like(area), jnp.zeros_like(area)
  lo_u, hi_u = functools.reduce(jnp.minimum, pu), functools.reduce(
      jnp.maximum, pu)
  lo_v, hi_v = functools.reduce(jnp.minimum, pv), functools.reduce(
      jnp.maximum, pv)
  lines += [jnp.stack([-one, zero, lo_u], -1),
            jnp.stack([one, zero, -hi_u], -1),
            jnp.stack([zero, -one, lo_v], -1),
            jnp.stack([zero, one, -hi_v], -1)]
  return jnp.stack(lines, -2)


def _convex_polygon(x: jax.Array, y: jax.Array, lines: jax.Array
                    ) -> jax.Array:
  """SDF of a convex polygon as the maximum of its half-planes' distances.

  Negative exactly inside; outside it is the distance to the nearest edge
  line, bounded by the distance to the vertices' bounding box (exact along
  the edges, smaller near corners, which only widens the one-pixel
  anti-aliasing at sharp corners). Three operations per line and pixel:
  the renderer's polygons are all convex (planar convex faces and parts
  stay convex under projection), so this replaces `drawing.polygon`'s
  exact but several times dearer SDF.

  Args:
    x: pixel coordinates (x).
    y: pixel coordinates (y).
    lines: `_half_planes` of one polygon, [..., L, 3] broadcasting against
      x, y once the last two axes are dropped.
  """
  return functools.reduce(jnp.maximum, [
      lines[..., i, 0] * x + lines[..., i, 1] * y + lines[..., i, 2]
      for i in range(lines.shape[-2])])


def _quad(points: list[jax.Array]) -> jax.Array:
  """Stacks 4 points [..., N, 1, 1, 3] into one quad [..., 4, N, 1, 1, 3]."""
  shape = jnp.broadcast_shapes(*[p.shape for p in points])
  return jnp.stack([jnp.broadcast_to(p, shape) for p in points], -5)


def _inset(quad: jax.Array, a0: float, a1: float, b0: float,
           b1: float) -> jax.Array:
  """The sub-quad [a0, a1] x [b0, b1] of planar quads (v0 v1 v2 v3).

  In the quads' bilinear coordinates, a along v0 -> v1 and b along
  v0 -> v3; quad is [..., 4, N, 1, 1, 3].
  """
  v0, v1, v2, v3 = (quad[..., i, :, :, :, :] for i in range(4))

  def at(a, b):
    return (1 - b) * ((1 - a) * v0 + a * v1) + b * ((1 - a) * v3 + a * v2)

  return _quad([at(a0, b0), at(a1, b0), at(a1, b1), at(a0, b1)])


class _Body(NamedTuple):
  """The car's dimensions, each [N, 1, 1] (metres, car frame)."""

  length: jax.Array
  half_w: jax.Array   # half width
  roof_w: jax.Array   # half width of the roof
  xf: jax.Array       # nose
  xr: jax.Array       # tail
  xw: jax.Array       # windshield base
  xrf: jax.Array      # roof front
  xrb: jax.Array      # roof back
  xb: jax.Array       # back-window base
  zc: jax.Array       # bottom
  zf: jax.Array       # top of the front face
  h1: jax.Array       # belt
  zr: jax.Array       # top of the back face
  hr: jax.Array       # roof
  axf: jax.Array      # front axle
  axr: jax.Array      # rear axle
  wheel_r: jax.Array


def _body(p: dict[str, jax.Array]) -> _Body:
  """The profile of `body_type` (piecewise linear between the key shapes)."""
  t = p['body_type']
  w_saloon = jnp.clip(1.0 - 2.0 * t, 0.0, 1.0)
  w_van = jnp.clip(2.0 * t - 1.0, 0.0, 1.0)
  w_hatch = 1.0 - w_saloon - w_van
  key = {k: w_saloon * a + w_hatch * b + w_van * c
         for k, (a, b, c) in _PROFILES.items()}
  length = p['length']
  hs = p['height']
  x_of = lambda frac: (frac - 0.5) * length
  hood, rake = p['hood'], p['rake']
  half_w = p['width'] / 2.0
  return _Body(
      length=length, half_w=half_w, roof_w=half_w - p['tumblehome'],
      xf=0.5 * length, xr=-0.5 * length, xw=x_of(key['xw'] + hood),
      xrf=x_of(key['xrf'] + hood + rake),
      xrb=x_of(jnp.maximum(key['xrb'] - rake, key['xb'] + 0.01)),
      xb=x_of(key['xb']), zc=key['zc'], zf=key['zf'] * hs,
      h1=key['h1'] * hs, zr=key['zr'] * hs, hr=key['hr'] * hs,
      axf=x_of(key['axf']), axr=x_of(key['axr']),
      wheel_r=p['wheel_radius'])


def _camera(p: dict[str, jax.Array], body: _Body
            ) -> tuple[_Camera, jax.Array]:
  """The camera and the unit direction from the car's centre to it."""
  cy, sy = jnp.cos(p['yaw']), jnp.sin(p['yaw'])
  cp, sp = jnp.cos(p['pitch']), jnp.sin(p['pitch'])
  to_cam = _vec(cp * cy, cp * sy, sp)
  dist = p['distance'] * body.length
  pos = _vec(0.0, 0.0, 0.5 * body.hr) + dist[..., None] * to_cam
  right = _vec(-sy, cy, 0.0)
  down = jnp.cross(-to_cam, right)
  # Framing: the car's projected width and height (orthographic estimate,
  # smooth in the yaw, magnified by the perspective of its near half), and
  # their smooth maximum covers `fill` of the image width.
  smooth_abs = lambda a: jnp.sqrt(a * a + 0.0025)
  length, width = body.length, 2.0 * body.half_w
  depth = smooth_abs(length * cy) + smooth_abs(width * sy)
  w_proj = smooth_abs(length * sy) + smooth_abs(width * cy)
  h_proj = 1.05 * (body.hr * cp + depth * sp)
  size = 0.5 * (w_proj + h_proj
                + jnp.sqrt(jnp.square(w_proj - h_proj) + 0.01))
  size = size / (1.0 - 0.5 * depth * cp / dist)
  focal = 2.0 * p['fill'] * dist / size
  return _Camera(pos, right, down, -to_cam, focal, p['shift_x'],
                 p['shift_y']), to_cam


class _Shapes:
  """The polygons and ellipses of a render, evaluated together.

  Every polygon is convex: planar 3-D quads (projected by the camera) or
  image quads, with a per-sample visibility. `evaluate` draws all quads in
  one scan of `_convex_polygon` and all ellipses in one of `_ellipse_sdf`
  ([S, N, R, R] each), so the jitted program stays small (quick to
  compile) and XLA computes every shape once (fused into its consumers, a
  shape would be recomputed by each of them).
  """

  def __init__(self, n: int):
    self._n = n
    self._count = 0
    self._quad_keys: list[int] = []
    self._quad_u: list[jax.Array] = []     # [G, 4, N, 1, 1] each
    self._quad_v: list[jax.Array] = []
    self._quad_shown: list[jax.Array] = []  # [G, N, 1, 1] each
    self._ellipse_keys: list[int] = []
    self._ellipses: list[_Ellipse] = []     # fields [G, N, 1, 1]
    self._ellipse_shown: list[jax.Array] = []

  def _keys(self, count: int) -> list[int]:
    self._count += count
    return list(range(self._count - count, self._count))

  def _shown(self, visible: jax.Array | None, lead: tuple[int, ...]
             ) -> jax.Array:
    shape = lead + (self._n, 1, 1)
    if visible is None:
      return jnp.ones(shape, bool)
    return jnp.broadcast_to(visible, shape)

  def quads(self, cam: _Camera, quads: jax.Array,
            visible: jax.Array | None = None) -> list[int]:
    """Registers 3-D quads [G, 4, N, 1, 1, 3]; returns their keys."""
    u, v = cam.project(quads)
    return self.image_quads(u, v, self._shown(visible, quads.shape[:1]))

  def quad(self, cam: _Camera, points: list[jax.Array],
           visible: jax.Array | None = None) -> int:
    """Registers one 3-D quad of 4 points [N, 1, 1, 3]; returns its key."""
    return self.quads(cam, _quad(points)[None],
                      None if visible is None else visible[None])[0]

  def image_quads(self, u: jax.Array, v: jax.Array,
                  visible: jax.Array | None = None) -> list[int]:
    """Registers image quads (vertices [G, 4, N, 1, 1]); returns keys."""
    shape = u.shape[:2] + (self._n, 1, 1)
    keys = self._keys(u.shape[0])
    self._quad_keys += keys
    self._quad_u.append(jnp.broadcast_to(u, shape))
    self._quad_v.append(jnp.broadcast_to(v, shape))
    self._quad_shown.append(self._shown(visible, u.shape[:1]))
    return keys

  def ellipses(self, e: _Ellipse, visible: jax.Array | None = None
               ) -> list[int]:
    """Registers image ellipses (fields [G, N, 1, 1]); returns keys."""
    shape = e.cu.shape[:1] + (self._n, 1, 1)
    keys = self._keys(shape[0])
    self._ellipse_keys += keys
    self._ellipses.append(_Ellipse(*[jnp.broadcast_to(f, shape) for f in e]))
    self._ellipse_shown.append(self._shown(visible, shape[:1]))
    return keys

  def evaluate(self, x: jax.Array, y: jax.Array) -> list[jax.Array]:
    """SDFs [N, R, R] of the shapes, by key (_BIG where not visible).

    The per-shape constants are computed for all shapes at once, the pixels
    in a scan over the shapes: one small loop body to compile.
    """
    out: dict[int, jax.Array] = {}
    u = jnp.concatenate(self._quad_u)
    v = jnp.concatenate(self._quad_v)
    lines = _half_planes([u[:, i] for i in range(4)],
                         [v[:, i] for i in range(4)],
                         jnp.concatenate(self._quad_shown))
    _, sdf = jax.lax.scan(lambda c, ln: (c, _convex_polygon(x, y, ln)),
                          None, lines)
    out.update({k: sdf[pos] for pos, k in enumerate(self._quad_keys)})
    e = _Ellipse(*[jnp.concatenate(f) for f in zip(*self._ellipses)])
    shown = jnp.concatenate(self._ellipse_shown)
    e = e._replace(cu=jnp.where(shown, e.cu, 1e3))  # far away: absent
    _, sdf = jax.lax.scan(lambda c, k: (c, _ellipse_sdf(x, y, k)), None,
                          _ellipse_coefficients(e))
    out.update({k: sdf[pos] for pos, k in enumerate(self._ellipse_keys)})
    return [out[k] for k in range(self._count)]


# Fixed wave directions and phases of `_noise` (a constant of the module).
_WAVES = np.random.default_rng(20260214).uniform(0.0, 2 * math.pi, (3, 6, 2))


def _noise(x: jax.Array, y: jax.Array, offset_u: jax.Array,
           offset_v: jax.Array, base_freq: float) -> jax.Array:
  """Smooth noise in about [-1, 1]: three octaves of six plane waves.

  The construction of `drawing.smooth_noise` (own fixed directions),
  evaluated separably: sin(a(x) + b(y)) = sin a cos b + cos a sin b with a
  on the pixel row and b on the column, summed over the waves as one
  matrix product [N, R, 2W] x [2W, R] (cheap, and computed once).

  Args:
    x: the pixel grid's x [1, R, R] (`drawing.pixel_grid`).
    y: the pixel grid's y [1, R, R].
    offset_u: the texture's offset along x, scene values [N, 1, 1].
    offset_v: the texture's offset along y, [N, 1, 1].
    base_freq: cycles per image unit of the lowest octave.

  Returns:
    [N, R, R] noise.
  """
  octave = np.arange(_WAVES.shape[0])[:, None]
  freq = (base_freq * 2.0 ** octave * 2 * math.pi).repeat(6, 1).ravel()
  amp = (0.5 ** octave).repeat(6, 1).ravel()
  angle, phase = _WAVES[..., 0].ravel(), _WAVES[..., 1].ravel()
  norm = float((0.5 ** octave).sum() * math.sqrt(6.0 / 2.0))
  a = x[0, 0, :, None] * (freq * np.cos(angle))                # [R, W]
  b = (freq * (np.cos(angle) * offset_u[:, :, 0, None]
               + np.sin(angle) * (y[:, :, 0, None] + offset_v[:, :, 0, None]))
       + phase)                                                 # [N, R, W]
  rows = jnp.concatenate([jnp.sin(a), jnp.cos(a)], -1)
  cols = jnp.concatenate([jnp.cos(b), jnp.sin(b)], -1) * np.tile(amp, 2)
  return jnp.einsum('nyk,xk->nyx', cols, rows) / norm


def _rgbs(rgb: ArrayLike, spec: ArrayLike = 0.0) -> jax.Array:
  """A colour with its specular weight as a 4th channel."""
  rgb = jnp.asarray(rgb, jnp.float32)
  spec = jnp.asarray(spec, jnp.float32)
  spec = jnp.broadcast_to(spec[..., None] if spec.ndim else spec,
                          rgb.shape[:-1] + (1,))
  return jnp.concatenate([rgb, spec], -1)


def _merge(parts: list[tuple]) -> tuple:
  """One layer from non-overlapping (sdf, colour, class) parts.

  Valid for parts that never overlap (visible faces of one convex solid,
  parts side by side on one face): the union's SDF, and at each pixel the
  colour and class of the nearest part, so shared edges have no seam.
  """
  sdf, colour, cls = parts[0]
  for s, c, k in parts[1:]:
    nearer = s < sdf
    colour = jnp.where(nearer[..., None], c, colour)
    cls = jnp.where(nearer, k, cls)
    sdf = jnp.minimum(sdf, s)
  return sdf, colour, cls


def _composite(background: jax.Array, layers: list[tuple], px: float
               ) -> tuple[jax.Array, jax.Array]:
  """`drawing.composite` (same blend, same exact mask) as a scan over layers.

  The layers are stacked first, so XLA computes each layer's SDF and colour
  once: fused into one loop, the painter's chain would be recomputed for
  every output channel (several times slower on CPU).

  Args:
    background: [N, R, R, C] colours under every layer (class 0).
    layers: (sdf [N, R, R], colour broadcasting to [N, R, R, C], class id
      broadcasting to [N, R, R]) bottom to top.
    px: pixels per image unit.

  Returns:
    images [N, R, R, C] clipped to [0, 1]; masks [N, R, R] int32.
  """
  shape = background.shape
  sdf = jnp.stack([jnp.broadcast_to(s, shape[:3]) for s, _, _ in layers])
  colour = jnp.stack([jnp.broadcast_to(c, shape) for _, c, _ in layers])
  cls = jnp.stack([jnp.broadcast_to(jnp.asarray(k, jnp.int32), shape[:3])
                   for _, _, k in layers])

  def blend(carry, layer):
    image, mask = carry
    d, c, k = layer
    alpha = jnp.clip(0.5 - d * px, 0.0, 1.0)[..., None]
    return (image + (c - image) * alpha, jnp.where(d < 0.0, k, mask)), None

  init = (background, jnp.zeros(shape[:3], jnp.int32))
  (image, mask), _ = jax.lax.scan(blend, init, (sdf, colour, cls))
  return jnp.clip(image, 0.0, 1.0), mask


def render(scene: jax.Array,
           resolution: int = RESOLUTION) -> tuple[jax.Array, jax.Array]:
  """Draws cars and their exact part masks.

  Args:
    scene: [N, NUM_PARAMS] scene parameters in [0, 1].
    resolution: output size in pixels.

  Returns:
    images [N, R, R, 3] float32 in [0, 1]; masks [N, R, R] int32 ids of
    `CLASS_NAMES`.
  """
  scene = jnp.asarray(scene, jnp.float32)
  p = _params(scene)
  n = scene.shape[0]
  x, y = drawing.pixel_grid(resolution)
  row, col = x[:, :1, :], y[:, :, :1]   # [1, 1, R], [1, R, 1]
  px = resolution / 2.0
  b = _body(p)
  cam, to_cam = _camera(p, b)
  hw, rw, wr = b.half_w, b.roof_w, b.wheel_r
  cam_x, cam_y = cam.pos[..., 0], cam.pos[..., 1]
  side = jnp.where(cam_y >= 0.0, 1.0, -1.0)    # the side facing the camera
  side_vis = jnp.abs(cam_y) > hw
  front = cam_x >= 0.0                          # the end facing the camera
  end = jnp.where(front, 1.0, -1.0)
  end_vis = jnp.abs(cam_x) > 0.5 * b.length
  fr = lambda a, c: jnp.where(front, a, c)      # front / back choice
  # Image units per metre at the car (softness of shades and shadow).
  metre = cam.focal / (p['distance'] * b.length)
  la = p['yaw'] + p['light_azimuth']
  le = p['light_elevation']
  light = _vec(jnp.cos(le) * jnp.cos(la), jnp.cos(le) * jnp.sin(la),
               jnp.sin(le))
  shapes = _Shapes(n)

  # --- wheels: silhouettes of all four, outer discs of the near two -------
  # Caps in the order front-left, front-right, rear-left, rear-right; the
  # outer ones flush with the body sides, the inner ones a tyre width in.
  axle = jnp.stack([b.axf, b.axf, b.axr, b.axr])
  lr = np.array([1.0, -1.0, 1.0, -1.0], np.float32)[:, None, None, None]
  disc_axes = [_vec(wr, 0.0, 0.0), _vec(0.0, 0.0, wr)]
  caps = _discs(cam, jnp.concatenate([
      _vec(axle, lr * hw, wr), _vec(axle, lr * (hw - _TYRE_WIDTH), wr)]),
                disc_axes)
  outer = _Ellipse(*[f[:4] for f in caps])
  inner = _Ellipse(*[f[4:] for f in caps])
  # The tread: the quad joining the caps' tangent points across the axis.
  tu, tv = inner.cu - outer.cu, inner.cv - outer.cv
  tn = jnp.sqrt(tu * tu + tv * tv + 1e-12)
  nu, nv = -tv / tn, tu / tn
  o1, o2 = outer.support(nu, nv), outer.support(-nu, -nv)
  i1, i2 = inner.support(nu, nv), inner.support(-nu, -nv)
  k_treads = shapes.image_quads(jnp.stack([o1[0], i1[0], i2[0], o2[0]], 1),
                                jnp.stack([o1[1], i1[1], i2[1], o2[1]], 1))
  k_caps = shapes.ellipses(caps)
  near_caps = _discs(cam, _vec(jnp.stack([b.axf, b.axr]), side * hw, wr),
                     disc_axes)
  k_rims = shapes.ellipses(near_caps.scaled(_RIM), side_vis)
  k_arches = shapes.ellipses(near_caps.scaled(_ARCH))
  # Mirrors: ellipsoids at the A-pillar bases, the near one first.
  k_mirrors = shapes.ellipses(_discs(
      cam, _vec(b.xw - 0.12, jnp.stack([side, -side]) * (hw + 0.09),
                b.h1 + 0.07),
      [_vec(0.10, 0.0, 0.0), _vec(0.0, 0.09, 0.0), _vec(0.0, 0.0, 0.075)]))
  # The car's soft shadow: an ellipse on the ground, away from the light.
  flat = np.array([1.0, 1.0, 0.0], np.float32)
  k_shadow = shapes.ellipses(_discs(
      cam, (-0.25 * _normalize(light * flat) * flat)[None],
      [_vec(0.5 * b.length + 0.2, 0.0, 0.0), _vec(0.0, hw + 0.2, 0.0)]))[0]

  # --- lower body: near side, near end, hood, trunk deck -------------------
  ys = side * hw

  def side_quad(x0, x1, z0, z1):
    return shapes.quad(cam, [_vec(x0, ys, z0), _vec(x1, ys, z0),
                             _vec(x1, ys, z1), _vec(x0, ys, z1)], side_vis)

  # The side hexagon as the union of three quads of its vertices, each
  # internal edge a diagonal (interior) of another one: no seam.
  hexagon = [_vec(a, ys, c) for a, c in (
      (b.xf, b.zc), (b.xf, b.zf), (b.xw, b.h1), (b.xb, b.h1), (b.xr, b.zr),
      (b.xr, b.zc))]
  k_sides = shapes.quads(cam, jnp.stack([
      _quad([hexagon[i] for i in q])
      for q in ((0, 1, 2, 3), (2, 3, 4, 5), (0, 2, 3, 5))]), side_vis[None])
  k_door = side_quad(jnp.maximum(b.axr + 1.25 * wr, b.xb + 0.05),
                     jnp.minimum(b.axf - 1.25 * wr, b.xw - 0.02),
                     b.zc + 0.08, b.h1 - 0.04)
  xe = end * 0.5 * b.length
  z_top = fr(b.zf, b.zr)

  def end_quad(y0, y1, z0, z1, visible=end_vis):
    return shapes.quad(cam, [_vec(xe, y0, z0), _vec(xe, y1, z0),
                             _vec(xe, y1, z1), _vec(xe, y0, z1)], visible)

  bumper_h = 0.17
  k_end = end_quad(-hw, hw, b.zc, z_top)
  k_bumper = end_quad(-hw, hw, b.zc, b.zc + bumper_h)
  # Head and tail lamps (width on the end face, height, top): they fill the
  # end face's corners and wrap round onto the sides (0.24 m), as bumpers.
  ls = p['lamp_shape']
  head = (0.24 + 0.10 * ls, 0.15 + 0.04 * ls, b.zf - 0.06)
  tail = (0.22 + 0.12 * ls, 0.17 + 0.05 * ls, b.zr - 0.05)
  lamp_w, lamp_h, lamp_top = (fr(a, c) for a, c in zip(head, tail))
  k_lamps = [shapes.quad(cam, [
      _vec(xe, s * hw, lamp_top - lamp_h),
      _vec(xe, s * (hw - lamp_w + 0.06 * ls), lamp_top - lamp_h),
      _vec(xe, s * (hw - lamp_w), lamp_top),
      _vec(xe, s * hw, lamp_top)], end_vis) for s in (1.0, -1.0)]
  k_head_wrap = side_quad(b.xf - 0.24, b.xf, head[2] - head[1], head[2])
  k_tail_wrap = side_quad(b.xr, b.xr + 0.24, tail[2] - tail[1], tail[2])
  k_front_wrap = side_quad(b.xf - 0.35, b.xf, b.zc, b.zc + bumper_h)
  k_rear_wrap = side_quad(b.xr, b.xr + 0.35, b.zc, b.zc + bumper_h)
  # Centre: the grille (front) or the trunk panel (back), the plate on it.
  inner_w = hw - lamp_w - fr(0.05, 0.02)
  k_centre = end_quad(-inner_w, inner_w, b.zc + bumper_h + fr(0.03, 0.0),
                      fr(lamp_top - 0.02, z_top))
  plate_z = b.zc + bumper_h + 0.03
  k_plate = end_quad(-0.26, 0.26, plate_z, plate_z + 0.15, end_vis & ~front)
  # Hood and deck, counter-clockwise seen from outside (normals up).
  tops = jnp.stack([
      _quad([_vec(b.xf, -hw, b.zf), _vec(b.xf, hw, b.zf),
             _vec(b.xw, hw, b.h1), _vec(b.xw, -hw, b.h1)]),
      _quad([_vec(b.xb, -hw, b.h1), _vec(b.xb, hw, b.h1),
             _vec(b.xr, hw, b.zr), _vec(b.xr, -hw, b.zr)])])
  k_hood, k_deck = shapes.quads(cam, tops, cam.facing(tops))

  # --- cabin ---------------------------------------------------------------
  a0l, a0r = _vec(b.xw, hw, b.h1), _vec(b.xw, -hw, b.h1)
  c0l, c0r = _vec(b.xb, hw, b.h1), _vec(b.xb, -hw, b.h1)
  a1l, a1r = _vec(b.xrf, rw, b.hr), _vec(b.xrf, -rw, b.hr)
  c1l, c1r = _vec(b.xrb, rw, b.hr), _vec(b.xrb, -rw, b.hr)
  # Windshield, roof, back window, left, right; counter-clockwise from
  # outside (the sides from the front base: base, base, roof, roof).
  cabin = jnp.stack([_quad(q) for q in (
      [a0r, a0l, a1l, a1r], [a1r, a1l, c1l, c1r], [c1r, c1l, c0l, c0r],
      [a0l, c0l, c1l, a1l], [c0r, a0r, a1r, c1r])])
  cabin_vis = cam.facing(cabin)                       # [5, N, 1, 1]
  k_cabin = shapes.quads(cam, cabin, cabin_vis)
  k_glass = shapes.quads(cam, jnp.stack([
      _inset(cabin[0], 0.06, 0.94, 0.05, 0.93),
      _inset(cabin[2], 0.08, 0.92, 0.08, 0.92)]), cabin_vis[0:3:2])
  # Side windows: the side quads in (front base, back base, back roof,
  # front roof) order, inset; the B-pillar (body) splits each pane.
  sides = jnp.stack([cabin[3], cabin[4][jnp.array([1, 0, 3, 2])]])
  panes = _inset(sides, 0.0, 1.0, 0.10, 0.86)
  shift = np.array([[0.09, 0, 0], [-0.09, 0, 0], [-0.09, 0, 0],
                    [0.09, 0, 0]], np.float32)[:, None, None, None, :]
  panes = panes - shift
  k_windows = shapes.quads(cam, panes, cabin_vis[3:])
  k_pillars = shapes.quads(cam, _inset(panes, 0.42, 0.47, -0.06, 1.06),
                           cabin_vis[3:])

  sdf = shapes.evaluate(x, y)
  union = lambda keys: functools.reduce(jnp.minimum, [sdf[k] for k in keys])

  # --- colours: RGB and a specular weight (the highlight is added last) ---
  half = _normalize(light + to_cam)
  paint = drawing.ramp(_PAINT, scene[:, _INDEX['colour']])
  paint = (paint * p['paint_light'][:, 0])[:, None, None]  # [N, 1, 1, 3]
  side_n = _vec(0.0, side, 0.0)
  face_normals = jnp.concatenate([
      jnp.stack([side_n, _vec(end, 0.0, 0.0),
                 _normalize(_vec(0.0, 0.0, 0.3) + 0.95 * side_n)]),
      _normalize(jnp.cross(tops[:, 2] - tops[:, 0], tops[:, 3] - tops[:, 1])),
      _normalize(jnp.cross(cabin[:, 2] - cabin[:, 0],
                           cabin[:, 3] - cabin[:, 1]))])
  lam = jnp.maximum(_dot(face_normals, light), 0.0)
  k = 0.30 + 0.62 * lam + 0.14 * (0.5 + 0.5 * face_normals[..., 2])
  spec = 0.55 * jnp.maximum(_dot(face_normals, half), 0.0) ** 8
  faces = _rgbs(paint * k[..., None], spec)           # [10, N, 1, 1, 4]
  side_col, end_col, mirror_col = faces[0], faces[1], faces[2] * 0.8
  hood_col, deck_col = faces[3], faces[4]
  cabin_col = faces[5:]
  arch = jnp.clip(0.5 - union(k_arches) * px, 0.0, 1.0)[..., None]
  trim = p['trim'][..., None]
  black = np.array([0.10, 0.10, 0.11, 0.1], np.float32)
  head_col = _rgbs(np.array([0.92, 0.94, 0.97], np.float32), 0.2)
  tail_col = _rgbs(np.array([0.80, 0.08, 0.06], np.float32), 0.2)
  grille_col = _rgbs(np.array([0.10, 0.10, 0.11], np.float32)
                     * (1.0 - 0.5 * col)[..., None])
  sky_top = drawing.ramp(_SKY, scene[:, _INDEX['sky']])[:, None, None]
  # Glass: dark, a soft diagonal reflection band sliding with the view.
  refl = jnp.clip(1.0 - 0.9 * jnp.abs(1.6 * (0.8 * x + 0.6 * y)
                                      + 1.2 * jnp.sin(p['yaw'])), 0.0, 1.0)
  glass_col = drawing.ramp(_GLASS, scene[:, _INDEX['glass_tint']])
  glass = _rgbs(glass_col[:, None, None]
                + (0.05 + 0.17 * refl)[..., None] * sky_top, 0.2)
  rim_sdf = union(k_rims)
  rim_rel = jnp.clip(-rim_sdf / (0.5 * _RIM * wr * metre), 0.0, 1.0)
  rim_tone = (0.35 + 0.45 * p['rim_tone']) * (
      1.05 - 0.45 * jnp.square(rim_rel - 0.45) - 0.25 * jnp.square(rim_rel))
  rim_col = _rgbs(rim_tone[..., None]
                  * np.array([1.0, 1.0, 1.04], np.float32), 0.3)
  tyre_col = _rgbs(np.array([0.07, 0.07, 0.08], np.float32)
                   * (1.0 + 0.3 * (0.5 - 0.5 * col))[..., None])

  # --- background and ground -----------------------------------------------
  # The ground plane ends `horizon` camera distances away (level with the
  # camera's right axis, so its edge is an image row).
  edge = p['horizon'] * p['distance'] * b.length
  v_edge = cam.sv + cam.focal * jnp.tan(
      jnp.arctan(cam.pos[..., 2] / edge) - p['pitch'])
  noise = _noise(x, y, p['texture_u'], p['texture_v'], 1.2)[..., None]
  sky_low = sky_top * 0.6 + 0.4
  t_sky = jnp.clip((v_edge - col) / 1.5, 0.0, 1.0)[..., None]
  sky = sky_low * (1.0 - t_sky) + sky_top * t_sky
  wall = drawing.ramp(_WALL, scene[:, _INDEX['ground_tone']])[:, None, None]
  # Buildings: soft blocks from clipped triangle waves along the row.
  phase = p['skyline_phase'] / (2 * math.pi)
  tri = lambda t: 2.0 * jnp.abs(t - jnp.floor(t) - 0.5)   # 0 .. 1
  blocks = jnp.clip(3.0 * tri(0.55 * row + phase) - 1.0, 0.0, 1.0)
  blocks2 = jnp.clip(3.0 * tri(0.31 * row - 2.0 * phase) - 1.5, 0.0, 1.0)
  skyline = p['skyline_height'] * (0.45 + 0.35 * blocks + 0.2 * blocks2)
  build = jnp.clip(0.5 + (y - (v_edge - skyline)) * 6.0, 0.0, 1.0)
  build = (build * build * (3.0 - 2.0 * build))[..., None]
  bg = sky * (1.0 - build) + wall * build * (1.0 + 0.05 * noise)
  road = drawing.ramp(_ROAD, scene[:, _INDEX['ground_tone']])[:, None, None]
  shadow = jnp.clip(0.5 - sdf[k_shadow] / (0.5 * metre), 0.0, 1.0)
  shadow = 1.0 - 0.5 * shadow * shadow * (3.0 - 2.0 * shadow)
  haze = jnp.clip((col - v_edge) * 1.5, 0.0, 1.0)[..., None]
  ground = road * (1.0 + 0.06 * noise) * shadow[..., None]
  ground = ground * (0.8 + 0.2 * haze) + (1.0 - haze) * 0.2 * sky_low

  # --- layers, bottom to top ----------------------------------------------
  ids = _ID
  by_end = lambda a, c: jnp.where(front, ids[a], ids[c])
  tyres = functools.reduce(jnp.minimum, [
      jnp.minimum(jnp.minimum(sdf[k_caps[i]], sdf[k_caps[4 + i]]),
                  sdf[k_treads[i]]) for i in range(4)])
  # The near side's outer discs (front, rear): left or right caps.
  rings = jnp.where(side > 0, jnp.minimum(sdf[k_caps[0]], sdf[k_caps[2]]),
                    jnp.minimum(sdf[k_caps[1]], sdf[k_caps[3]]))
  near_mirror, far_mirror = sdf[k_mirrors[0]], sdf[k_mirrors[1]]
  lower_faces = _merge([
      (union(k_sides), side_col * (1.0 - 0.6 * arch), ids['body']),
      (sdf[k_end], end_col, ids['body']),
      (sdf[k_hood], hood_col, ids['hood']),
      (sdf[k_deck], deck_col, ids['trunk'])])
  lower_parts = _merge([
      (sdf[k_door], side_col * 0.94, ids['door']),
      (sdf[k_centre], jnp.where(front[..., None], grille_col, end_col * 0.97),
       by_end('grille', 'trunk'))])
  trimmed = lambda c: c * (1.0 - trim) + trim * black
  end_parts = _merge([
      (union(k_lamps), jnp.where(front[..., None], head_col, tail_col),
       by_end('headlight', 'tail_light')),
      (sdf[k_plate], _rgbs(np.array([0.90, 0.90, 0.86], np.float32), 0.1),
       ids['licence_plate']),
      (sdf[k_bumper], trimmed(end_col), by_end('front_bumper',
                                               'rear_bumper')),
      (sdf[k_head_wrap], head_col, ids['headlight']),
      (sdf[k_tail_wrap], tail_col, ids['tail_light']),
      (sdf[k_front_wrap], trimmed(side_col), ids['front_bumper']),
      (sdf[k_rear_wrap], trimmed(side_col), ids['rear_bumper'])])
  cabin_faces = _merge([
      (sdf[k], cabin_col[i], ids['roof' if i == 1 else 'body'])
      for i, k in enumerate(k_cabin)])
  glass_sdf, _, glass_cls = _merge([
      (union(k_windows), glass, ids['side_window']),
      (sdf[k_glass[0]], glass, ids['windshield']),
      (sdf[k_glass[1]], glass, ids['back_window'])])
  pillars = _merge([(sdf[k], cabin_col[3 + i], ids['body'])
                    for i, k in enumerate(k_pillars)])
  layers = [
      (v_edge - col + 0.0 * row, _rgbs(ground), ids['ground']),
      (tyres, tyre_col, ids['tyre']),
      (jnp.minimum(far_mirror, jnp.where(side_vis, _BIG, near_mirror)),
       mirror_col, ids['mirror']),
      lower_faces,
      lower_parts,
      end_parts,
      cabin_faces,
      (glass_sdf, glass, glass_cls),
      pillars,
      (jnp.where(side_vis, rings, _BIG), tyre_col, ids['tyre']),
      (rim_sdf, rim_col, ids['rim']),
      (jnp.where(side_vis, near_mirror, _BIG), mirror_col, ids['mirror']),
  ]
  background = jnp.broadcast_to(_rgbs(bg), (n, resolution, resolution, 4))
  image, mask = _composite(background, layers, px)
  # The specular blob, around the highlight of the car's bounding ellipsoid.
  semi = jnp.stack([0.5 * b.length, hw, 0.5 * b.hr], -1)
  peak = half * semi * semi
  peak = peak / jnp.sqrt(_dot(peak, half) + 1e-12)[..., None]
  pu, pv = cam.project(peak + _vec(0.0, 0.0, 0.5 * b.hr))
  sigma = 0.22 * b.length * metre
  blob = jnp.exp(-(jnp.square(x - pu) + jnp.square(y - pv))
                 / (2.0 * sigma * sigma))
  image = image[..., :3] + (image[..., 3] * blob)[..., None]
  return jnp.clip(image, 0.0, 1.0), mask
