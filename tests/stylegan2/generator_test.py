"""Generator API: config, truncation, noise modes, W+ handling, save/load."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.stylegan2 import ops

pytestmark = pytest.mark.fast


def _small_config(**kw):
  base = dict(resolution=16, channels=tuple(
      stylegan2.nvidia_channels(16, 256, 32).items()), z_dim=8, w_dim=8,
              mapping_layers=2)
  base.update(kw)
  return stylegan2.GeneratorConfig(**base)


@pytest.fixture(scope='module')
def small():
  gen = stylegan2.init(_small_config(), jax.random.key(0))
  # Non-zero noise strengths, biases and w_avg, so every path matters.
  params = jax.tree_util.tree_map_with_path(
      lambda p, v: v + 0.3 if jax.tree_util.keystr(p).endswith(
          ("'noise_strength']", "'w_avg']")) else v, gen.variables)
  return stylegan2.Generator(gen.module, params, gen.config)


def test_channel_tables_and_counts():
  assert stylegan2.rosinality_channels(256, 2) == {
      4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128}
  assert stylegan2.nvidia_channels(256, 32768, 512) == (
      stylegan2.rosinality_channels(256, 2))
  assert stylegan2.nvidia_channels(256, 16384, 512)[256] == 64
  cfg = stylegan2.GeneratorConfig(
      resolution=256,
      channels=tuple(stylegan2.rosinality_channels(256).items()))
  assert (cfg.num_ws, cfg.num_layers) == (14, 13)
  assert cfg.feature_shapes()[:3] == [(4, 512), (8, 512), (8, 512)]
  assert sum(c for _, c in cfg.feature_shapes()) == 5376  # the paper's hlen
  with pytest.raises(ValueError, match='power of two'):
    stylegan2.GeneratorConfig(resolution=48, channels=((4, 8),))
  with pytest.raises(ValueError, match='no entry'):
    stylegan2.GeneratorConfig(resolution=16, channels=((4, 8), (8, 8)))


def test_config_json_roundtrip():
  cfg = _small_config(conv_clamp=256.0, mapping_features=16)
  again = stylegan2.GeneratorConfig.from_json(json.loads(json.dumps(
      cfg.to_json())))
  assert again == cfg


def test_truncation_by_hand():
  w_avg = jnp.array([1.0, -1.0])
  ws = jnp.array([[[3.0, 1.0], [5.0, -3.0], [1.0, 1.0]]])
  np.testing.assert_allclose(stylegan2.truncate(ws[:, 0], w_avg, 0.5),
                             [[2.0, 0.0]])
  np.testing.assert_allclose(
      stylegan2.truncate(ws, w_avg, 0.5, cutoff=2),
      [[[2.0, 0.0], [3.0, -2.0], [1.0, 1.0]]])
  with pytest.raises(ValueError, match='W\\+'):
    stylegan2.truncate(ws[:, 0], w_avg, 0.5, cutoff=1)


def test_mapping_psi_against_w_avg(small):
  z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
  w1 = np.asarray(small.mapping(z))
  w_avg = np.asarray(small.variables['buffers']['mapping']['w_avg'])
  np.testing.assert_allclose(small.mapping(z, psi=0.6),
                             w_avg + 0.6 * (w1 - w_avg), atol=1e-6)
  np.testing.assert_allclose(small.mapping(z, psi=0.0),
                             np.broadcast_to(w_avg, w1.shape), atol=1e-6)
  wplus = small.mapping(z, psi=0.6, cutoff=2)
  assert wplus.shape == (3, small.config.num_ws, 8)
  np.testing.assert_allclose(wplus[:, 1], w_avg + 0.6 * (w1 - w_avg),
                             atol=1e-6)
  np.testing.assert_allclose(wplus[:, 2], w1, atol=1e-6)


def test_outputs_shapes_and_wplus_broadcast(small):
  w = small.mapping(np.ones((2, 8), np.float32))
  img, feats = small.synthesis(w)
  assert img.shape == (2, 16, 16, 3) and img.dtype == jnp.float32
  assert [f.shape for f in feats] == [
      (2, r, r, c) for r, c in small.config.feature_shapes()]
  img_plus, feats_plus = small.synthesis(
      jnp.repeat(w[:, None], small.config.num_ws, axis=1))
  np.testing.assert_array_equal(img, img_plus)
  for a, b in zip(feats, feats_plus):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(ValueError, match='ws must be'):
    small.synthesis(jnp.zeros((2, small.config.num_ws - 1, 8)))
  with pytest.raises(ValueError, match='ws must be'):
    small.synthesis(jnp.zeros((2, 9)))


def test_wplus_rows_feed_the_documented_layers(small):
  """Changing W+ row 2L-5 first changes block 2^L's conv0 (row 1: b8 conv0)."""
  ws = np.zeros((1, small.config.num_ws, 8), np.float32)
  _, base = small.synthesis(ws)
  ws2 = ws.copy()
  ws2[:, 3] = 1.0  # row 3 = b16 conv0 (and b8's ToRGB)
  _, feats = small.synthesis(ws2)
  changed = [not np.allclose(a, b) for a, b in zip(base, feats)]
  assert changed == [False, False, False, True, True]


