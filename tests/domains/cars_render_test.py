"""The cars renderer: exact masks, parts by viewpoint, small parts, labels."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax.domains.cars import render as cars
from tests.helpers import mask_interior

pytestmark = pytest.mark.fast

ID = {name: i for i, name in enumerate(cars.CLASS_NAMES)}
BATCH = 64
# The suite compiles with XLA's optimisations off (conftest), which makes
# this renderer several times slower; one optimised executable of one
# batch shape renders every test's scenes.
_OPTIMISED = {'xla_backend_optimization_level': 3,
              'xla_llvm_disable_expensive_passes': False}
SMALL = ('headlight', 'tail_light', 'licence_plate', 'mirror', 'rim',
         'grille')
FRONT_ONLY = ('grille',)
BACK_ONLY = ('licence_plate',)
# Yaw scene values (yaw = 2 pi * value): the camera in front of the nose,
# behind the tail, on the car's left (+y) and right sides.
VIEWS = {'front': 0.0, 'back': 0.5, 'left': 0.25, 'right': 0.75}


def scenes_of(seeds) -> np.ndarray:
  """Scenes of the seed convention: z = default_rng(seed).standard_normal."""
  z = np.stack([np.random.default_rng(s).standard_normal(cars.NUM_PARAMS)
                for s in seeds]).astype(np.float32)
  return np.array(cars.scene_from_latent(z))


@functools.cache
def _executable():
  spec = jax.ShapeDtypeStruct((BATCH, cars.NUM_PARAMS), jnp.float32)
  return jax.jit(cars.render, static_argnames='resolution').lower(
      spec, resolution=cars.RESOLUTION).compile(compiler_options=_OPTIMISED)


def render(scenes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Renders in batches of BATCH (one executable), the last one padded."""
  images, masks = [], []
  for i in range(0, len(scenes), BATCH):
    chunk = scenes[i:i + BATCH]
    pad = np.repeat(chunk[-1:], BATCH - len(chunk), axis=0)
    im, m = _executable()(jnp.asarray(np.concatenate([chunk, pad])))
    images.append(np.asarray(im)[:len(chunk)])
    masks.append(np.asarray(m)[:len(chunk)])
  return np.concatenate(images), np.concatenate(masks)


def with_yaw(scenes: np.ndarray, value: float) -> np.ndarray:
  out = scenes.copy()
  out[:, list(cars.PARAMS).index('yaw')] = value
  return out


@pytest.fixture(scope='module')
def seeds256():
  scenes = scenes_of(range(256))
  return (scenes,) + render(scenes)


@pytest.fixture(scope='module')
def views():
  """16 seeds seen from the front, the back, the left and the right."""
  base = scenes_of(range(16))
  scenes = np.concatenate([with_yaw(base, v) for v in VIEWS.values()])
  _, masks = render(scenes)
  return {name: masks[16 * i:16 * (i + 1)] for i, name in enumerate(VIEWS)}


def test_api_and_scene_map():
  assert cars.RESOLUTION == 128
  assert cars.NUM_PARAMS == len(cars.PARAMS)
  assert len(cars.CLASS_NAMES) >= 12 and cars.CLASS_NAMES[0] == 'background'
  assert len(set(cars.CLASS_NAMES)) == len(cars.CLASS_NAMES)
  for lo, hi in cars.PARAMS.values():
    assert lo < hi
  yaw = cars.PARAMS['yaw']
  assert yaw[0] == 0.0 and yaw[1] == pytest.approx(2 * np.pi)
  z = np.zeros((3, cars.NUM_PARAMS), np.float32)
  z[1] = 10.0
  z[2] = -10.0
  scene = np.asarray(cars.scene_from_latent(z))
  np.testing.assert_allclose(scene, [[0.5] * cars.NUM_PARAMS,
                                     [1.0] * cars.NUM_PARAMS,
                                     [0.0] * cars.NUM_PARAMS], atol=1e-6)
  with pytest.raises(ValueError):
    cars.scene_from_latent(np.zeros((1, cars.NUM_PARAMS + 1), np.float32))


