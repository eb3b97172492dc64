"""Procedural fine-grained faces with exact part masks, 128 px, 21 classes.

The `faces_fine` renderer: a face domain in the spirit of FFHQ-34 and
CelebAMask-HQ, with separate left and right parts, expressions, head yaw and
roll, hair styles, accessories, neck, clothes and a cluttered background.

Scene map
---------
A scene is a vector of named parameters in [0, 1] (`PARAMS`). The map from
the generator's latent z ~ N(0, I) to a scene is

    scene[k] = Phi(z[k]),   k = 0 .. NUM_PARAMS - 1,

Phi the standard normal CDF (`scene_from_latent`): one latent dimension per
parameter, each scene value uniform on [0, 1]. `render` maps scene value k
linearly onto the physical range `PARAMS[name] = (lo, hi)`. Lengths are in
face units (1 = half the image width at scale 1), angles in radians, v
(vertical) points down. Three accessories are switched by a threshold, so
each appears with a fixed probability under the uniform scene map:

* glasses iff scene['glasses'] > 0.9 (P = 0.10);
* hat iff scene['hat'] > 0.85 (P = 0.15);
* earrings (both ears) iff scene['earrings'] > 0.7 (P = 0.30).

Everything else is a smooth function of the scene; nothing is random.

Geometry
--------
The head is a stack of horizontal elliptical cross-sections (half-width
`a * s(v)`, half-depth `1.15 a * s(v)`, s an egg profile narrowed at the
jaw, the chin pushed forward), turned by the yaw about the vertical axis,
rolled in the image plane and projected orthographically. Positive yaw
turns the face towards the person's left (the image's right). Face features
(eyes, irises, brows, lips, mouth, skin texture, hairline) are drawn in
surface coordinates (S, v): the pixel's azimuth on the cross-section,
recovered analytically, times the cross-section's radius; so they shift
with the yaw and foreshorten by the cosine of their azimuth relative to the
view. Protruding or detached parts (nose, nostrils, ears, earrings,
glasses, hat, hair mass) are placed as 3D points and projected. The nose
tip, further forward than the nostrils, shifts more and can hide the
far nostril; the far ear slides behind the head silhouette and
disappears, the near ear widens and is drawn over the cheek.

Classes
-------
`CLASS_NAMES[k]` is class k. Left and right are the PERSON's: the person's
left eye is on the image's right when they face the camera, and a class
follows the anatomy under any yaw, never the image side.

 0 background  everything behind the person (texture, window, shelf, blob);
 1 skin        the face and the side of the head (not the ears or neck);
 2 neck        the neck, under the chin and above the clothes;
 3 clothes     shoulders and the collar band along the neckline;
 4 hair        hair behind the head, long hair over the shoulders, the
               hair in front (crown, fringe, side hair over the ears when
               long and not tucked, an optional lock over one eye);
 5 hat         crown and band of a beanie, on top of everything;
 6 l_ear, 7 r_ear   the ears; each is drawn twice, under the skin (only
               what sticks out of the head silhouette shows) and over it
               (revealed from its outer edge as the head turns it towards
               the camera);
 8 earring     a drop under each ear lobe, with its ear's occlusion;
 9 l_brow, 10 r_brow  the eyebrows (over the eyes, under the hair);
 11 l_eye, 12 r_eye   the eye opening (sclera and the rest of the eye);
 13 l_iris, 14 r_iris the iris (and pupil), clipped to the eye opening;
 15 nose        bridge, wings and tip;
 16 nostrils    both nostrils (one class), between the nose wings and the
               nose tip, which can cover them;
 17 upper_lip, 18 lower_lip  the lips;
 19 mouth       the mouth interior and teeth, only when the mouth is open;
 20 glasses     frames, bridge, temple arms AND the lenses: the lenses are
               semi-transparent in the image (the eyes show through) while
               the mask says glasses. Glasses lie over the eyes, brows and
               hair; only the hat is above them.

Painter's order (bottom to top), the mask being the topmost layer whose
SDF is negative at the pixel centre:

    background, hair behind the head, neck, clothes, collar, long hair
    over the shoulders, ears and earrings (under the skin), skin, ears and
    earrings (over the skin), nose, nostrils, nose tip, mouth interior,
    lips, eyes, irises, brows, front hair, glasses (lenses, frames), hat

Shading and texture
-------------------
A key light (azimuth `light_azimuth`, from above) shades skin, neck, hair,
clothes and hat Lambert-like from the normals of their ellipsoids; the
background's window sits on the light's side. Skin carries smooth noise of
amplitude 0.03 in surface coordinates, hair carries strands (a sinusoid of
the angle around the crown, period >= 6 px, fading near the crown), the
background smooth noise and soft-edged shapes. Edges are anti-aliased over
about one pixel; there are no one-pixel lines.

Label sets
----------
`LABEL_SETS['fine']` is the identity on `CLASS_NAMES`;
`LABEL_SETS['glasses']` maps `glasses` to 1 and every other class to 0.

All functions are jnp, batched over the leading axis and jittable (the
resolution static).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_seg_jax.domains import drawing

__all__ = ['RESOLUTION', 'CLASS_NAMES', 'PARAMS', 'NUM_PARAMS',
           'LABEL_SETS', 'GLASSES_CLASS', 'scene_from_latent', 'render']

RESOLUTION = 128

CLASS_NAMES = ('background', 'skin', 'neck', 'clothes', 'hair', 'hat',
               'l_ear', 'r_ear', 'earring', 'l_brow', 'r_brow', 'l_eye',
               'r_eye', 'l_iris', 'r_iris', 'nose', 'nostrils', 'upper_lip',
               'lower_lip', 'mouth', 'glasses')
_ID = {name: i for i, name in enumerate(CLASS_NAMES)}
GLASSES_CLASS = _ID['glasses']

LABEL_SETS = {
    'fine': (CLASS_NAMES, np.arange(len(CLASS_NAMES), dtype=np.int32)),
    'glasses': (('background', 'glasses'),
                (np.arange(len(CLASS_NAMES)) == GLASSES_CLASS).astype(
                    np.int32)),
}

# name: (lo, hi) of the physical value that scene value 0 .. 1 maps to.
PARAMS = {
    # Pose.
    'center_x': (-0.07, 0.07),
    'center_y': (-0.05, 0.05),
    'scale': (0.98, 1.12),
    'yaw': (-0.61, 0.61),              # about +-35 degrees; > 0: to the
                                       # person's left (image right)
    'roll': (-0.175, 0.175),           # about +-10 degrees
    # Face shape and skin.
    'face_width': (0.42, 0.48),        # half-width at the cheekbones
    'face_length': (0.58, 0.66),       # half-height of the face ellipse
    'jaw': (0.05, 0.45),               # 0 round .. narrow chin
    'skin_tone': (0.0, 1.0),           # light .. dark
    'blush': (0.0, 1.0),
    'skin_tex_u': (0.0, 4.0),          # texture offsets
    'skin_tex_v': (0.0, 4.0),
    'light_azimuth': (-0.9, 0.9),      # > 0: light from the image right
    # Eyes and brows.
    'eye_height': (-0.11, -0.07),
    'eye_spacing': (0.155, 0.185),     # centre to midline
    'eye_width': (0.078, 0.092),       # half-width
    'eye_open': (0.38, 0.64),          # half-height / half-width
    'iris_hue': (0.0, 1.0),
    'gaze_x': (-1.0, 1.0),
    'gaze_y': (-1.0, 1.0),
    'brow_thickness': (0.024, 0.036),  # half-thickness
    'brow_length': (0.075, 0.1),       # half-length
    'brow_raise': (0.0, 0.05),
    'brow_tilt': (-0.25, 0.25),        # > 0: inner ends down (frown)
    'brow_arch': (0.5, 3.0),
    # Nose.
    'nose_length': (0.22, 0.28),       # eye line to nose tip
    'nose_width': (0.05, 0.068),       # half-width of the wings
    'nose_depth': (0.08, 0.14),        # how far the tip sticks out
    # Mouth.
    'mouth_width': (0.11, 0.15),       # half-width
    'smile': (-0.5, 1.0),              # corner lift
    'mouth_open': (0.0, 1.0),          # open iff > 0.45
    'upper_lip': (0.040, 0.056),       # thickness at the centre
    'lower_lip': (0.048, 0.070),
    'lip_colour': (0.0, 1.0),          # natural .. red
    # Ears.
    'ear_size': (0.9, 1.15),
    # Hair.
    'hair_hue': (0.0, 1.0),            # black, browns, auburn, blond, grey
    'hair_light': (0.0, 1.0),
    'hair_length': (0.0, 1.0),         # 0 short .. 1 past the shoulders
    'hair_volume': (0.0, 1.0),
    'fringe': (0.0, 1.0),              # 0 high hairline .. 1 low fringe
    'hair_part': (-1.0, 1.0),          # side of the part (and the lock)
    'lock': (0.0, 1.0),                # a lock over one eye iff > 0.75
    'ear_cover': (0.0, 1.0),           # side hair down over the ears
    'strand_phase': (0.0, 2 * math.pi),
    # Accessories.
    'glasses': (0.0, 1.0),             # drawn iff > 0.9
    'frame_hue': (0.0, 1.0),
    'lens_shape': (0.0, 1.0),          # 0 round .. 1 rectangular
    'lens_tint': (0.0, 1.0),
    'hat': (0.0, 1.0),                 # drawn iff > 0.85
    'hat_hue': (0.0, 1.0),
    'hat_depth': (0.0, 1.0),
    'earrings': (0.0, 1.0),            # drawn iff > 0.7
    'earring_hue': (0.0, 1.0),
    'earring_drop': (0.0, 1.0),
    # Neck and clothes.
    'neck_width': (0.16, 0.20),        # half-width
    'shoulder_width': (0.85, 1.05),
    'clothes_hue': (0.0, 1.0),
    'clothes_light': (0.0, 1.0),
    'neckline': (0.0, 1.0),            # shallow .. deep
    'collar': (0.0, 1.0),              # collar contrast
    # Background.
    'bg_hue_a': (0.0, 1.0),
    'bg_hue_b': (0.0, 1.0),
    'bg_angle': (0.0, 2 * math.pi),
    'bg_tex_u': (0.0, 4.0),
    'bg_tex_v': (0.0, 4.0),
    'window': (0.0, 1.0),              # window brightness
    'window_y': (-0.7, -0.1),
    'shelf_y': (-0.2, 0.8),
    'shelf_hue': (0.0, 1.0),
    'blob_x': (-0.9, 0.9),
    'blob_y': (-0.6, 0.9),
    'blob_hue': (0.0, 1.0),
    'blob_size': (0.12, 0.3),
}
NUM_PARAMS = len(PARAMS)
_INDEX = {name: i for i, name in enumerate(PARAMS)}

_GLASSES_ON = 0.9
_HAT_ON = 0.85
_EARRINGS_ON = 0.7
_FAR = 1e3  # the SDF of an absent layer

_SKIN = np.array([[1.00, 0.86, 0.76], [0.96, 0.77, 0.64], [0.86, 0.64, 0.48],
                  [0.70, 0.49, 0.35], [0.50, 0.33, 0.22], [0.34, 0.22, 0.15]],
                 np.float32)
_HAIR = np.array([[0.07, 0.06, 0.06], [0.22, 0.14, 0.09], [0.40, 0.25, 0.14],
                  [0.55, 0.24, 0.10], [0.80, 0.64, 0.38], [0.62, 0.60, 0.58]],
                 np.float32)
_IRIS = np.array([[0.25, 0.14, 0.07], [0.42, 0.26, 0.12], [0.45, 0.42, 0.18],
                  [0.25, 0.45, 0.28], [0.28, 0.48, 0.72], [0.50, 0.55, 0.60]],
                 np.float32)
_LIPS = np.array([[0.72, 0.45, 0.42], [0.75, 0.35, 0.38], [0.72, 0.16, 0.22]],
                 np.float32)
_BG = np.array([[0.55, 0.68, 0.85], [0.62, 0.80, 0.66], [0.93, 0.84, 0.60],
                [0.86, 0.62, 0.60], [0.68, 0.60, 0.82], [0.82, 0.80, 0.76],
                [0.35, 0.40, 0.45]], np.float32)
_CLOTHES = np.array([[0.12, 0.16, 0.32], [0.10, 0.10, 0.11], [0.88, 0.88, 0.86],
                     [0.70, 0.14, 0.16], [0.18, 0.42, 0.26], [0.50, 0.50, 0.52],
                     [0.80, 0.62, 0.20], [0.30, 0.45, 0.65]], np.float32)
_HAT = np.array([[0.70, 0.12, 0.12], [0.12, 0.18, 0.38], [0.12, 0.12, 0.12],
                 [0.78, 0.70, 0.55], [0.20, 0.40, 0.22], [0.85, 0.55, 0.15]],
                np.float32)
_FRAME = np.array([[0.06, 0.06, 0.07], [0.38, 0.20, 0.10], [0.80, 0.66, 0.30],
                   [0.70, 0.72, 0.75], [0.60, 0.10, 0.12]], np.float32)
_METAL = np.array([[0.95, 0.78, 0.30], [0.85, 0.86, 0.90], [0.96, 0.93, 0.88],
                   [0.80, 0.12, 0.20], [0.10, 0.60, 0.65]], np.float32)
_SHELF = np.array([[0.45, 0.30, 0.18], [0.75, 0.62, 0.45], [0.30, 0.30, 0.32],
                   [0.90, 0.90, 0.88]], np.float32)
_BLOB = np.array([[0.25, 0.50, 0.22], [0.85, 0.45, 0.20], [0.30, 0.35, 0.70],
                  [0.90, 0.85, 0.40], [0.55, 0.25, 0.45]], np.float32)


def scene_from_latent(z: jax.Array) -> jax.Array:
  """The map f: z [N, NUM_PARAMS] -> scene [N, NUM_PARAMS] in [0, 1]."""
  return drawing.uniform_scene(z, NUM_PARAMS)


class _Head(NamedTuple):
  """The head's cross-section stack, per sample ([N, 1, 1] each).

  Attributes:
    a: half-width of the widest cross-section.
    c: its half-depth.
    b: half-height of the face ellipse.
    vc: vertical centre of the face ellipse.
    jaw: narrowing of the lower face.
    zc: how far the chin sits forward of the cross-section centres.
    sin_yaw: sin of the yaw.
    cos_yaw: cos of the yaw.
    phi: the azimuth shift of the projected cross-section.
    wmax: projected half-width of the widest cross-section.
  """

  a: jax.Array
  c: jax.Array
  b: jax.Array
  vc: jax.Array
  jaw: jax.Array
  zc: jax.Array
  sin_yaw: jax.Array
  cos_yaw: jax.Array
  phi: jax.Array
  wmax: jax.Array


def _make_head(a, b, jaw, yaw) -> _Head:
  c = 1.15 * a
  sy, cy = jnp.sin(yaw), jnp.cos(yaw)
  return _Head(a=a, c=c, b=b, vc=jnp.full_like(a, 0.06), jaw=jaw,
               zc=jnp.full_like(a, 0.06), sin_yaw=sy, cos_yaw=cy,
               phi=jnp.arctan2(c * sy, a * cy),
               wmax=jnp.sqrt(jnp.square(a * cy) + jnp.square(c * sy)))


def _profile(head: _Head, v):
  """(s, g, z0): cross-section scale, jaw factor and chin offset at v."""
  rel = (v - head.vc) / head.b
  low = jnp.clip(rel, 0.0, 1.0)
  g = 1.0 - head.jaw * jnp.square(low)
  s = jnp.sqrt(jnp.clip(1.0 - jnp.square(rel), 0.0, 1.0)) * g
  return s, g, head.zc * low


def _project(head: _Head, theta, v, d: Any = 0.0, k: Any = 0.0):
  """Image u and depth of the head point at azimuth theta, height v.

  The point lies on the cross-section at v scaled by (1 + k), then moved
  forward by d (face units).
  """
  s, _, z0 = _profile(head, v)
  x = (1.0 + k) * s * head.a * jnp.sin(theta)
  z = (1.0 + k) * s * head.c * jnp.cos(theta) + z0 + d
  u = x * head.cos_yaw + z * head.sin_yaw
  depth = -x * head.sin_yaw + z * head.cos_yaw
  return u, depth


def _surface(head: _Head, u, v):
  """Surface coordinates of the front of the head at image (u, v).

  Returns:
    (S, theta, F): the arc coordinate S = radius * azimuth (~ u when
    frontal), the azimuth, and du/dS (the foreshortening, for SDFs).
  """
  s, _, z0 = _profile(head, v)
  w = jnp.maximum(head.wmax * s, 1e-3)
  t = jnp.clip((u - z0 * head.sin_yaw) / w, -0.995, 0.995)
  theta = jnp.arcsin(t) - head.phi
  fore = head.wmax / head.a * jnp.sqrt(1.0 - jnp.square(t))
  return head.a * s * theta, theta, jnp.maximum(fore, 0.15)


def _value(scene: jax.Array, name: str) -> jax.Array:
  return drawing.param_value(scene, _INDEX[name], *PARAMS[name])


def _rotate(x, y, angle, pu, pv):
  """Rotates (x, y) by -angle about (pu, pv): the frame of a rolled part."""
  c, s = jnp.cos(angle), jnp.sin(angle)
  dx, dy = x - pu, y - pv
  return pu + c * dx + s * dy, pv - s * dx + c * dy


def _segment(u, v, u0, v0, u1, v1, radius, radius1=None):
  """SDF of a capsule from (u0, v0) to (u1, v1), optionally tapered.

  The radius goes linearly from `radius` to `radius1` (approximate SDF).
  """
  eu, ev = u1 - u0, v1 - v0
  wu, wv = u - u0, v - v0
  t = jnp.clip((wu * eu + wv * ev) / (eu * eu + ev * ev + 1e-9), 0.0, 1.0)
  if radius1 is not None:
    radius = radius + (radius1 - radius) * t
  return jnp.sqrt(jnp.square(wu - eu * t) + jnp.square(wv - ev * t)
                  + 1e-12) - radius


def _soft(sdf, width):
  """1 inside, 0 outside, a linear ramp `width` wide across the edge."""
  return jnp.clip(0.5 - sdf / width, 0.0, 1.0)


def _gate(present, sdf):
  """The SDF where `present`, else far away (an absent layer)."""
  return jnp.where(present, sdf, _FAR)


def _rgb(colour):
  """[N, 3] colours -> [N, 1, 1, 3]."""
  return colour[:, None, None, :]


def _composite(background, layers, px):
  """Painter's-order compositing with per-layer opacity and an exact mask.

  Like `drawing.composite`, with a fourth entry per layer: its opacity (a
  translucent layer still owns the mask where its SDF is negative). The
  colour planes are composited separately (on a CPU, XLA then computes the
  layers' alphas once per pixel rather than once per channel).
  """
  sdfs = _computed_once(*[sdf for sdf, _, _, _ in layers])
  layers = [(sdf, colour, cls, opacity)
            for sdf, (_, colour, cls, opacity) in zip(sdfs, layers)]
  planes = [background[..., c] for c in range(3)]
  mask = jnp.zeros(background.shape[:3], jnp.int32)
  for sdf, colour, cls, opacity in layers:
    alpha = jnp.clip(0.5 - sdf * px, 0.0, 1.0) * opacity
    planes = [p + (colour[..., c] - p) * alpha for c, p in enumerate(planes)]
    mask = jnp.where(sdf < 0.0, cls, mask)
  return jnp.clip(jnp.stack(planes, axis=-1), 0.0, 1.0), mask


def _computed_once(*fields):
  """The fields, each computed once (for the CPU's sake).

  XLA on a CPU fuses a chain of per-pixel work into each of its consumers
  and computes it again in each (noise in every colour channel, every SDF
  once per channel and again for the mask): the render takes half as long
  again. The operands of a conditional are computed (once) before it runs,
  so the fields pass through one whose predicate is true unless they are
  not finite (then they become NaN, which they nearly are).
  """
  pred = jnp.isfinite(fields[0].ravel()[0])
  return jax.lax.cond(pred, lambda f: f,
                      lambda f: tuple(x * jnp.nan for x in f), fields)


def _lambert(nx, ny, nz, light, ambient, diffuse):
  """Shade [..., 1] of a normal under the key light (lx, ly, lz)."""
  lx, ly, lz = light
  dot = jnp.maximum(nx * lx + ny * ly + nz * lz, 0.0)
  return (ambient + diffuse * dot)[..., None]


def _ellipsoid_normal(u, v, cu, cv, ru, rv):
  nx = jnp.clip((u - cu) / ru, -1.0, 1.0)
  ny = jnp.clip((v - cv) / rv, -1.0, 1.0)
  nz = jnp.sqrt(jnp.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
  return nx, ny, nz


def _background(scene, val, x, y, light_u):
  """The background colour [N, R, R, 3]: gradient, texture, soft shapes."""
  col = lambda table, name: _rgb(drawing.ramp(table, scene[:, _INDEX[name]]))
  bg_a, bg_b = col(_BG, 'bg_hue_a'), col(_BG, 'bg_hue_b')
  ang = val('bg_angle')
  t = 0.5 + 0.5 * (jnp.cos(ang) * x + jnp.sin(ang) * y) / math.sqrt(2.0)
  tex, = _computed_once(drawing.smooth_noise(
      x, y, val('bg_tex_u'), val('bg_tex_v'), 1.5, octaves=2))
  light = 1.0 + 0.06 * tex + 0.10 * light_u * x
  # A shelf: a soft horizontal board with a darker shadow under it.
  sy = val('shelf_y')
  shelf = _soft(jnp.abs(y - sy) - 0.035, 0.05)
  shadow = _soft(jnp.abs(y - sy - 0.07) - 0.03, 0.08)
  # A window on the light's side, with soft mullions.
  wu = 0.78 * light_u
  wv = val('window_y')
  win = _soft(drawing.box(x, y, wu, wv, 0.26, 0.30, 0.04), 0.06)
  bars = _soft(jnp.minimum(jnp.abs(x - wu), jnp.abs(y - wv)) - 0.015, 0.04)
  glow = (0.25 + 0.6 * val('window')) * win * (1.0 - 0.6 * bars)
  # A blob (a plant, a lamp): a soft ellipse.
  r = val('blob_size')
  blob = _soft(drawing.ellipse(x, y, val('blob_x'), val('blob_y'), r,
                               r * 1.3), 0.12)
  vignette = 1.0 - 0.10 * (x * x + y * y)
  t, tex, light, shelf, glow, blob = (
      f[..., None] for f in _computed_once(
          t, tex, light * (1.0 - 0.18 * shadow) * vignette, shelf * 0.9,
          glow, blob * 0.85))
  rgb = (bg_a + (bg_b - bg_a) * t) * light
  rgb = rgb + (col(_SHELF, 'shelf_hue') - rgb) * shelf
  sky = jnp.asarray([0.92, 0.95, 1.0], jnp.float32)
  rgb = rgb + (sky - rgb) * glow
  rgb = rgb + (col(_BLOB, 'blob_hue') * (0.9 + 0.1 * tex) - rgb) * blob
  return rgb


def render(scene: jax.Array,
           resolution: int = RESOLUTION) -> tuple[jax.Array, jax.Array]:
  """Draws faces and their exact fine part masks.

  Args:
    scene: [N, NUM_PARAMS] scene parameters in [0, 1].
    resolution: output size in pixels (static under jit).

  Returns:
    images [N, R, R, 3] float32 in [0, 1]; masks [N, R, R] int32 ids of
    `CLASS_NAMES`.
  """
  scene = jnp.asarray(scene, jnp.float32)
  val = lambda name: _value(scene, name)
  raw = lambda name: scene[:, _INDEX[name]][:, None, None]
  col = lambda table, name: drawing.ramp(table, scene[:, _INDEX[name]])
  n = scene.shape[0]
  x, y = drawing.pixel_grid(resolution)
  scale = val('scale')
  px = resolution / 2.0 * scale  # pixels per face unit
  # Body frame (position and scale), head frame (rolled about the neck)
  # and the neck's frame (half the roll).
  xb = (x - val('center_x')) / scale
  yb = (y - val('center_y')) / scale
  roll = val('roll')
  u, v = _rotate(xb, yb, roll, 0.0, 0.45)
  un, vn = _rotate(xb, yb, 0.5 * roll, 0.0, 0.45)

  yaw = val('yaw')
  head = _make_head(val('face_width'), val('face_length'), val('jaw'), yaw)
  a = head.a
  sy, cy = head.sin_yaw, head.cos_yaw
  surf_s, theta, fore = _computed_once(*_surface(head, u, v))

  la = val('light_azimuth')
  light = (jnp.sin(la) * 0.94, -0.34, jnp.cos(la) * 0.94)
  light_u = jnp.sin(la) / math.sin(0.9)

  # --- the face silhouette ----------------------------------------------------
  s_row, g_row, z0_row = _profile(head, v)
  uc_row = z0_row * sy
  face = drawing.ellipse(u - uc_row, v, 0.0, head.vc, head.wmax * g_row,
                         head.b)
  fnx, fny, fnz = _ellipsoid_normal(u - uc_row, v, 0.0, head.vc,
                                    head.wmax * g_row * 1.05, head.b * 1.05)
  skin_shade = _lambert(fnx, fny, fnz, light, 0.52, 0.52)

  # --- landmarks (surface coordinates S, v) -----------------------------------
  ev = val('eye_height')
  es = val('eye_spacing')
  ew = val('eye_width')
  eh = ew * val('eye_open')
  nv = ev + val('nose_length')
  mv = ev + 0.45

  # --- skin colour ------------------------------------------------------------
  skin = _rgb(col(_SKIN, 'skin_tone'))
  tex, = _computed_once(drawing.smooth_noise(
      surf_s, v, val('skin_tex_u'), val('skin_tex_v'), 3.0, octaves=2))
  cheek = jnp.exp(-jnp.square((jnp.abs(surf_s) - 0.22) / 0.09)
                  - jnp.square((v - nv) / 0.08))
  blush = (0.10 * val('blush') * cheek)[..., None]
  socket = jnp.exp(-jnp.square((jnp.abs(surf_s) - es) / 0.10)
                   - jnp.square((v - ev + 0.01) / 0.07))
  skin_mul, tex, cheek_red = _computed_once(
      1.0 + 0.03 * tex - 0.07 * socket, tex, blush[..., 0])
  blush = cheek_red[..., None]
  skin_rgb = skin * skin_mul[..., None]
  skin_rgb = skin_rgb + (jnp.asarray([0.85, 0.30, 0.30]) - skin_rgb) * blush
  skin_rgb = skin_rgb * skin_shade

  # --- hair geometry ----------------------------------------------------------
  vol = val('hair_volume')
  length = val('hair_length')
  part = val('hair_part')
  a_cr = a * 1.08 + 0.09 * vol
  c_cr = a_cr * 1.25
  w_cr = jnp.sqrt(jnp.square(a_cr * cy) + jnp.square(c_cr * sy))
  u_cr = -0.10 * sy
  v_cr = jnp.full_like(a, -0.20)
  b_cr = 0.56 + 0.08 * vol
  cranium = drawing.ellipse(u, v, u_cr, v_cr, w_cr, b_cr)
  # Long hair hanging behind the neck, over the shoulders.
  bottom = -0.15 + 1.35 * length
  flare = 1.0 + 0.3 * jnp.clip(v - 0.2, 0.0, 1.0)
  long_w = (w_cr * 0.92 + 0.04 * vol) * flare
  long_box = drawing.box(u, v, u_cr, 0.5 * (v_cr + bottom), long_w,
                         jnp.maximum(0.5 * (bottom - v_cr), 0.02), 0.08)
  # The face opening: below the hairline, inside the temples.
  hl0 = -0.47 + 0.27 * val('fringe')
  rel_s = surf_s / a
  hairline = hl0 + 0.22 * jnp.square(rel_s) + 0.06 * part * rel_s
  opening = jnp.maximum(jnp.maximum(hairline - v, face),
                        (jnp.abs(theta) - 1.2) * a * s_row * fore)
  # Side hair reaches down to v_cut (over the ears when long and untucked).
  v_cut = -0.16 + 0.55 * length * val('ear_cover')
  v_cut = v_cut + 0.10 * jnp.square(jnp.clip((u - u_cr) / w_cr, -1.0, 1.0))
  hair_front = jnp.maximum(jnp.maximum(cranium, v - v_cut), -opening)
  # A lock over one eye, on the side opposite the part.
  lock_amount = jnp.clip((val('lock') - 0.75) / 0.25, 0.0, 1.0)
  side = -jnp.tanh(5.0 * part)
  s0, v0 = -0.02 * side, hl0 - 0.04
  # It reaches from the hairline down to just below the eye.
  s1 = side * es * 1.1
  v1 = hl0 - 0.04 + lock_amount * (ev + 0.07 - hl0)
  lock = _segment(surf_s, v, s0, v0, s1, v1, 0.11, 0.06) * fore
  lock = _gate(lock_amount > 0.0, lock)
  hair_front = jnp.minimum(hair_front, jnp.maximum(lock, face))
  hair_back = jnp.minimum(cranium, long_box)

  # --- hair colour: strands radiating from the crown --------------------------
  hair_base = col(_HAIR, 'hair_hue') * (
      0.8 + 0.45 * scene[:, _INDEX['hair_light'], None])
  u_src = u_cr + 0.25 * part * w_cr
  v_src = -0.74
  du, dv = u - u_src, v - v_src
  r_src = jnp.sqrt(du * du + dv * dv + 1e-6)
  strands = jnp.sin(20.0 * jnp.arctan2(du, dv) + val('strand_phase')
                    + 1.5 * tex)
  strands = strands * jnp.clip((r_src - 0.2) / 0.25, 0.0, 1.0)
  hnx, hny, hnz = _ellipsoid_normal(u, v, u_cr, v_cr, w_cr, b_cr)
  hair_shade = _lambert(hnx, hny, hnz, light, 0.55, 0.50)
  hair_mul, = _computed_once(hair_shade[..., 0] * (1.0 + 0.10 * strands))
  hair_rgb = _rgb(hair_base) * hair_mul[..., None]
  hair_back_rgb = hair_rgb * 0.8

  # --- neck and clothes -------------------------------------------------------
  neck_w = val('neck_width')
  u_neck = -0.12 * sy
  neck = drawing.box(un, vn, u_neck, 0.78, neck_w, 0.5, 0.08)
  neck_shadow = jnp.clip(1.0 - (vn - 0.45) / 0.35, 0.0, 1.0)
  neck_rgb = skin * _lambert((un - u_neck) / (neck_w * 1.3), 0.0,
                             0.7, light, 0.50, 0.45) * (
                                 1.0 - 0.25 * neck_shadow)[..., None]
  sw = val('shoulder_width')
  u_body = -0.04 * sy
  body = drawing.ellipse(xb, yb, u_body, 1.40, sw, 0.64)
  deep = val('neckline')
  cut = drawing.ellipse(xb, yb, u_body - 0.12 * sy, 0.80,
                        neck_w + 0.03 + 0.07 * deep, 0.08 + 0.20 * deep)
  clothes = jnp.maximum(body, -cut)
  collar = jnp.maximum(body, jnp.maximum(-cut, cut - 0.05))
  cloth_col = col(_CLOTHES, 'clothes_hue') * (
      0.75 + 0.4 * scene[:, _INDEX['clothes_light'], None])
  bnx, bny, bnz = _ellipsoid_normal(xb, yb, u_body, 1.40, sw, 0.9)
  cloth_shade = _lambert(bnx, bny, bnz, light, 0.55, 0.45)
  clothes_rgb = _rgb(cloth_col) * cloth_shade
  contrast = jnp.where(jnp.mean(cloth_col, -1, keepdims=True) > 0.5,
                       0.25, 0.95)
  collar_col = cloth_col + (contrast - cloth_col) * raw('collar')[:, 0]
  collar_rgb = _rgb(collar_col) * cloth_shade
  long_hair = jnp.maximum(long_box, -(neck - 0.01))

  # --- ears and earrings ------------------------------------------------------
  es_size = val('ear_size')
  v_ear = ev + 0.11
  ear_h = 0.12 * es_size
  earrings_on = raw('earrings') > _EARRINGS_ON
  drop = 0.05 * val('earring_drop')
  ring_r = 0.030 + 0.012 * val('earring_drop')
  ear_layers_back, ear_layers_front = [], []
  ear_rgb = (skin * 0.9 + jnp.asarray([0.05, 0.0, 0.0])) * skin_shade
  ear_inner_rgb = skin * skin_shade * 0.7
  metal = _rgb(col(_METAL, 'earring_hue'))
  for sign, cls in ((1.0, _ID['l_ear']), (-1.0, _ID['r_ear'])):
    theta_e = sign * (math.pi / 2 + 0.06)
    u_e, _ = _project(head, theta_e, v_ear, k=0.07)
    facing = jnp.abs(jnp.cos(sign * (math.pi / 2 - 0.55) + yaw))
    hw = 0.075 * es_size * (0.3 + 0.7 * facing)
    ear = drawing.ellipse(u, v, u_e, v_ear, hw, ear_h)
    inner = drawing.ellipse(u, v, u_e - 0.2 * sign * hw, v_ear - 0.01,
                            hw * 0.5, ear_h * 0.6)
    ear_col = ear_rgb + (ear_inner_rgb - ear_rgb) * _soft(
        inner, 0.04)[..., None]
    s_e, _, z0_e = _profile(head, v_ear)
    edge = z0_e * sy + sign * head.wmax * s_e
    reveal = jnp.clip(-sign * yaw / 0.35, 0.0, 1.0)
    reveal = reveal * reveal * (3.0 - 2.0 * reveal)
    u_cut = edge + reveal * (u_e - sign * (hw + 0.03) - edge)
    front_half = sign * (u_cut - u)
    lobe_v = v_ear + ear_h * 0.85
    ring = _segment(u, v, u_e, lobe_v, u_e, lobe_v + drop, ring_r)
    ring = _gate(earrings_on, ring)
    ear_layers_back += [(ear, ear_col, cls, 1.0),
                        (ring, metal, _ID['earring'], 1.0)]
    ear_layers_front += [(jnp.maximum(ear, front_half), ear_col, cls, 1.0),
                         (jnp.maximum(ring, front_half), metal,
                          _ID['earring'], 1.0)]

  # --- nose -------------------------------------------------------------------
  nd = val('nose_depth')
  nw = val('nose_width')
  top_v = ev + 0.03
  quad = []
  for th, vv, dd in ((-0.022, top_v, 0.015), (0.022, top_v, 0.015),
                     (0.032, nv - 0.03, 0.5 * nd),
                     (-0.032, nv - 0.03, 0.5 * nd)):
    quad.append(_project(head, th / a, vv, d=dd)[0])
  bridge = drawing.polygon(u, v, quad, [top_v, top_v, nv - 0.03, nv - 0.03])
  u_wing, _ = _project(head, 0.0, nv + 0.01, d=0.03)
  wings = drawing.ellipse(u, v, u_wing, nv + 0.01, nw * cy, 0.04)
  nose_base = jnp.minimum(bridge, wings)
  u_tip, _ = _project(head, 0.0, nv - 0.005, d=nd)
  tip = drawing.ellipse(u, v, u_tip, nv - 0.005, 0.042, 0.042)
  nostrils = []
  for sign in (1.0, -1.0):
    th = sign * 0.45 * nw / a
    pu, _ = _project(head, th, nv + 0.04, d=0.03)
    f_n = jnp.maximum(jnp.cos(th + head.phi), 0.2)
    nostrils.append(drawing.ellipse(u, v, pu, nv + 0.04, 0.026 * f_n + 0.006,
                                    0.021))
  nostril = jnp.minimum(*nostrils)
  side_light = jnp.tanh((u - u_tip) / 0.05) * jnp.sin(la)
  nose_rgb = skin_rgb * (0.95 + 0.05 * side_light)[..., None]
  tip_rgb = skin_rgb * 1.02
  nostril_rgb = skin * skin_shade * 0.35

  # --- mouth (surface coordinates) --------------------------------------------
  mw = val('mouth_width')
  xm = jnp.clip(surf_s / mw, -1.0, 1.0)
  prof = jnp.sqrt(1.0 - jnp.square(xm))
  mid = mv - 0.045 * val('smile') * jnp.square(xm)
  gap = 0.055 * jnp.clip((raw('mouth_open') - 0.45) / 0.55, 0.0, 1.0)
  open_top = mid - gap * prof
  open_bot = mid + 1.3 * gap * prof
  bow = 1.0 - 0.25 * jnp.exp(-jnp.square(xm / 0.18))
  lip_top = open_top - val('upper_lip') * jnp.sqrt(prof) * bow
  lip_bot = open_bot + val('lower_lip') * jnp.sqrt(prof)
  sides = (jnp.abs(surf_s) - mw) * fore
  sides = jnp.maximum(sides, face)
  mouth_in = jnp.maximum(jnp.maximum(open_top - v, v - open_bot), sides)
  upper = jnp.maximum(jnp.maximum(lip_top - v, v - open_top), sides)
  lower = jnp.maximum(jnp.maximum(open_bot - v, v - lip_bot), sides)
  lip_col = _rgb(col(_LIPS, 'lip_colour'))
  lip_col = lip_col * 0.6 + skin * 0.4
  upper_rgb = lip_col * skin_shade * 0.88
  lower_rgb = lip_col * skin_shade * (1.0 + 0.12 * jnp.clip(
      (lip_bot - v) / 0.05, 0.0, 1.0))[..., None]
  teeth = jnp.clip((open_top + 0.035 - v) / 0.02, 0.0, 1.0)[..., None]
  mouth_rgb = (jnp.asarray([0.30, 0.08, 0.10])
               + (jnp.asarray([0.92, 0.90, 0.84]) - jnp.asarray(
                   [0.30, 0.08, 0.10])) * teeth) * skin_shade

  # --- eyes, irises, brows ----------------------------------------------------
  iris_r = 0.050
  gx, gy = val('gaze_x'), val('gaze_y')
  iris_col = _rgb(col(_IRIS, 'iris_hue'))
  sclera = jnp.asarray([0.94, 0.93, 0.90], jnp.float32)
  brow_col = _rgb(hair_base * 0.75 + 0.05)
  thick = val('brow_thickness')
  brow_v = ev - eh - 0.065 - val('brow_raise')
  tilt = val('brow_tilt')
  eye_layers, iris_layers, brow_layers = [], [], []
  for sign, eye_cls, iris_cls, brow_cls in (
      (1.0, _ID['l_eye'], _ID['l_iris'], _ID['l_brow']),
      (-1.0, _ID['r_eye'], _ID['r_iris'], _ID['r_brow'])):
    cs = sign * es
    dv_e = v - ev
    half_h = jnp.where(dv_e < 0.0, eh * 1.1, eh * 0.9)
    eye = jnp.maximum(drawing.ellipse(surf_s, v, cs, ev, ew, half_h) * fore,
                      face)
    lid = jnp.clip((v - (ev - half_h)) / (0.5 * eh), 0.0, 1.0)[..., None]
    eye_rgb = sclera * skin_shade * (0.75 + 0.25 * lid)
    ci, vi = cs + gx * 0.35 * (ew - iris_r), ev + gy * 0.25 * eh
    iris = drawing.ellipse(surf_s, v, ci, vi, iris_r, iris_r) * fore
    pupil = jnp.sqrt(jnp.square(surf_s - ci) + jnp.square(v - vi))
    dark = jnp.clip((0.028 - pupil) / 0.015, 0.0, 1.0)[..., None]
    i_rgb = iris_col * (1.0 - 0.8 * dark) * (0.7 + 0.3 * lid)
    eye_layers.append((eye, eye_rgb, eye_cls, 1.0))
    iris_layers.append((jnp.maximum(iris, eye), i_rgb, iris_cls, 1.0))
    brow = drawing.bent_capsule(surf_s, v, sign * (es + 0.01), brow_v,
                                val('brow_length'), thick, -sign * tilt,
                                val('brow_arch')) * fore
    brow = jnp.maximum(brow, face)
    brow_layers.append((brow, brow_col, brow_cls, 1.0))

  # --- glasses ----------------------------------------------------------------
  glasses_on = raw('glasses') > _GLASSES_ON
  z_g = head.c * 0.93 + 0.06
  lens_hw = ew + 0.035
  lens_hh = 0.085
  rnd = val('lens_shape')
  frame_t = 1.25 / px
  lens_sdf, frame_sdf = [], []
  gs = es * 1.03
  for sign in (1.0, -1.0):
    lu = sign * gs * cy + z_g * sy
    box = drawing.box(u, v, lu, ev + 0.005, lens_hw * cy, lens_hh,
                      (1.0 - rnd) * 0.07 + 0.02)
    lens_sdf.append(box)
    frame_sdf.append(jnp.abs(box) - frame_t)
    # The temple arm: from the lens's outer edge along the head to the
    # ear, or to the silhouette where it passes behind the head.
    ou = sign * (gs + lens_hw) * cy + z_g * sy
    th_end = sign * jnp.minimum(math.pi / 2 + 0.05, math.pi / 2 - sign *
                                head.phi)
    eu, _ = _project(head, th_end, ev + 0.01, k=0.08)
    frame_sdf.append(_segment(u, v, ou, ev - 0.03, eu, ev + 0.01, frame_t))
  bridge_g = drawing.bent_capsule(u, v, z_g * sy, ev - 0.02,
                                  (gs - lens_hw) * cy + 0.01, frame_t,
                                  0.0, 4.0)
  lenses = _gate(glasses_on, jnp.minimum(*lens_sdf))
  frames = _gate(glasses_on,
                 functools.reduce(jnp.minimum, frame_sdf + [bridge_g]))
  tint = jnp.asarray([0.75, 0.82, 0.90], jnp.float32) * (
      1.0 - 0.6 * raw('lens_tint'))[..., None]
  lens_opacity = 0.25 + 0.2 * raw('lens_tint')
  frame_rgb = _rgb(col(_FRAME, 'frame_hue')) * skin_shade

  # --- hat --------------------------------------------------------------------
  hat_on = raw('hat') > _HAT_ON
  band_v = -0.52 + 0.16 * val('hat_depth')
  rel_u = jnp.clip((u - u_cr) / w_cr, -1.0, 1.0)
  band_line = band_v + 0.10 * jnp.square(rel_u)
  crown = drawing.ellipse(u, v, u_cr, v_cr - 0.04, w_cr + 0.05 + 0.03 * vol,
                          b_cr + 0.06 + 0.03 * vol)
  hat = _gate(hat_on, jnp.maximum(crown, v - band_line))
  hat_col = _rgb(col(_HAT, 'hat_hue'))
  in_band = jnp.clip((v - band_line + 0.09) / 0.02, 0.0, 1.0)[..., None]
  rib = jnp.sin(28.0 * u)[..., None]
  hat_rgb = hat_col * hair_shade * (1.0 - 0.18 * in_band
                                    + 0.05 * rib * (1.0 - in_band))

  # --- composite --------------------------------------------------------------
  layers = [
      (hair_back, hair_back_rgb, _ID['hair'], 1.0),
      (neck, neck_rgb, _ID['neck'], 1.0),
      (clothes, clothes_rgb, _ID['clothes'], 1.0),
      (collar, collar_rgb, _ID['clothes'], 1.0),
      (long_hair, hair_back_rgb * 1.1, _ID['hair'], 1.0),
      *ear_layers_back,
      (face, skin_rgb, _ID['skin'], 1.0),
      *ear_layers_front,
      (nose_base, nose_rgb, _ID['nose'], 1.0),
      (nostril, nostril_rgb, _ID['nostrils'], 1.0),
      (tip, tip_rgb, _ID['nose'], 1.0),
      (mouth_in, mouth_rgb, _ID['mouth'], 1.0),
      (upper, upper_rgb, _ID['upper_lip'], 1.0),
      (lower, lower_rgb, _ID['lower_lip'], 1.0),
      *eye_layers,
      *iris_layers,
      *brow_layers,
      (hair_front, hair_rgb, _ID['hair'], 1.0),
      (lenses, tint, GLASSES_CLASS, lens_opacity),
      (frames, frame_rgb, GLASSES_CLASS, 1.0),
      (hat, hat_rgb, _ID['hat'], 1.0),
  ]
  bg = _background(scene, val, x, y, light_u)
  bg = jnp.broadcast_to(bg, (n, resolution, resolution, 3))
  return _composite(bg, layers, px)
