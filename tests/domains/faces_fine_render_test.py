"""The faces_fine renderer: exact fine masks, small parts, anatomy, yaw."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax.domains.faces_fine import render as ff

pytestmark = pytest.mark.fast

ID = {name: i for i, name in enumerate(ff.CLASS_NAMES)}
BATCH = 64
# The suite compiles with XLA's optimisations off (conftest); these
# renders are big enough that an optimised executable, compiled once per
# shape, is several times faster overall.
_OPTIMISED = {'xla_backend_optimization_level': 1}
SMALL = ('l_iris', 'r_iris', 'nostrils', 'earring', 'upper_lip',
         'lower_lip', 'l_brow', 'r_brow')
PAIRS = (('l_eye', 'r_eye'), ('l_iris', 'r_iris'), ('l_brow', 'r_brow'),
         ('l_ear', 'r_ear'))


def scenes_of(seeds) -> np.ndarray:
  """Scenes of the seed convention: z = default_rng(seed).standard_normal."""
  z = np.stack([np.random.default_rng(s).standard_normal(ff.NUM_PARAMS)
                for s in seeds]).astype(np.float32)
  return np.array(ff.scene_from_latent(z))


@functools.cache
def _executable(batch: int, resolution: int):
  spec = jax.ShapeDtypeStruct((batch, ff.NUM_PARAMS), jnp.float32)
  return jax.jit(ff.render, static_argnums=1).lower(
      spec, resolution).compile(compiler_options=_OPTIMISED)


def render(scenes: np.ndarray, resolution: int = 128,
           batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
  """Renders in fixed-size batches (one jit), the last one padded."""
  fn = _executable(batch, resolution)
  images, masks = [], []
  for i in range(0, len(scenes), batch):
    chunk = scenes[i:i + batch]
    pad = np.repeat(chunk[-1:], batch - len(chunk), axis=0)
    im, m = fn(jnp.asarray(np.concatenate([chunk, pad]), jnp.float32))
    images.append(np.asarray(im)[:len(chunk)])
    masks.append(np.asarray(m)[:len(chunk)])
  return np.concatenate(images), np.concatenate(masks)


def clean(scenes: np.ndarray, **values: float) -> np.ndarray:
  """Scenes without occluders (no lock, glasses, hat, long hair), edited."""
  out = scenes.copy()
  base = dict(lock=0.0, glasses=0.0, hat=0.0, hair_length=0.0,
              ear_cover=0.0, fringe=0.3)
  for name, value in {**base, **values}.items():
    out[:, ff._INDEX[name]] = value
  return out


def centroid_x(mask: np.ndarray) -> float:
  return float(np.nonzero(mask)[1].mean())


@pytest.fixture(scope='module')
def seeds256():
  scenes = scenes_of(range(256))
  images, masks = render(scenes)
  return scenes, images, masks


def test_module_api():
  assert ff.RESOLUTION == 128
  names = ff.CLASS_NAMES
  assert len(names) >= 20 and len(set(names)) == len(names)
  assert names[0] == 'background'
  for name in ('skin', 'neck', 'clothes', 'hair', 'hat', 'l_ear', 'r_ear',
               'earring', 'l_brow', 'r_brow', 'l_eye', 'r_eye', 'l_iris',
               'r_iris', 'nose', 'nostrils', 'upper_lip', 'lower_lip',
               'mouth', 'glasses'):
    assert name in names, name
  assert names[ff.GLASSES_CLASS] == 'glasses'
  assert ff.NUM_PARAMS == len(ff.PARAMS)
  assert all(lo < hi for lo, hi in ff.PARAMS.values())
  fine_names, fine = ff.LABEL_SETS['fine']
  assert fine_names == names and fine.dtype == np.int32
  np.testing.assert_array_equal(fine, np.arange(len(names)))
  glasses_names, lookup = ff.LABEL_SETS['glasses']
  assert glasses_names == ('background', 'glasses')
  assert lookup.dtype == np.int32 and lookup.shape == (len(names),)
  assert lookup[ff.GLASSES_CLASS] == 1 and lookup.sum() == 1
  scene = np.asarray(ff.scene_from_latent(np.zeros((2, ff.NUM_PARAMS))))
  np.testing.assert_allclose(scene, 0.5)
  with pytest.raises(ValueError, match='dims'):
    ff.scene_from_latent(np.zeros((1, ff.NUM_PARAMS + 1), np.float32))


def test_images_and_exact_masks(seeds256):
  _, images, masks = seeds256
  assert images.shape == (256, 128, 128, 3) and images.dtype == np.float32
  assert masks.shape == (256, 128, 128) and masks.dtype == np.int32
  assert np.isfinite(images).all()
  assert images.min() >= 0.0 and images.max() <= 1.0
  assert masks.min() >= 0 and masks.max() < len(ff.CLASS_NAMES)
  # Faces differ from each other and fill a plausible share of the frame.
  assert np.abs(images[1:] - images[:-1]).mean() > 0.05
  fg = (masks > 0).mean(axis=(1, 2))
  assert fg.min() > 0.2 and fg.max() < 0.8


def test_extreme_scenes_are_finite():
  scenes = np.stack([np.zeros(ff.NUM_PARAMS), np.ones(ff.NUM_PARAMS),
                     np.full(ff.NUM_PARAMS, 0.5)]).astype(np.float32)
  images, masks = render(scenes)
  assert np.isfinite(images).all()
  assert (masks == ID['skin']).any(axis=(1, 2)).all()


def test_every_class_appears_in_256_seeds(seeds256):
  _, _, masks = seeds256
  counts = np.bincount(masks.ravel(), minlength=len(ff.CLASS_NAMES))
  missing = [n for n, c in zip(ff.CLASS_NAMES, counts) if c == 0]
  assert not missing


def test_accessories_follow_their_switches(seeds256):
  scenes, _, masks = seeds256
  has = lambda name: (masks == ID[name]).any(axis=(1, 2))
  value = lambda name: scenes[:, ff._INDEX[name]]
  np.testing.assert_array_equal(has('hat'), value('hat') > 0.85)
  np.testing.assert_array_equal(has('glasses'), value('glasses') > 0.9)
  # Earrings and the mouth interior show only when switched on (they can
  # be hidden: by hair, behind the head).
  assert not (has('earring') & (value('earrings') <= 0.7)).any()
  assert has('earring').sum() >= 0.6 * (value('earrings') > 0.7).sum()
  assert not (has('mouth') & (value('mouth_open') <= 0.45)).any()
  assert has('mouth').sum() >= 0.8 * (value('mouth_open') > 0.5).sum()


def test_glasses_in_ten_percent_of_1000_seeds():
  scenes = scenes_of(range(1000))
  _, masks = render(scenes, resolution=32, batch=1000)
  shown = (masks == ff.GLASSES_CLASS).any(axis=(1, 2))
  np.testing.assert_array_equal(shown, scenes[:, ff._INDEX['glasses']] > 0.9)
  assert 0.07 <= shown.mean() <= 0.13
  # The 'glasses' label set keeps exactly the glasses pixels.
  lookup = ff.LABEL_SETS['glasses'][1]
  np.testing.assert_array_equal(lookup[masks] == 1,
                                masks == ff.GLASSES_CLASS)


def test_small_parts_are_at_least_two_pixels_across(seeds256):
  _, _, masks = seeds256
  masks = masks[:64]
  for name in SMALL:
    part = masks == ID[name]
    block = part[:, :-1, :-1] & part[:, 1:, :-1] & part[:, :-1, 1:] & (
        part[:, 1:, 1:])
    present = part.sum(axis=(1, 2)) >= 4
    ok = block.any(axis=(1, 2))[present]
    assert present.sum() >= 10, name
    assert ok.mean() >= 0.9, (name, ok.mean())


def test_left_and_right_are_the_persons(seeds256):
  """The person's left part lies at larger image x, whatever the yaw."""
  _, _, natural = seeds256
  turned = clean(scenes_of(range(32)))
  turned = np.concatenate([turned, turned])
  turned[:32, ff._INDEX['yaw']] = 0.0   # -35 degrees
  turned[32:, ff._INDEX['yaw']] = 1.0   # +35 degrees
  _, turned_masks = render(turned)
  checked = 0
  for masks in (natural[:64], turned_masks):
    for m in masks:
      for left, right in PAIRS:
        ml, mr = m == ID[left], m == ID[right]
        if ml.sum() >= 4 and mr.sum() >= 4:
          assert centroid_x(ml) > centroid_x(mr), (left, right)
          checked += 1
  assert checked > 200


