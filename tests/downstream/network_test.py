"""The downstream U-Net and its exported form."""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax.downstream import exported
from stylegan_seg_jax.downstream import network


@pytest.mark.fast
def test_unet_maps_images_to_per_pixel_logits():
  net = network.UNet(num_classes=5, widths=(8, 16, 32))
  x = jnp.zeros((2, 16, 16, 3))
  params = net.init(jax.random.key(0), x)
  assert net.apply(params, x).shape == (2, 16, 16, 5)
  assert network.stride((8, 16, 32)) == 4
  with pytest.raises(ValueError, match='not a multiple of 4'):
    net.apply(params, jnp.zeros((1, 18, 18, 3)))


@pytest.mark.slow
def test_unet_is_translation_equivariant_in_its_interior():
  # A fully convolutional network: shifting the input by the stride
  # shifts the logits, away from the borders.
  net = network.UNet(num_classes=3, widths=(4, 8))
  x = jax.random.normal(jax.random.key(1), (1, 32, 32, 3))
  params = net.init(jax.random.key(0), x)
  # GroupNorm statistics cover the whole image: compare on a periodic
  # input so the statistics do not change with the shift.
  tile = x[:, :8, :8]
  periodic = jnp.tile(tile, (1, 4, 4, 1))
  shifted = jnp.roll(periodic, 8, axis=2)
  a = net.apply(params, periodic)
  b = net.apply(params, shifted)
  np.testing.assert_allclose(np.asarray(a[:, 8:24, 8:16]),
                             np.asarray(b[:, 8:24, 16:24]), atol=1e-5)


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
  """(network, the directory it was saved to); read-only."""
  module = network.UNet(num_classes=3, widths=(4, 8))
  params = module.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))['params']
  net = exported.Network(module, params, ('a', 'b', 'c'), 8, 'test')
  out = tmp_path_factory.mktemp('saved') / 'net'
  exported.save(out, net)
  return net, out


def _copy(saved, tmp_path):
  shutil.copytree(saved[1], tmp_path / 'net')
  return tmp_path / 'net'


@pytest.mark.fast
def test_a_saved_network_loads_and_segments_the_same(saved):
  net, out = saved
  back = exported.load(out)
  assert back.class_names == ('a', 'b', 'c') and back.resolution == 8
  images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), np.uint8)
  np.testing.assert_array_equal(back.segment(images), net.segment(images))
  # Naive twin of `segment`: the module applied to the scaled images.
  logits = net.module.apply({'params': net.params},
                            jnp.asarray(images, jnp.float32) / 127.5 - 1)
  np.testing.assert_array_equal(net.segment(images, batch_size=2),
                                np.argmax(np.asarray(logits), -1))


@pytest.mark.parametrize('edit, message', [
    (lambda m: m.update(format='other'), 'format'),
    (lambda m: m.update(widths=[4, 100000]), 'out of range'),
    (lambda m: m.update(resolution=9), 'out of range'),
    (lambda m: m.update(class_names=[str(i) for i in range(300)]),
     'out of range'),
    (lambda m: m.pop('widths'), 'widths'),
])
@pytest.mark.fast
def test_a_malformed_description_is_refused(saved, tmp_path, edit, message):
  record = _copy(saved, tmp_path) / exported.NETWORK_FILE
  meta = json.loads(record.read_text())
  edit(meta)
  record.write_text(json.dumps(meta))
  with pytest.raises(ValueError, match=message):
    exported.load(tmp_path / 'net')


@pytest.mark.fast
def test_a_description_that_is_not_an_object_or_absent_is_refused(
    saved, tmp_path):
  with pytest.raises(ValueError, match='no network.json'):
    exported.load(tmp_path)
  (_copy(saved, tmp_path) / exported.NETWORK_FILE).write_text('[1, 2]')
  with pytest.raises(ValueError, match='not a JSON object'):
    exported.load(tmp_path / 'net')