def test_label_sets_cover_every_fine_class():
  coarse_names, coarse = cars.LABEL_SETS['coarse']
  assert coarse_names == ('background', 'body', 'door', 'window',
                          'windshield', 'hood', 'wheel', 'lights')
  fine_names, fine = cars.LABEL_SETS['fine']
  assert fine_names == cars.CLASS_NAMES
  np.testing.assert_array_equal(fine, np.arange(len(cars.CLASS_NAMES)))
  for names, lookup in (cars.LABEL_SETS['coarse'], cars.LABEL_SETS['fine']):
    assert lookup.dtype == np.int32
    assert lookup.shape == (len(cars.CLASS_NAMES),)
    assert lookup.min() >= 0 and lookup.max() < len(names)
  assert set(coarse) == set(range(len(coarse_names)))  # all 8 reachable
  want = {'background': 'background', 'ground': 'background',
          'body': 'body', 'door': 'door', 'side_window': 'window',
          'windshield': 'windshield', 'back_window': 'windshield',
          'hood': 'hood', 'tyre': 'wheel', 'rim': 'wheel',
          'headlight': 'lights', 'tail_light': 'lights',
          'front_bumper': 'body', 'rear_bumper': 'body', 'mirror': 'body',
          'licence_plate': 'body', 'grille': 'body', 'trunk': 'body',
          'roof': 'body'}
  for fine_name, coarse_name in want.items():
    assert coarse_names[coarse[ID[fine_name]]] == coarse_name, fine_name


def test_coarse_names_match_the_lsun_car_config():
  from configs import lsun_car  # pylint: disable=g-import-not-at-top
  assert (tuple(lsun_car.get_config().data.class_names)
          == cars.LABEL_SETS['coarse'][0])


def test_outputs_finite_in_range_and_every_class_appears(seeds256):
  _, images, masks = seeds256
  assert images.shape == (256, 128, 128, 3) and images.dtype == np.float32
  assert masks.shape == (256, 128, 128) and masks.dtype == np.int32
  assert np.isfinite(images).all()
  assert images.min() >= 0.0 and images.max() <= 1.0
  assert masks.min() >= 0 and masks.max() < len(cars.CLASS_NAMES)
  present = np.bincount(masks.ravel(), minlength=len(cars.CLASS_NAMES))
  missing = [n for n, c in zip(cars.CLASS_NAMES, present) if c == 0]
  assert not missing
  # Viewed all round: the end-only parts show in part of the scenes only.
  shown = lambda name: (masks == ID[name]).any(axis=(1, 2)).mean()
  for name in FRONT_ONLY + BACK_ONLY + ('windshield', 'back_window'):
    assert 0.2 < shown(name) < 0.8, name
  for name in ('ground', 'body', 'roof', 'mirror', 'tyre'):
    assert shown(name) > 0.9, name


def test_the_car_fills_a_plausible_share_of_the_width(seeds256):
  _, _, masks = seeds256
  columns = (masks >= ID['body']).any(axis=1)
  idx = np.arange(128)
  width = (np.where(columns, idx, -1).max(1)
           - np.where(columns, idx, 999).min(1) + 1) / 128
  assert np.median(width) > 0.5 and np.percentile(width, 5) > 0.35
  assert np.percentile(width, 95) < 0.95


def test_mask_matches_the_image(seeds256):
  """The mask is the drawn layer: interior pixels have their part's look."""
  _, images, masks = seeds256
  inner = mask_interior(masks)
  mean = lambda name: images[inner & (masks == ID[name])].mean(axis=0)
  lum = lambda name: mean(name).mean()
  assert lum('tyre') < 0.15
  assert lum('headlight') > 0.8
  red = mean('tail_light')
  assert red[0] > 0.6 and red[0] > 2.5 * max(red[1], red[2])
  assert lum('licence_plate') > 0.75
  assert lum('grille') < 0.25
  for glass in ('side_window', 'windshield', 'back_window'):
    assert lum(glass) < lum('rim'), glass
  # Within a part the colour is smooth: neighbours inside one class differ
  # little, across parts they often differ a lot.
  step = np.abs(np.diff(images, axis=2)).max(-1)
  same = (masks[:, :, 1:] == masks[:, :, :-1]) & inner[:, :, 1:] & (
      inner[:, :, :-1])
  assert np.percentile(step[same], 99) < 0.08