def test_yaw_hides_the_far_ear_and_foreshortens_the_far_eye():
  base = clean(scenes_of(range(16)))
  scenes = np.concatenate([base] * 3)
  for k, yaw in enumerate((0.0, 0.5, 1.0)):  # -35, 0, +35 degrees
    scenes[16 * k:16 * (k + 1), ff._INDEX['yaw']] = yaw
  _, masks = render(scenes)
  count = lambda name: (masks == ID[name]).sum(axis=(1, 2)).reshape(3, 16)
  l_ear, r_ear = count('l_ear'), count('r_ear')
  l_eye, r_eye = count('l_eye'), count('r_eye')
  # Frontal: both ears show (they stick out of the head's silhouette).
  assert (l_ear[1] > 0).all() and (r_ear[1] > 0).all()
  # Turned towards the person's right (yaw < 0): the right ear is the far
  # one and disappears, the left one comes round and grows; and back.
  assert (r_ear[0] == 0).all() and (l_ear[0] > l_ear[1]).all()
  assert (l_ear[2] == 0).all() and (r_ear[2] > r_ear[1]).all()
  # The far eye foreshortens.
  assert (r_eye[0] < l_eye[0]).all() and (l_eye[2] < r_eye[2]).all()
  # The nose moves with the turn, further than the face outline.
  nose = np.array([[centroid_x(m == ID['nose']) for m in masks[16 * k:
                                                               16 * k + 16]]
                   for k in range(3)])
  skin = np.array([[centroid_x(m == ID['skin']) for m in masks[16 * k:
                                                               16 * k + 16]]
                   for k in range(3)])
  assert (nose[0] < nose[1] - 5).all() and (nose[2] > nose[1] + 5).all()
  assert ((nose[2] - nose[0]) > (skin[2] - skin[0])).all()


