"""The downstream input pipeline against naive twins and hand-made cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.downstream import input_pipeline as ip

pytestmark = pytest.mark.fast

OFF = ip.Augmentation(flip=False, zoom=0.0, shift=0.0, brightness=0.0,
                      contrast=0.0, saturation=0.0, hue=0.0)


def _batch(n=3, r=16, classes=5, seed=0):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8)
  masks = rng.integers(0, classes, (n, r, r)).astype(np.uint8)
  return images, masks


def test_batch_indices_visit_every_example_once_per_epoch_in_any_order():
  n, b, seed = 7, 3, 5
  # Naive twin: the stream as concatenated per-epoch permutations.
  stream = np.concatenate([np.random.default_rng([seed, e]).permutation(n)
                           for e in range(6)])
  for step in range(10):
    got = ip.batch_indices(n, b, seed, step)
    np.testing.assert_array_equal(got, stream[step * b:(step + 1) * b])
  first_epoch = np.concatenate([ip.batch_indices(n, 7, seed, 0)])
  assert sorted(first_epoch) == list(range(n))
  assert not np.array_equal(ip.batch_indices(n, b, 6, 0),
                            ip.batch_indices(n, b, 5, 0))


def test_one_example_is_every_batch():
  for step in range(4):
    np.testing.assert_array_equal(ip.batch_indices(1, 4, 0, step),
                                  np.zeros(4, int))


def test_flip_classes_swaps_left_and_right_names():
  names = ('background', 'l_eye', 'r_eye', 'left_ear', 'right_ear',
           'brow_l', 'brow_r', 'nose', 'l_only', 'wheel_left')
  got = ip.flip_classes(names)
  np.testing.assert_array_equal(got, [0, 2, 1, 4, 3, 6, 5, 7, 8, 9])


def test_no_augmentation_is_the_identity():
  images, masks = _batch()
  x, y = ip.augment(jax.random.key(0), jnp.asarray(images),
                    jnp.asarray(masks), OFF, jnp.arange(5))
  np.testing.assert_allclose(np.asarray(x), images / 255.0 * 2 - 1,
                             atol=2e-6)
  np.testing.assert_array_equal(np.asarray(y), masks)


def test_flip_mirrors_pixels_and_swaps_mirrored_classes():
  images, masks = _batch(n=16)
  mirror = jnp.asarray([0, 2, 1, 3, 4])
  aug = ip.Augmentation(flip=True, zoom=0.0, shift=0.0, brightness=0.0,
                        contrast=0.0, saturation=0.0, hue=0.0)
  x, y = ip.augment(jax.random.key(3), jnp.asarray(images),
                    jnp.asarray(masks), aug, mirror)
  x, y = np.asarray(x), np.asarray(y)
  flipped = 0
  for i in range(16):
    plain = images[i] / 255.0 * 2 - 1
    if np.allclose(x[i], plain, atol=2e-6) and not np.allclose(
        x[i], plain[:, ::-1], atol=2e-6):
      np.testing.assert_array_equal(y[i], masks[i])
    else:
      flipped += 1
      np.testing.assert_allclose(x[i], plain[:, ::-1], atol=2e-6)
      np.testing.assert_array_equal(y[i], np.asarray(mirror)[masks[i][:, ::-1]])
  assert 0 < flipped < 16


def test_warp_by_whole_pixels_is_a_clamped_shift():
  images, masks = _batch(n=2, r=8)
  x = jnp.asarray(images, jnp.float32)
  # Offsets of +2 and -3 pixels in x, +1 and 0 in y; scale 1.
  offset = jnp.asarray([[2 / 8, 1 / 8], [-3 / 8, 0.0]])
  got_x, got_y = ip._warp(x, jnp.asarray(masks), jnp.ones(2), offset,
                          jnp.zeros(2, bool))
  for i, (dx, dy) in enumerate([(2, 1), (-3, 0)]):
    yy = np.clip(np.arange(8) + dy, 0, 7)
    xx = np.clip(np.arange(8) + dx, 0, 7)
    np.testing.assert_allclose(np.asarray(got_x[i]),
                               images[i][yy][:, xx].astype(np.float32),
                               atol=1e-4)
    np.testing.assert_array_equal(np.asarray(got_y[i]), masks[i][yy][:, xx])


def test_zoom_keeps_masks_within_their_classes_and_the_centre_fixed():
  r = 9
  masks = np.zeros((1, r, r), np.uint8)
  masks[0, 4, 4] = 3
  images = np.zeros((1, r, r, 3), np.uint8)
  _, y = ip._warp(jnp.asarray(images, jnp.float32), jnp.asarray(masks),
                  jnp.asarray([3.0]), jnp.zeros((1, 2)), jnp.zeros(1, bool))
  y = np.asarray(y)[0]
  assert set(np.unique(y)) == {0, 3}
  assert y[4, 4] == 3 and (y == 3).sum() == 9  # one pixel, 3x larger


def test_colour_jitter_changes_images_not_masks_and_stays_in_range():
  images, masks = _batch(n=4)
  aug = ip.Augmentation(flip=False, zoom=0.0, shift=0.0, brightness=0.3,
                        contrast=0.5, saturation=0.5, hue=30.0)
  x, y = ip.augment(jax.random.key(1), jnp.asarray(images),
                    jnp.asarray(masks), aug, jnp.arange(5))
  np.testing.assert_array_equal(np.asarray(y), masks)
  x = np.asarray(x)
  assert x.min() >= -1 and x.max() <= 1
  assert np.abs(x - (images / 127.5 - 1)).mean() > 0.01


def _labelled(tmp_path, n=5, r=8):
  images, masks = _batch(n=n, r=r, classes=3)
  rows = [dict(seed=i, z=np.zeros(2, np.float32), w=np.zeros(1, np.float32),
               mask=masks[i], image=images[i]) for i in range(n)]
  d = labelled_set.write(tmp_path, 'small', {'test': rows}, resolution=r,
                         z_dim=2, w_shape=(1,), class_names=('a', 'b', 'c'),
                         metadata={'truncation_psi': 1.0})
  return d, images, masks


def test_tfds_source_reads_the_only_split_and_keeps_the_first_n(tmp_path):
  d, images, masks = _labelled(tmp_path)
  src = ip.TfdsSource(d, num_examples=3)
  assert len(src) == 3 and src.class_names == ('a', 'b', 'c')
  assert src.resolution == 8
  got_i, got_m = src.batch([2, 0])
  np.testing.assert_array_equal(got_i, images[[2, 0]])
  np.testing.assert_array_equal(got_m, masks[[2, 0]])


def test_tfds_source_refusals(tmp_path):
  d, _, _ = _labelled(tmp_path)
  with pytest.raises(ValueError, match='6 examples wanted'):
    ip.TfdsSource(d, num_examples=6)
  with pytest.raises(ValueError, match='no per-image uncertainty'):
    ip.TfdsSource(d, drop_uncertain=0.1)
  with pytest.raises(ValueError, match='no TFDS dataset'):
    ip.TfdsSource(tmp_path / 'nothing')


def test_prefetcher_yields_the_batches_of_consecutive_steps():
  images, masks = _batch(n=5, r=4)
  src = experiment.ImageSet(images, masks, tuple('abcde'), 'test')
  pre = ip.Prefetcher(src, 2, seed=1, start=3)
  it = iter(pre)
  for step in (3, 4, 5, 6):
    got_i, got_m = next(it)
    idx = ip.batch_indices(5, 2, 1, step)
    np.testing.assert_array_equal(got_i, images[idx])
    np.testing.assert_array_equal(got_m, masks[idx])
  pre.close()


def test_an_image_set_refuses_mismatched_arrays_and_bad_ids():
  images, masks = _batch(n=2, r=4, classes=5)
  with pytest.raises(ValueError, match='do not match'):
    experiment.ImageSet(images, masks[:, :3], tuple('abcde'), 'x')
  with pytest.raises(ValueError, match='out of range'):
    experiment.ImageSet(images, masks, ('a', 'b'), 'x')
