"""Lean per-layer projection == the paper's upsample-concat-project path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from stylegan_seg_jax.method import features as feat_lib

pytestmark = pytest.mark.fast

RES = 32
SHAPES = [(4, 6), (8, 5), (8, 5), (16, 3), (32, 2)]  # (resolution, channels)


@pytest.fixture(scope='module')
def feats():
  keys = jax.random.split(jax.random.key(0), len(SHAPES) + 1)
  maps = [jax.random.normal(k, (2, r, r, c)) for k, (r, c) in
          zip(keys, SHAPES)]
  kernel = jax.random.normal(keys[-1], (sum(c for _, c in SHAPES), 7))
  return maps, kernel


@pytest.mark.parametrize('interp', ['nearest', 'bilinear'])
def test_lean_maps_equal_naive_concat(feats, interp):
  maps, kernel = feats
  lean = feat_lib.embed_maps(maps, kernel, RES, interp)
  naive = feat_lib.naive_embed_maps(maps, kernel, RES, interp)
  assert lean.shape == (2, RES, RES, 7)
  np.testing.assert_allclose(lean, naive, atol=1e-5)


@pytest.mark.parametrize('interp', ['nearest', 'bilinear'])
def test_pixels_equal_naive_maps_at_coords(feats, interp):
  maps, kernel = feats
  # 40 pixels: fewer than the 16x16 and 32x32 layers' pixels, more than the
  # 4x4 and 8x8 ones, so both gather-then-project and project-then-gather run.
  coords = jax.random.randint(jax.random.key(1), (2, 40, 2), 0, RES)
  valid = jax.random.bernoulli(jax.random.key(2), 0.8, (2, 40))
  got = feat_lib.embed_pixels(maps, kernel, coords, RES, interp, valid)
  naive = feat_lib.naive_embed_maps(maps, kernel, RES, interp)
  want = jax.vmap(lambda m, c: m[c[:, 0], c[:, 1]])(naive, coords)
  want = jnp.where(valid[..., None], want, 0.0)
  np.testing.assert_allclose(got, want, atol=1e-5)
  sq = feat_lib.squared_norms(maps, coords, RES, interp)
  concat = jnp.concatenate([feat_lib.naive_embed_maps(
      [m], jnp.eye(m.shape[-1]), RES, interp) for m in maps], axis=-1)
  at = jax.vmap(lambda m, c: m[c[:, 0], c[:, 1]])(concat, coords)
  np.testing.assert_allclose(sq, jnp.sum(at**2, -1), rtol=1e-5)


@pytest.mark.parametrize('interp', ['nearest', 'bilinear'])
def test_resampling_matches_torch_interpolate(feats, interp):
  maps, _ = feats
  fmap = np.array(maps[2])  # 8x8 -> 32x32 (a writable copy for torch)
  eye = jnp.eye(fmap.shape[-1])
  got = feat_lib.embed_maps([fmap], eye, RES, interp)
  kw = {} if interp == 'nearest' else {'align_corners': False}
  want = torch.nn.functional.interpolate(
      torch.from_numpy(fmap).permute(0, 3, 1, 2), size=(RES, RES), mode=interp,
      **kw).permute(0, 2, 3, 1).numpy()
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_channel_slices():
  assert feat_lib.channel_slices([3, 2]) == [slice(0, 3), slice(3, 5)]
  coords = feat_lib.grid_coords(3)
  assert coords.shape == (9, 2) and coords[5].tolist() == [1, 2]


@pytest.mark.parametrize('interp,dilation', [('nearest', 1), ('nearest', 2),
                                             ('bilinear', 4)])
def test_lean_conv_equals_conv_of_concat(feats, interp, dilation):
  maps, _ = feats
  kernel = jax.random.normal(jax.random.key(3),
                             (3, 3, sum(c for _, c in SHAPES), 5))
  lean = feat_lib.conv_maps(maps, kernel, RES, dilation, interp)
  # The naive twin: concatenate every upsampled layer, then one convolution.
  naive = feat_lib.conv_same(feat_lib.concat_maps(maps, RES, interp), kernel,
                             dilation)
  assert lean.shape == (2, RES, RES, 5)
  np.testing.assert_allclose(lean, naive, atol=1e-4)
  # And the naive path is torch's Conv2d(padding=dilation) on the concat.
  x = np.array(feat_lib.concat_maps(maps, RES, interp)).transpose(0, 3, 1, 2)
  w = torch.from_numpy(np.array(kernel).transpose(3, 2, 0, 1).copy())
  want = torch.nn.functional.conv2d(torch.from_numpy(x), w,
                                    padding=dilation, dilation=dilation)
  np.testing.assert_allclose(naive, want.permute(0, 2, 3, 1).numpy(),
                             atol=1e-4)
