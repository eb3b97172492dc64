"""Procedural cartoon faces with exact part masks: the `faces` renderer.

A scene is a vector of named parameters in [0, 1] (`PARAMS`). The documented
map from the generator's latent z ~ N(0, I) to a scene is

    scene[k] = Phi(z[k]),   k = 0 .. len(PARAMS) - 1,

Phi the standard normal CDF: one latent dimension per parameter, each scene
parameter uniform on [0, 1], and `z_dim == len(PARAMS)`. `render(scene)` then
maps each parameter into its documented range (the `lo, hi` of `PARAMS`) and
draws the face as signed-distance-function (SDF) layers composited in
painter's order:

    background, hair (behind the head), ears, skin, nose, mouth, eyes,
    eyebrows, hair (top and fringe)

Every layer's colour is a smooth, deterministic function of the scene
(gradients, lighting, sinusoidal hair strands): nothing is random, so a
generator can reproduce the image from z. Edges are anti-aliased over one
pixel and the mask is exact (`drawing.composite`).

Classes (the paper's FFHQ benchmark): 0 background, 1 skin, 2 hair, 3 eye,
4 eyebrow, 5 nose, 6 mouth, 7 ear.

All functions are jnp, batched over the leading axis, and jittable.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_seg_jax.domains import drawing

__all__ = ['CLASS_NAMES', 'PARAMS', 'NUM_PARAMS', 'RESOLUTION',
           'scene_from_latent', 'render']

CLASS_NAMES = ('background', 'skin', 'hair', 'eye', 'eyebrow', 'nose',
               'mouth', 'ear')
RESOLUTION = 64

# name: (lo, hi) of the physical value that scene value 0 .. 1 maps to.
# Lengths are in face units (1 = half the image width at scale 1).
PARAMS = {
    'center_x': (-0.08, 0.08),
    'center_y': (-0.06, 0.06),
    'scale': (0.88, 1.08),
    'rotation': (-0.14, 0.14),        # radians, about +-8 degrees
    'face_width': (0.50, 0.60),       # half-width
    'jaw': (0.0, 1.0),                # 0 oval, 1 narrow chin
    'skin_tone': (0.0, 1.0),          # light .. dark palette
    'hair_hue': (0.0, 1.0),           # black, brown, auburn, blond, grey
    'hair_light': (0.0, 1.0),
    'bg_hue_a': (0.0, 1.0),
    'bg_hue_b': (0.0, 1.0),
    'bg_angle': (0.0, 2 * math.pi),
    'light_angle': (-1.2, 1.2),       # radians, key light direction
    'hair_length': (0.0, 1.0),        # 0 crop above the ears .. 1 shoulders
    'hair_volume': (0.0, 1.0),
    'fringe': (0.0, 1.0),             # 0 high hairline .. 1 low fringe
    'hair_part': (-1.0, 1.0),         # side sweep
    'strand_phase': (0.0, 2 * math.pi),
    'eye_width': (0.085, 0.115),      # half-width
    'eye_open': (0.60, 0.90),         # half-height / half-width
    'eye_spacing': (0.18, 0.23),      # centre to midline
    'iris_hue': (0.0, 1.0),           # brown, hazel, green, blue
    'brow_thickness': (0.045, 0.065),  # half-thickness
    'brow_tilt': (-0.30, 0.30),       # radians
    'nose_size': (0.8, 1.2),
    'mouth_width': (0.12, 0.19),      # half-width
    'mouth_open': (0.045, 0.075),     # half-height
    'smile': (-0.6, 1.6),             # curvature
    'ear_size': (0.85, 1.15),
}
NUM_PARAMS = len(PARAMS)
_INDEX = {name: i for i, name in enumerate(PARAMS)}

_SKIN = np.array([[0.98, 0.85, 0.74], [0.93, 0.72, 0.56], [0.74, 0.52, 0.36],
                  [0.45, 0.30, 0.20]], np.float32)
_HAIR = np.array([[0.10, 0.08, 0.07], [0.35, 0.22, 0.12], [0.60, 0.25, 0.10],
                  [0.85, 0.70, 0.38], [0.62, 0.62, 0.64]], np.float32)
_IRIS = np.array([[0.35, 0.20, 0.10], [0.45, 0.40, 0.15], [0.20, 0.45, 0.25],
                  [0.25, 0.45, 0.75]], np.float32)
_BG = np.array([[0.55, 0.70, 0.90], [0.60, 0.85, 0.65], [0.95, 0.85, 0.55],
                [0.90, 0.60, 0.65], [0.70, 0.62, 0.88], [0.80, 0.80, 0.80]],
               np.float32)


def scene_from_latent(z: jax.Array) -> jax.Array:
  """The map f: z [N, NUM_PARAMS] -> scene [N, NUM_PARAMS] in [0, 1]."""
  return drawing.uniform_scene(z, NUM_PARAMS)


def _value(scene: jax.Array, name: str) -> jax.Array:
  return drawing.param_value(scene, _INDEX[name], *PARAMS[name])


def render(scene: jax.Array,
           resolution: int = RESOLUTION) -> tuple[jax.Array, jax.Array]:
  """Draws faces and their exact part masks.

  Args:
    scene: [N, NUM_PARAMS] scene parameters in [0, 1].
    resolution: output size in pixels.

  Returns:
    images [N, R, R, 3] float32 in [0, 1]; masks [N, R, R] int32 class ids.
  """
  scene = jnp.asarray(scene, jnp.float32)
  val = lambda name: _value(scene, name)
  n = scene.shape[0]
  x, y = drawing.pixel_grid(resolution)
  scale = val('scale')
  px = resolution / 2.0 * scale  # pixels per face unit
  rot = val('rotation')
  dx, dy = x - val('center_x'), y - val('center_y')
  u = (jnp.cos(rot) * dx + jnp.sin(rot) * dy) / scale
  v = (-jnp.sin(rot) * dx + jnp.cos(rot) * dy) / scale

  # --- geometry (face units; v points down) --------------------------------
  fw = val('face_width')
  fh = 0.72
  fv = 0.06  # face centre
  # Egg-shaped face: narrower towards the chin as `jaw` grows.
  lower = jnp.clip((v - fv) / fh, 0.0, 1.0)
  fw_at = fw * (1.0 - 0.28 * val('jaw') * jnp.square(lower))
  face = drawing.ellipse(u, v, 0.0, fv, fw_at, fh)
  ear_s = val('ear_size')
  ears = jnp.minimum(
      drawing.ellipse(u, v, -fw * 0.97, 0.0, 0.085 * ear_s, 0.15 * ear_s),
      drawing.ellipse(u, v, fw * 0.97, 0.0, 0.085 * ear_s, 0.15 * ear_s))
  volume = val('hair_volume')
  head_u = fw * (1.10 + 0.22 * volume)
  head_v = fh * (1.06 + 0.14 * volume)
  cap = drawing.ellipse(u, v, 0.0, fv - 0.03, head_u, head_v)
  # Hairline: high forehead .. low fringe, swept to one side by the part.
  part = val('hair_part')
  hairline = (-0.50 + 0.24 * val('fringe') + 0.10 * part * u / fw
              + 0.30 * jnp.square(u / fw))
  hair_top = jnp.maximum(cap, v - hairline)
  # Hair behind the head, down to the crop line (ears up to the shoulders).
  length = val('hair_length')
  bottom = 0.02 + 0.85 * length
  back_w = head_u * (0.92 + 0.08 * length)
  back_box = jnp.maximum(jnp.abs(u) - back_w, v - bottom)
  hair_back = jnp.minimum(cap, jnp.maximum(back_box, -0.2 - v))
  eye_w = val('eye_width')
  eye_h = eye_w * val('eye_open')
  eye_sep = val('eye_spacing')
  eye_v = -0.04
  eyes = jnp.minimum(drawing.ellipse(u, v, -eye_sep, eye_v, eye_w, eye_h),
                     drawing.ellipse(u, v, eye_sep, eye_v, eye_w, eye_h))
  iris_r = eye_h * 0.85
  iris = jnp.minimum(drawing.ellipse(u, v, -eye_sep, eye_v, iris_r, iris_r),
                     drawing.ellipse(u, v, eye_sep, eye_v, iris_r, iris_r))
  brow_v = eye_v - eye_h - 0.085
  tilt = val('brow_tilt')
  thick = val('brow_thickness')
  brows = jnp.minimum(
      drawing.bent_capsule(u, v, -eye_sep, brow_v, 0.11, thick, tilt, 1.8),
      drawing.bent_capsule(u, v, eye_sep, brow_v, 0.11, thick, -tilt, 1.8))
  ns = val('nose_size')
  nose = drawing.ellipse(u, v, 0.0, 0.17, 0.055 * ns, 0.095 * ns)
  mw = val('mouth_width')
  mh = val('mouth_open')
  mouth_v = 0.40
  smile_v = v - mouth_v + val('smile') * jnp.square(u) * 2.0
  mouth = (jnp.sqrt(jnp.square(u / mw) + jnp.square(smile_v / mh) + 1e-12)
           - 1.0) * mh

  # --- colours (smooth functions of the scene) ----------------------------
  skin = drawing.ramp(_SKIN, scene[:, _INDEX['skin_tone']])[:, None, None]
  la = val('light_angle')
  # Pseudo normal of the head ellipsoid and a Lambert-like shade.
  nu = jnp.clip(u / (fw * 1.1), -1.0, 1.0)
  nv = jnp.clip((v - fv) / (fh * 1.1), -1.0, 1.0)
  nz = jnp.sqrt(jnp.clip(1.0 - nu * nu - nv * nv, 0.0, 1.0))
  shade = 0.78 + 0.30 * (jnp.sin(la) * nu * -1.0 + 0.35 * -nv
                         + jnp.cos(la) * nz)
  shade = shade[..., None]
  skin_rgb = jnp.clip(skin * shade, 0.0, 1.0)
  ear_rgb = jnp.clip(skin * (shade * 0.80) + jnp.asarray([0.06, 0.0, 0.0]),
                     0.0, 1.0)
  nose_rgb = jnp.clip(skin * (shade * 0.72), 0.0, 1.0)
  hair_base = drawing.ramp(_HAIR, scene[:, _INDEX['hair_hue']])
  hair_base = hair_base * (0.75 + 0.5 * scene[:, _INDEX['hair_light'], None])
  phase = val('strand_phase')
  strands = jnp.sin(6.0 * (u + 0.25 * part * v) * math.pi + phase)
  hair_rgb = jnp.clip(hair_base[:, None, None] *
                      (0.90 + 0.08 * strands + 0.10 * (-nv))[..., None],
                      0.0, 1.0)
  hair_back_rgb = hair_rgb * 0.82
  bg_a = drawing.ramp(_BG, scene[:, _INDEX['bg_hue_a']])[:, None, None]
  bg_b = drawing.ramp(_BG, scene[:, _INDEX['bg_hue_b']])[:, None, None]
  ang = val('bg_angle')
  t = 0.5 + 0.5 * (jnp.cos(ang) * x + jnp.sin(ang) * y) / math.sqrt(2.0)
  vignette = 1.0 - 0.12 * (x * x + y * y)
  bg_rgb = ((bg_a * (1 - t[..., None]) + bg_b * t[..., None])
            * vignette[..., None])
  lips = jnp.asarray([0.72, 0.22, 0.26], jnp.float32)
  mouth_rgb = jnp.clip(lips * (0.75 + 0.5 * jnp.clip(-smile_v / mh, -1, 1)
                               [..., None] * 0.4 + 0.15), 0.0, 1.0)
  iris_col = drawing.ramp(_IRIS, scene[:, _INDEX['iris_hue']])[:, None, None]
  sclera = jnp.asarray([0.96, 0.96, 0.94], jnp.float32)
  iris_mix = jnp.clip(0.5 - iris * px, 0.0, 1.0)[..., None]
  eye_rgb = sclera * (1 - iris_mix) + iris_col * iris_mix
  brow_rgb = jnp.broadcast_to(hair_base[:, None, None] * 0.7, skin_rgb.shape)

  # --- composite, bottom to top --------------------------------------------
  layers = [  # (sdf, colour, class)
      (hair_back, hair_back_rgb, 2),
      (ears, ear_rgb, 7),
      (face, skin_rgb, 1),
      (nose, nose_rgb, 5),
      (mouth, mouth_rgb, 6),
      (eyes, eye_rgb, 3),
      (brows, brow_rgb, 4),
      (hair_top, hair_rgb, 2),
  ]
  background = jnp.broadcast_to(bg_rgb, (n, resolution, resolution, 3))
  return drawing.composite(background, layers, px)
