"""Parity of converted checkpoints with the PyTorch reference generators.

Every checkpoint file here is written by the reference code (or, for TF, with
TF's variable names and layouts), converted with the torch-free converter and
run through the Flax generator. The image and every conv activation must
match the reference within atol 1e-4 in float32.
"""

import numpy as np
import pytest
import torch

from stylegan_seg_jax import convert
from stylegan_seg_jax import stylegan2
from tests.references import torch_models as refs

ATOL = 1e-4


def _assert_close(name, got, want, atol=ATOL):
  got, want = np.asarray(got), np.asarray(want)
  assert got.shape == want.shape, (name, got.shape, want.shape)
  err = float(np.abs(got - want).max())
  assert err <= atol, f'{name}: max |diff| {err:.3g} > {atol}'
  return err


def _assert_outputs_close(img, feats, img_ref, feats_ref, atol=ATOL):
  """The image and each feature map (as many as both have) within `atol`."""
  _assert_close('image', img, img_ref, atol)
  for i, (a, b) in enumerate(zip(feats, feats_ref)):
    _assert_close(f'feature {i}', a, b, atol)


def _convert(tmp_path, src, **kwargs):
  out = tmp_path / (src.name + '.converted')
  convert.convert_file(src, out, **kwargs)
  return out


def _tf_generator(g, tmp_path, name, **kwargs):
  """`g` written as an NVIDIA TF pickle `name`, converted and loaded."""
  src = tmp_path / name
  refs.write_tf_pkl(src, g, **kwargs)
  return stylegan2.load(_convert(tmp_path, src))


def _distinct_wplus(rng, n, num_ws, w_dim):
  return rng.standard_normal((n, num_ws, w_dim)).astype(np.float32)


@pytest.fixture(scope='module')
def nvidia32(tmp_path_factory):
  g = refs.nvidia_generator(resolution=32, conv_clamp=None, seed=3)
  tmp = tmp_path_factory.mktemp('nvidia32')
  src = tmp / 'network-snapshot.pkl'
  refs.write_nvidia_pkl(src, g)
  return g, stylegan2.load(_convert(tmp, src)), src


@pytest.mark.fast
@pytest.mark.parametrize('psi', [1.0, 0.7])
def test_nvidia_mapping_and_synthesis_match(nvidia32, psi):
  g, gen, _ = nvidia32
  z = np.random.default_rng(0).standard_normal((3, 32)).astype(np.float32)
  ws_ref = refs.nvidia_mapping(g, z, psi)
  w = gen.mapping(z, psi=psi)
  _assert_close('w', w, ws_ref[:, 0], atol=1e-5)
  img_ref, feats_ref, _ = refs.nvidia_outputs(g, ws_ref)
  img, feats = gen.synthesis(w)
  assert len(feats) == len(feats_ref) == 7
  _assert_outputs_close(img, feats, img_ref, feats_ref)


@pytest.mark.fast
def test_nvidia_truncation_cutoff_matches(nvidia32):
  g, gen, _ = nvidia32
  z = np.random.default_rng(1).standard_normal((2, 32)).astype(np.float32)
  ws_ref = refs.nvidia_mapping(g, z, 0.5, cutoff=3)
  ws = gen.mapping(z, psi=0.5, cutoff=3)
  _assert_close('W+ with cutoff', ws, ws_ref, atol=1e-5)
  assert not np.allclose(ws_ref[:, 0], ws_ref[:, 5])


@pytest.mark.fast
def test_nvidia_wplus_distinct_rows(nvidia32):
  g, gen, _ = nvidia32
  ws = _distinct_wplus(np.random.default_rng(2), 2, gen.config.num_ws, 32)
  img_ref, feats_ref, _ = refs.nvidia_outputs(g, ws)
  img, feats = gen.synthesis(ws)
  _assert_outputs_close(img, feats, img_ref, feats_ref)


