"""Images drawn by a domain's renderer, as they are and shifted."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.domains import registry
from stylegan_seg_jax.domains.faces import render as faces_render
from stylegan_seg_jax.runtime import pictures

pytestmark = pytest.mark.fast

FACES = domains.get('faces')


def test_hue_rotation_by_zero_or_a_full_turn_changes_nothing():
  rng = np.random.default_rng(0)
  x = rng.uniform(0.2, 0.8, (4, 5, 5, 3)).astype(np.float32)
  np.testing.assert_allclose(np.asarray(registry.rotate_hue(x, 0.0)), x,
                             atol=1e-5)
  np.testing.assert_allclose(np.asarray(registry.rotate_hue(x, 360.0)), x,
                             atol=1e-5)
  grey = np.full((2, 3), 0.4, np.float32)
  np.testing.assert_allclose(np.asarray(registry.rotate_hue(grey, 90.0)),
                             grey, atol=1e-5)
  # 90 then 270 degrees: back where it started (mid-range, no clipping).
  mild = (0.5 + 0.05 * (x - 0.5)).astype(np.float32)
  np.testing.assert_allclose(
      np.asarray(registry.rotate_hue(registry.rotate_hue(mild, 90.0),
                                     270.0)), mild, atol=1e-5)
  # It does change a colour, and keeps its YIQ luma.
  red = np.array([[0.6, 0.4, 0.4]], np.float32)
  turned = np.asarray(registry.rotate_hue(red, 90.0))
  assert np.abs(turned - red).max() > 0.1
  luma = np.array([0.299, 0.587, 0.114], np.float32)
  np.testing.assert_allclose(turned @ luma, red @ luma, atol=1e-5)


def test_rendered_images_are_the_renderers_drawing_of_the_scene():
  seeds = FACES.render_seed_list()[:4]
  images, masks = FACES.rendered(seeds)
  z = FACES.latents(seeds)
  img, mask = faces_render.render(faces_render.scene_from_latent(
      jnp.asarray(z)))
  np.testing.assert_array_equal(
      images, pictures.to_uint8(np.asarray(img), (0.0, 1.0)))
  np.testing.assert_array_equal(masks, np.asarray(mask))
  np.testing.assert_array_equal(masks, FACES.ground_truth(z))
  assert seeds[0] == FACES.render_seeds.start
  assert not set(seeds) & set(FACES.test_seed_list())


def test_the_shifted_set_extrapolates_the_named_parameters_and_turns_hues():
  seeds = FACES.render_seed_list()[:4]
  images, masks = FACES.rendered(seeds, shifted=True)
  (name, lo, hi), = FACES.shift
  k = list(faces_render.PARAMS).index(name)
  scene = np.array(faces_render.scene_from_latent(
      jnp.asarray(FACES.latents(seeds))))
  scene[:, k] = lo + (hi - lo) * scene[:, k]  # by hand
  img, mask = faces_render.render(jnp.asarray(scene))
  np.testing.assert_array_equal(masks, np.asarray(mask))
  want = pictures.to_uint8(
      np.asarray(registry.rotate_hue(img, FACES.hue_shift)), (0.0, 1.0))
  assert np.abs(images.astype(int) - want.astype(int)).max() <= 1
  plain_images, plain_masks = FACES.rendered(seeds)
  assert (plain_masks != masks).mean() > 0.01  # the heads turned
  assert np.abs(plain_images.astype(int) - images.astype(int)).mean() > 10
  assert 'rotation over [-0.42, 0.42] (trained [-0.14, 0.14])' in (
      FACES.shift_description())


def test_render_set_specs():
  assert domains.render_set_of('toy:faces:shifted') == (FACES, 'shifted')
  for bad in ('toy:faces', 'toy:faces:other', 'faces:rendered',
              'toy:faces:rendered:1'):
    with pytest.raises(domains.DomainError):
      domains.render_set_of(bad)
  with pytest.raises(domains.DomainError, match='unknown domain'):
    domains.render_set_of('toy:nowhere:rendered')


def test_a_shift_of_an_unknown_parameter_is_refused():
  with pytest.raises(ValueError, match='unknown scene parameters'):
    dataclasses.replace(FACES, name='bad', default=False,
                        shift=(('no_such', 0.0, 2.0),))


def test_the_rendered_test_set_is_written_and_read_back(tmp_path):
  small = dataclasses.replace(FACES, name='faces_small', default=False,
                              num_test=6)
  d = experiment.build_render_set(small, 'shifted', tmp_path)
  got = experiment.load_image_set(str(d), tmp_path)
  images, masks = small.rendered(small.render_seed_list(), shifted=True)
  np.testing.assert_array_equal(got.images, images)
  np.testing.assert_array_equal(got.masks, masks)
  assert got.class_names == FACES.class_names
