"""The faces domain: renderer, the map f, the grid."""

import math
import subprocess
import sys

import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax.domains.faces import render as toy_faces
from tests.helpers import ROOT
from tests.helpers import mask_interior
from tests.helpers import subprocess_env

FACES = domains.get('faces')


@pytest.fixture(scope='module')
def faces():
  z = FACES.latents(range(100, 164))
  images, masks = (np.asarray(a) for a in FACES.render_targets(z))
  return z, images, masks


@pytest.mark.fast
def test_scene_map_is_the_normal_cdf():
  z = np.array([[-1.5, 0.0, 0.7] + [0.0] * (FACES.z_dim - 3)], np.float32)
  scene = np.asarray(toy_faces.scene_from_latent(z))
  want = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z[0]]
  np.testing.assert_allclose(scene[0], want, atol=1e-6)
  with pytest.raises(ValueError, match='dims'):
    toy_faces.scene_from_latent(np.zeros((1, 3), np.float32))


@pytest.mark.fast
def test_latents_are_fixed_by_seed():
  a, b = FACES.latents([0, 1, 2]), FACES.latents([2, 0])
  np.testing.assert_array_equal(a[[2, 0]], b)
  np.testing.assert_array_equal(
      a[0], np.random.default_rng(0).standard_normal(FACES.z_dim).astype(
          np.float32))
  assert not set(FACES.test_seed_list()) & set(FACES.oneshot_seeds)
  assert not set(FACES.test_seed_list()) & set(FACES.eval_seeds)


@pytest.mark.fast
def test_render_is_deterministic_and_per_sample(faces):
  z, images, masks = faces
  images2, masks2 = toy_faces.render(toy_faces.scene_from_latent(z[5:7]))
  np.testing.assert_array_equal(masks[5:7], masks2)
  np.testing.assert_allclose(images[5:7], images2, atol=1e-5)  # jit vs eager
  np.testing.assert_array_equal(FACES.ground_truth(z), masks)
  assert images.shape == (64, 64, 64, 3) and masks.shape == (64, 64, 64)
  assert images.min() >= 0.0 and images.max() <= 1.0
  assert set(np.unique(masks)) == set(range(len(FACES.class_names)))


@pytest.mark.fast
def test_small_parts_are_a_few_pixels_wide(faces):
  _, _, masks = faces
  # Minimum extents over 64 faces (tallest column, widest row): eyes and
  # brows at least 3 x 3 pixels; the mouth and nose at least 2 x 3 / 3 x 2.
  for cls, min_tall, min_wide in (('eye', 3, 3), ('eyebrow', 3, 3),
                                  ('mouth', 2, 3), ('nose', 3, 2)):
    k = FACES.class_names.index(cls)
    tallest = (masks == k).sum(axis=1).max(axis=1)
    widest = (masks == k).sum(axis=2).max(axis=1)
    assert tallest.min() >= min_tall, (cls, tallest.min())
    assert widest.min() >= min_wide, (cls, widest.min())
  ears = (masks == FACES.class_names.index('ear')).sum(axis=(1, 2))
  assert (ears > 0).mean() > 0.8  # ears can hide under long hair


@pytest.mark.fast
def test_mask_agrees_with_image_colours(faces):
  _, images, masks = faces
  inside = mask_interior(masks)
  def px(name):
    sel = inside & (masks == FACES.class_names.index(name))
    return images[sel]
  mouth, skin, eye = px('mouth'), px('skin'), px('eye')
  assert len(mouth) and np.mean(mouth[:, 0] > mouth[:, 1] + 0.1) > 0.99
  # Skin tones: red >= green >= blue on every interior skin pixel.
  assert np.all(skin[:, 0] + 1e-6 >= skin[:, 1])
  assert np.all(skin[:, 1] + 1e-6 >= skin[:, 2])
  del eye
  # Mask boundaries are image edges: neighbouring pixels of different
  # classes differ in colour far more than neighbours inside one region.
  step = np.abs(images[:, :, 1:] - images[:, :, :-1]).max(-1)
  across = masks[:, :, 1:] != masks[:, :, :-1]
  within = inside[:, :, 1:] & inside[:, :, :-1] & ~across
  assert step[across].mean() > 4 * step[within].mean()
  # Background pixels follow the documented gradient: independent of the
  # face, so two faces with equal background params agree there.
  z = FACES.latents([7, 7])
  z[1, toy_faces._INDEX['hair_length']] += 1.0  # pylint: disable=protected-access
  img, m = (np.asarray(a) for a in FACES.render_targets(z))
  inner = mask_interior(m)
  both_bg = inner[0] & inner[1] & (m[0] == 0) & (m[1] == 0)
  np.testing.assert_allclose(img[0][both_bg], img[1][both_bg], atol=1e-6)
  assert not np.array_equal(m[0], m[1])


@pytest.mark.slow
def test_grid_command_writes_a_png(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax', 'toy', 'grid',
       f'--out={tmp_path}', '--num_samples=4', '--seed=3'], cwd=ROOT,
      capture_output=True, text=True, env=subprocess_env())
  assert proc.returncode == 0, proc.stderr
  out = tmp_path / 'toy_faces_grid.png'
  assert f'wrote {out} (seeds 3..6)' in proc.stdout
  from PIL import Image
  img = Image.open(out)
  assert img.width >= 4 * 64 * 3 and img.height >= 2 * 64 * 3
  listed = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax', 'toy', 'list'], cwd=ROOT,
      capture_output=True, text=True, env=subprocess_env())
  assert listed.returncode == 0, listed.stderr
  assert [line.split()[0] for line in listed.stdout.splitlines()] == [
      f'toy:{name}' for name in domains.names()]
  bad = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax', 'toy', 'report',
       '--domain=nope'], cwd=ROOT, capture_output=True, text=True,
      env=subprocess_env())
  assert bad.returncode != 0
  assert bad.stderr.strip().splitlines()[-1].startswith(
      "toy: error: unknown domain 'nope'"), bad.stderr


@pytest.mark.slow
def test_the_rare_part_config_uses_the_first_seeds_that_show_it():
  from configs import toy_faces_glasses  # pylint: disable=g-import-not-at-top
  config = toy_faces_glasses.get_config()
  domain = domains.get('faces_glasses')
  first = domain.oneshot_seed_list(3)
  assert config.data.oneshot == f'toy:faces_glasses:seed:{first[0]}'
  doc = toy_faces_glasses.__doc__
  assert f'"{" ".join(map(str, first))}"' in doc