@pytest.mark.fast
def test_nvidia_conv_clamp_actually_clips(tmp_path):
  g = refs.nvidia_generator(resolution=16, conv_clamp=256, seed=5)
  with torch.no_grad():  # Large biases push activations past +-256.
    for name, p in g.named_parameters():
      if (name.endswith('.bias') and 'affine' not in name
          and 'mapping' not in name):
        p.mul_(2000.0)
  src = tmp_path / 'clamped.pkl'
  refs.write_nvidia_pkl(src, g)
  gen = stylegan2.load(_convert(tmp_path, src))
  assert gen.config.conv_clamp == 256
  z = np.random.default_rng(3).standard_normal((2, 32)).astype(np.float32)
  ws_ref = refs.nvidia_mapping(g, z, 1.0)
  img_ref, feats_ref, _ = refs.nvidia_outputs(g, ws_ref)
  clipped = sum(int(np.sum(np.abs(f) >= 256.0 - 1e-3)) for f in feats_ref)
  assert clipped > 0, 'the fixture must make the clamp active'
  img, feats = gen.synthesis(gen.mapping(z))
  scale = max(float(np.abs(img_ref).max()), 1.0)
  _assert_close('image', img, img_ref, atol=ATOL * scale)
  for i, (a, b) in enumerate(zip(feats, feats_ref)):
    _assert_close(f'feature {i}', a, b, atol=ATOL * 256)
  # Without the clamp the function is different.
  unclamped = stylegan2.Generator(
      stylegan2.StyleGAN2(gen.config.replace(conv_clamp=None)), gen.variables,
      gen.config.replace(conv_clamp=None))
  _, feats_nc = unclamped.synthesis(gen.mapping(z))
  assert max(float(np.abs(np.asarray(f)).max()) for f in feats_nc) > 300


@pytest.mark.fast
def test_tf_pickle_matches_nvidia(nvidia32, tmp_path):
  g, gen_nv, _ = nvidia32
  gen = _tf_generator(g, tmp_path, 'stylegan2-tf.pkl')
  assert gen.metadata['source_format'] == 'tf'
  assert gen.config == gen_nv.config
  z = np.random.default_rng(4).standard_normal((2, 32)).astype(np.float32)
  ws_ref = refs.nvidia_mapping(g, z, 0.7)
  img_ref, feats_ref, _ = refs.nvidia_outputs(g, ws_ref)
  img, feats = gen.synthesis(gen.mapping(z, psi=0.7))
  _assert_outputs_close(img, feats, img_ref, feats_ref)


@pytest.mark.fast
def test_tf_fixture_is_what_nvidias_own_loader_reads(nvidia32, tmp_path):
  """The TF-format pickle is written by this project's inverse mapping; NVIDIA's
  own TF loader (legacy.convert_tf_generator) must read it back as the
  network it came from, so the fixture does not just mirror our converter.
  """
  g, _, _ = nvidia32
  src = tmp_path / 'tf.pkl'
  refs.write_tf_pkl(src, g)
  g_tf = refs.nvidia_tf_loader(src)
  z = np.random.default_rng(6).standard_normal((2, 32)).astype(np.float32)
  ws = refs.nvidia_mapping(g, z, 0.7)
  np.testing.assert_allclose(refs.nvidia_mapping(g_tf, z, 0.7), ws, atol=1e-5)
  img, feats, _ = refs.nvidia_outputs(g, ws)
  img_tf, feats_tf, _ = refs.nvidia_outputs(g_tf, ws)
  _assert_outputs_close(img_tf, feats_tf, img, feats, atol=1e-5)