def test_small_parts_are_measurable(seeds256):
  """A visible small part has a 2x2 block inside it in most samples."""
  _, _, masks = seeds256
  masks = masks[:64]
  for name in SMALL:
    inside = masks == ID[name]
    block = (inside[:, :-1, :-1] & inside[:, 1:, :-1] & inside[:, :-1, 1:]
             & inside[:, 1:, 1:]).any(axis=(1, 2))
    present = inside.sum(axis=(1, 2)) >= 4
    assert present.sum() >= 10, name
    assert block[present].mean() >= 0.8, name


def test_front_and_back_views(views):
  count = lambda masks, name: (masks == ID[name]).sum(axis=(1, 2))
  front_parts = ('headlight', 'grille', 'front_bumper')
  back_parts = ('tail_light', 'licence_plate', 'rear_bumper')
  for name in front_parts + ('hood', 'windshield'):
    assert (count(views['front'], name) > 0).all(), name
  for name in back_parts:  # on the back face, turned away
    assert (count(views['front'], name) == 0).all(), name
  for name in back_parts + ('back_window',):
    assert (count(views['back'], name) > 0).all(), name
  for name in front_parts:
    assert (count(views['back'], name) == 0).all(), name
  # Seen from an end, no side: no door and no rim.
  for view in ('front', 'back'):
    assert (count(views[view], 'door') == 0).all()
    assert (count(views[view], 'rim') == 0).all()


def test_side_views(views):
  for view, nose_right in (('left', False), ('right', True)):
    masks = views[view]
    for name in ('door', 'side_window', 'tyre', 'rim'):
      assert ((masks == ID[name]).sum(axis=(1, 2)) > 0).all(), (view, name)
    for name in ('grille', 'licence_plate'):  # the ends are edge-on
      assert not (masks == ID[name]).any(), (view, name)
    for m in masks:
      # Both wheels of the near side: rims on both sides of the car's
      # middle, the front one on the nose's side.
      car_cols = np.nonzero((m >= ID['body']).any(axis=0))[0]
      middle = 0.5 * (car_cols.min() + car_cols.max())
      rim_cols = np.nonzero((m == ID['rim']).any(axis=0))[0]
      assert rim_cols.min() < middle < rim_cols.max()
      head = np.nonzero((m == ID['headlight']).any(axis=0))[0]
      tail = np.nonzero((m == ID['tail_light']).any(axis=0))[0]
      assert len(head) and len(tail)
      assert (head.mean() > tail.mean()) == nose_right


def test_deterministic_and_batch_consistent(seeds256):
  scenes, images, masks = seeds256
  # The same rows in another batch (reversed, next to other scenes).
  rows = np.arange(0, 64, 2)
  mixed = np.concatenate([scenes[rows][::-1], scenes_of(range(500, 532))])
  im, m = render(mixed)
  np.testing.assert_array_equal(m[:32][::-1], masks[rows])
  np.testing.assert_allclose(im[:32][::-1], images[rows], atol=1e-5)
  im2, m2 = render(mixed)
  np.testing.assert_array_equal(m2, m)
  np.testing.assert_array_equal(im2, im)


def test_jit_with_a_static_resolution():
  """Any resolution traces under jit (compiling one costs seconds: the
  fixtures' executable is jax.jit(render) with the resolution static)."""
  spec = jax.ShapeDtypeStruct((2, cars.NUM_PARAMS), jnp.float32)
  for resolution in (32, 96):
    fn = functools.partial(cars.render, resolution=resolution)
    images, masks = jax.eval_shape(fn, spec)
    assert images.shape == (2, resolution, resolution, 3)
    assert images.dtype == jnp.float32
    assert masks.shape == (2, resolution, resolution)
    assert masks.dtype == jnp.int32
  lowered = jax.jit(cars.render, static_argnames='resolution').lower(
      spec, resolution=32)
  assert lowered.out_info[1].shape == (2, 32, 32)