def test_noise_modes(small):
  w = small.mapping(np.ones((2, 8), np.float32))
  img_const, _ = small.synthesis(w, noise_mode='const')
  img_none, _ = small.synthesis(w, noise_mode='none')
  zero_noise = jax.tree_util.tree_map_with_path(
      lambda p, v: jnp.zeros_like(v) if 'noise_const' in
      jax.tree_util.keystr(p) else v, small.variables)
  img_zero, _ = stylegan2.Generator(small.module, zero_noise,
                                  small.config).synthesis(w)
  np.testing.assert_allclose(img_none, img_zero, atol=1e-6)
  assert not np.allclose(img_none, img_const)
  key = jax.random.key(5)
  r1, _ = small.synthesis(w, noise_mode='random', rng=key)
  r2, _ = small.synthesis(w, noise_mode='random', rng=key)
  r3, _ = small.synthesis(w, noise_mode='random', rng=jax.random.key(6))
  np.testing.assert_array_equal(r1, r2)
  assert not np.allclose(r1, r3) and not np.allclose(r1, img_const)
  # Random noise is per sample: identical latents get different images.
  assert not np.allclose(r1[0], r1[1])
  with pytest.raises(ValueError, match='rng'):
    small.synthesis(w, noise_mode='random')
  with pytest.raises(ValueError, match='noise_mode'):
    small.synthesis(w, noise_mode='fixed')


def test_rgb_outputs_compose_the_image(small):
  w = small.mapping(np.ones((1, 8), np.float32))
  img, _, rgbs = small.synthesis(w, return_rgb=True)
  assert [r.shape[1] for r in rgbs] == [4, 8, 16]
  recomposed = rgbs[0]
  for rgb in rgbs[1:]:
    recomposed = ops.upsample2d(recomposed) + rgb
  np.testing.assert_allclose(img, recomposed, atol=1e-5)


def test_module_is_pure_and_differentiable_in_jit(small):
  module, variables = small.module, small.variables

  @jax.jit
  def loss(ws):
    _, feats, _ = module.apply(variables, ws,
                               method=stylegan2.StyleGAN2.synthesis)
    return sum(jnp.mean(f**2) for f in feats)

  ws = jnp.ones((2, small.config.num_ws, 8))
  g = jax.grad(loss)(ws)
  assert g.shape == ws.shape and bool(jnp.all(jnp.isfinite(g)))
  assert float(jnp.abs(g).max()) > 0
  assert float(loss(ws)) == float(loss(ws))


def test_save_load_roundtrip_and_prune(small, tmp_path):
  stylegan2.save(tmp_path / 'g', small.config, small.variables,
               {'source_format': 'test'})
  loaded = stylegan2.load(tmp_path / 'g')
  assert loaded.config == small.config
  assert loaded.metadata == {'source_format': 'test'}
  w = small.mapping(np.ones((2, 8), np.float32))
  np.testing.assert_array_equal(loaded.synthesis(w)[0], small.synthesis(w)[0])
  low = stylegan2.load(tmp_path / 'g', resolution=8)
  assert low.config.resolution == 8 and 'b16' not in low.variables['params'][
      'synthesis']
  _, full_feats, rgbs = small.synthesis(w, return_rgb=True)
  img8, feats8 = low.synthesis(w)
  np.testing.assert_allclose(img8, ops.upsample2d(rgbs[0]) + rgbs[1],
                             atol=1e-5)
  for a, b in zip(feats8, full_feats):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(ValueError, match='power of two'):
    stylegan2.load(tmp_path / 'g', resolution=32)
  with pytest.raises(FileNotFoundError, match='stylegan-seg convert'):
    stylegan2.load(tmp_path)
  with pytest.raises(FileExistsError):
    stylegan2.save(tmp_path / 'g', small.config, small.variables)
  with pytest.raises(ValueError, match='missing'):
    bad = {'params': small.variables['params'], 'buffers': {}}
    stylegan2.save(tmp_path / 'h', small.config, bad)
  assert not (tmp_path / 'h').exists()
