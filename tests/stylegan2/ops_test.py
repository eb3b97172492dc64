"""StyleGAN2 kernels against naive numpy implementations of their maths."""

import jax
import numpy as np
import pytest

from stylegan_seg_jax.stylegan2 import ops

pytestmark = pytest.mark.fast


def naive_upfirdn2d(x, fir, up, down, pad, gain):
  """Literal NVIDIA definition on NHWC, with loops."""
  n, h, w, c = x.shape
  f = np.outer(fir, fir).astype(np.float64)
  f = f / f.sum() * gain
  u = np.zeros((n, h * up, w * up, c))
  u[:, ::up, ::up] = x
  x0, x1, y0, y1 = pad
  p = np.zeros((n, h * up + max(y0, 0) + max(y1, 0),
                w * up + max(x0, 0) + max(x1, 0), c))
  p[:, max(y0, 0):max(y0, 0) + h * up, max(x0, 0):max(x0, 0) + w * up] = u
  p = p[:, max(-y0, 0):p.shape[1] - max(-y1, 0),
        max(-x0, 0):p.shape[2] - max(-x1, 0)]
  kh, kw = f.shape
  oh, ow = p.shape[1] - kh + 1, p.shape[2] - kw + 1
  out = np.zeros((n, oh, ow, c))
  ff = f[::-1, ::-1]  # true convolution
  for i in range(oh):
    for j in range(ow):
      out[:, i, j] = np.einsum('nhwc,hw->nc', p[:, i:i + kh, j:j + kw], ff)
  return out[:, ::down, ::down]


@pytest.mark.parametrize('fir,up,down,pad,gain', [
    ((1, 3, 3, 1), 2, 1, (2, 1, 2, 1), 4.0),   # skip-image upsample
    ((1, 3, 3, 1), 1, 1, (1, 1, 1, 1), 4.0),   # blur after the up-conv
    ((1, 3, 3, 1), 1, 2, (1, 1, 1, 1), 1.0),   # downsample
    ((1, 2, 5), 3, 2, (3, -1, 0, 2), 2.0),     # asymmetric, crop, odd factors
])
def test_upfirdn2d_matches_definition(fir, up, down, pad, gain):
  x = np.random.default_rng(0).standard_normal((2, 7, 6, 3)).astype(np.float32)
  got = ops.upfirdn2d(x, fir, up=up, down=down, pad=pad, gain=gain)
  want = naive_upfirdn2d(x, np.asarray(fir, np.float64), up, down, pad, gain)
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_upsample2d_doubles_and_preserves_constants():
  x = np.full((1, 5, 5, 2), 3.0, np.float32)
  y = np.asarray(ops.upsample2d(x))
  assert y.shape == (1, 10, 10, 2)
  np.testing.assert_allclose(y[:, 2:-2, 2:-2], 3.0, atol=1e-6)


def naive_modulated_conv(x, w_hwio, styles, demodulate, up):
  """Per-sample kernels (the "fused" form), literal loops, float64.

  For `up`, the PyTorch semantics: `conv_transpose2d` (stride 2, no pad) with
  the PyTorch kernel, which is the stored correlation kernel flipped, then the
  [1, 3, 3, 1] blur with pad 1 and gain 4.
  """
  x = x.astype(np.float64)
  n, h, w, i_ch = x.shape
  k, _, _, o_ch = w_hwio.shape
  out = []
  for b in range(n):
    wk = w_hwio.astype(np.float64) / np.sqrt(i_ch * k * k)
    wk = wk * styles[b][None, None, :, None]
    if demodulate:
      wk = wk / np.sqrt(np.sum(wk**2, axis=(0, 1, 2), keepdims=True) + 1e-8)
    if up:
      wpt = wk[::-1, ::-1]
      v = np.zeros((2 * h + k - 2, 2 * w + k - 2, o_ch))
      for r in range(h):
        for c in range(w):
          v[2 * r:2 * r + k, 2 * c:2 * c + k] += np.einsum(
              'i,hwio->hwo', x[b, r, c], wpt)
      out.append(naive_upfirdn2d(v[None], np.array([1., 3, 3, 1]), 1, 1,
                                 (1, 1, 1, 1), 4.0)[0])
    else:
      p = k // 2
      xp = np.pad(x[b], ((p, p), (p, p), (0, 0)))
      y = np.zeros((h, w, o_ch))
      for r in range(h):
        for c in range(w):
          y[r, c] = np.einsum('hwi,hwio->o', xp[r:r + k, c:c + k], wk)
      out.append(y)
  return np.stack(out)


@pytest.mark.parametrize('k,demodulate,up', [
    (3, True, False), (3, True, True), (1, False, False), (3, False, True)])
def test_modulated_conv_matches_per_sample_kernels(k, demodulate, up):
  rng = np.random.default_rng(1)
  x = rng.standard_normal((2, 5, 5, 4)).astype(np.float32)
  w = rng.standard_normal((k, k, 4, 3)).astype(np.float32)  # asymmetric
  s = rng.standard_normal((2, 4)).astype(np.float32) + 1.0
  got = ops.modulated_conv2d(x, w, s, demodulate=demodulate, up=up)
  want = naive_modulated_conv(x, w, s, demodulate, up)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)


def test_pixel_norm_and_bias_act():
  z = np.array([[3.0, 4.0]], np.float32)
  np.testing.assert_allclose(ops.pixel_norm(z), z / np.sqrt(12.5), rtol=1e-6)
  x = np.array([[-1.0, 2.0, 300.0]], np.float32)
  y = ops.bias_act(x, np.array([0.5, 0.0, 0.0], np.float32), lrelu=True,
                   clamp=256.0)
  np.testing.assert_allclose(
      y, [[-0.1 * np.sqrt(2), 2 * np.sqrt(2), 256.0]], rtol=1e-6)


def test_equalized_dense():
  rng = np.random.default_rng(2)
  x, w, b = (rng.standard_normal(s).astype(np.float32)
             for s in ((3, 8), (8, 5), (5,)))
  got = ops.equalized_dense(x, w, b, lr_multiplier=0.01)
  np.testing.assert_allclose(got, x @ (w * 0.01 / np.sqrt(8)) + b * 0.01,
                             rtol=1e-5, atol=1e-7)
  assert jax.numpy.asarray(got).dtype == np.float32