@pytest.mark.fast
def test_the_ema_generator_is_converted(nvidia32, tmp_path):
  """Every fixture stores a different network as the training generator
  (NVIDIA G, rosinality g, TF G); the converter must take G_ema / g_ema /
  Gs."""
  g, gen_nv, src = nvidia32
  other = refs.perturbed_copy(g)
  w_other = other.mapping.fc0.weight.detach().numpy().T
  w_ema = g.mapping.fc0.weight.detach().numpy().T
  assert not np.allclose(w_other, w_ema)
  converted = np.asarray(gen_nv.variables['params']['mapping']['fc0']['weight'])
  np.testing.assert_array_equal(converted, w_ema)
  gen_tf = _tf_generator(g, tmp_path, 'tf.pkl')
  np.testing.assert_allclose(
      gen_tf.variables['params']['mapping']['fc0']['weight'], w_ema,
      atol=1e-7)


@pytest.mark.fast
def test_tf_conv0_flip_and_mod_bias_are_applied(nvidia32, tmp_path):
  """The TF up-conv kernel is the NVIDIA one flipped; mod_bias lacks the +1."""
  g, gen_nv, _ = nvidia32
  gen = _tf_generator(g, tmp_path, 'tf.pkl')
  p_tf, p_nv = gen.variables['params'], gen_nv.variables['params']
  for res in (8, 16, 32):
    np.testing.assert_array_equal(p_tf['synthesis'][f'b{res}']['conv0']['weight'],
                                  p_nv['synthesis'][f'b{res}']['conv0']['weight'])
  w_nv = g.synthesis.b8.conv0.weight.detach().numpy()  # OIHW, PyTorch
  stored = np.asarray(p_tf['synthesis']['b8']['conv0']['weight'])  # HWIO
  np.testing.assert_array_equal(stored, np.transpose(w_nv[:, :, ::-1, ::-1],
                                                     (2, 3, 1, 0)))
  assert not np.array_equal(stored, np.transpose(w_nv, (2, 3, 1, 0)))
  bias_nv = g.synthesis.b8.conv0.affine.bias.detach().numpy()
  np.testing.assert_allclose(p_tf['synthesis']['b8']['conv0']['affine']['bias'],
                             bias_nv, atol=1e-6)


@pytest.mark.fast
def test_tf_pickle_without_average_latent_gets_estimate(nvidia32, tmp_path):
  g, _, _ = nvidia32
  gen = _tf_generator(g, tmp_path, 'tf-noavg.pkl', with_avg=False)
  assert gen.metadata['w_avg'] == {'source': 'estimated', 'num_samples': 4096,
                                   'seed': 0}
  # Independent estimate with the reference mapping network, other z draws.
  z = np.random.default_rng(0).standard_normal((4096, 32)).astype(np.float32)
  w_ref = refs.nvidia_mapping(g, z, 1.0)[:, 0].mean(0)
  w_avg = np.asarray(gen.variables['buffers']['mapping']['w_avg'])
  assert np.abs(w_avg - w_ref).max() < 0.1 * np.abs(w_ref).max()


@pytest.mark.fast
def test_lower_resolution_matches_reference_block_output(nvidia32, tmp_path):
  g, gen_full, src = nvidia32
  z = np.random.default_rng(5).standard_normal((2, 32)).astype(np.float32)
  ws_ref = refs.nvidia_mapping(g, z, 0.7)
  _, feats_ref, block_imgs = refs.nvidia_outputs(g, ws_ref)
  # Cut when loading a full conversion, and cut by the converter.
  for gen in (stylegan2.load(_convert(tmp_path, src), resolution=16),
              stylegan2.load(_convert(tmp_path / 'r16', src, resolution=16))):
    assert gen.config.resolution == 16 and gen.config.num_ws == 6
    img, feats = gen.synthesis(gen.mapping(z, psi=0.7))
    assert len(feats) == 5
    _assert_close('16x16 skip image', img, block_imgs[2])
    for i, (a, b) in enumerate(zip(feats, feats_ref[:5])):
      _assert_close(f'feature {i}', a, b)
    # W+ rows of the full model are accepted; the extra ones are ignored.
    img_plus, _ = gen.synthesis(ws_ref)
    _assert_close('16x16 from full W+', img_plus, block_imgs[2])