def test_mouth_interior_only_when_open():
  base = clean(scenes_of(range(32)))
  scenes = np.concatenate([base, base])
  scenes[:32, ff._INDEX['mouth_open']] = 0.3
  scenes[32:, ff._INDEX['mouth_open']] = 0.95
  _, masks = render(scenes)
  mouth = (masks == ID['mouth']).sum(axis=(1, 2))
  assert (mouth[:32] == 0).all()
  assert (mouth[32:] >= 6).all()
  for name in ('upper_lip', 'lower_lip'):
    assert (masks == ID[name]).any(axis=(1, 2)).all()


def test_lenses_are_translucent_and_labelled_glasses():
  base = clean(scenes_of(range(32)), yaw=0.5, gaze_x=0.5)
  with_glasses = base.copy()
  with_glasses[:, ff._INDEX['glasses']] = 0.95
  images, masks = render(np.concatenate([base, with_glasses]))
  bare, worn = images[:32], images[32:]
  corr = []
  for i in range(32):
    eye = np.isin(masks[i], [ID[n] for n in
                             ('l_eye', 'r_eye', 'l_iris', 'r_iris')])
    under = eye & (masks[32 + i] == ff.GLASSES_CLASS)
    # The mask says glasses over (almost) the whole eye ...
    assert under.sum() >= 0.9 * eye.sum()
    # ... while the image still shows the eye through the lens.
    a, b = bare[i][under].mean(-1), worn[i][under].mean(-1)
    corr.append(np.corrcoef(a, b)[0, 1])
    assert np.abs(a - b).mean() > 0.01
  assert np.median(corr) > 0.8


def test_deterministic_and_batch_consistent(seeds256):
  scenes, images, masks = seeds256
  again = render(scenes[:BATCH])
  np.testing.assert_array_equal(again[0], images[:BATCH])
  np.testing.assert_array_equal(again[1], masks[:BATCH])
  # A sample renders the same whatever the rest of its batch holds.
  mixed = np.concatenate([scenes[BATCH:2 * BATCH][::-1],
                          np.repeat(scenes[:1], BATCH, axis=0)])
  im, m = render(mixed)
  np.testing.assert_allclose(im[:BATCH], images[BATCH:2 * BATCH][::-1],
                             atol=1e-6)
  np.testing.assert_array_equal(m[:BATCH], masks[BATCH:2 * BATCH][::-1])
  np.testing.assert_allclose(im[BATCH:], np.repeat(images[:1], BATCH, 0),
                             atol=1e-6)


def test_images_change_smoothly_with_the_scene(seeds256):
  """A small step in every continuous parameter moves the image little."""
  scenes, images, _ = seeds256
  step = scenes[:BATCH].copy()
  switches = [ff._INDEX[n] for n in ('glasses', 'hat', 'earrings',
                                     'lock', 'mouth_open')]
  keep = np.ones(ff.NUM_PARAMS, bool)
  keep[switches] = False
  step[:, keep] = np.clip(step[:, keep] + 0.002, 0.0, 1.0)
  moved, _ = render(step)
  diff = np.abs(moved - images[:BATCH]).mean(axis=(1, 2, 3))
  assert diff.max() < 0.01