@pytest.fixture(scope='module')
def rosinality32(tmp_path_factory):
  g = refs.rosinality_generator(size=32, style_dim=64, n_mlp=2, seed=7)
  latent_avg = torch.randn(64) * 0.3
  tmp = tmp_path_factory.mktemp('ros32')
  src = tmp / 'stylegan2-small.pt'
  refs.write_rosinality_pt(src, g, latent_avg)
  return g, latent_avg.numpy(), stylegan2.load(_convert(tmp, src))


@pytest.mark.fast
@pytest.mark.parametrize('psi', [1.0, 0.7])
def test_rosinality_matches(rosinality32, psi):
  g, latent_avg, gen = rosinality32
  assert gen.config.resolution == 32 and gen.config.num_layers == 7
  z = np.random.default_rng(6).standard_normal((3, 64)).astype(np.float32)
  with torch.no_grad():
    w = g.style(torch.from_numpy(z)).numpy()
  w_ref = latent_avg + psi * (w - latent_avg)
  _assert_close('w', gen.mapping(z, psi=psi), w_ref, atol=1e-5)
  ws_plus = np.repeat(w_ref[:, None], gen.config.num_ws, axis=1)
  img_ref, feats_ref = refs.rosinality_outputs(g, ws_plus)
  img, feats = gen.synthesis(gen.mapping(z, psi=psi))
  _assert_close('image', img, img_ref)
  assert len(feats) == len(feats_ref)
  for i, (a, b) in enumerate(zip(feats, feats_ref)):
    _assert_close(f'feature {i}', a, b)


@pytest.mark.fast
def test_rosinality_wplus_distinct_rows(rosinality32):
  g, _, gen = rosinality32
  ws = _distinct_wplus(np.random.default_rng(8), 2, gen.config.num_ws, 64)
  img_ref, feats_ref = refs.rosinality_outputs(g, ws)
  img, feats = gen.synthesis(ws)
  _assert_outputs_close(img, feats, img_ref, feats_ref)


@pytest.mark.fast
def test_rosinality_training_checkpoint_estimates_w_avg(tmp_path):
  g = refs.rosinality_generator(size=16, style_dim=32, n_mlp=2, seed=9)
  src = tmp_path / '010000.pt'
  refs.write_rosinality_pt(src, g, latent_avg=None, training=True)
  gen = stylegan2.load(_convert(tmp_path, src))
  assert gen.metadata['w_avg']['source'] == 'estimated'
  with torch.no_grad():
    w_ref = g.mean_latent(4096).numpy()[0]
  w_avg = np.asarray(gen.variables['buffers']['mapping']['w_avg'])
  assert np.abs(w_avg - w_ref).max() < 0.1 * np.abs(w_ref).max()


@pytest.mark.slow
def test_rosinality_256_config_f(tmp_path):
  """Full-size parity: 256, channel_multiplier 2, 8-layer mapping, w_dim 512."""
  g = refs.rosinality_generator(size=256, style_dim=512, n_mlp=8,
                                channel_multiplier=2, seed=11)
  latent_avg = torch.randn(512) * 0.3
  src = tmp_path / 'stylegan2-256-config-f.pt'
  refs.write_rosinality_pt(src, g, latent_avg)
  gen = stylegan2.load(_convert(tmp_path, src))
  assert gen.config.num_layers == 13
  assert dict(gen.config.channels) == stylegan2.rosinality_channels(256, 2)
  z = np.random.default_rng(12).standard_normal((2, 512)).astype(np.float32)
  w = np.asarray(gen.mapping(z, psi=0.7))
  ws = np.repeat(w[:, None], 14, axis=1)
  ws[:, 5] = ws[:, 5][::-1]  # distinct rows
  img_ref, feats_ref = refs.rosinality_outputs(g, ws)
  img, feats = gen.synthesis(ws)
  assert [f.shape[1:] for f in feats] == [
      (r, r, c) for r, c in gen.config.feature_shapes()]
  _assert_outputs_close(img, feats, img_ref, feats_ref)
