"""Pure StyleGAN2 kernels on NHWC arrays: FIR resampling and modulated convs.

Everything here is a plain function of `jax.Array`s with no parameters or
state; the linen modules of `networks.py` are built from them.

Conventions (docs/formats.md §1):

* Activations are NHWC, conv weights HWIO in *correlation* orientation (the
  TensorFlow layout). The 2x up-convolution is a correlation of the
  zero-stuffed input with that kernel, which is exactly PyTorch's
  `conv_transpose2d` with the spatially flipped kernel.
* Weights are stored raw; the equalized-learning-rate gains are applied here,
  at run time, as all three reference implementations do.
* FIR filters are 1-D and separable (StyleGAN2 only ever uses [1, 3, 3, 1]).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    'DEFAULT_FIR',
    'fir_taps',
    'upfirdn2d',
    'upsample2d',
    'pixel_norm',
    'bias_act',
    'modulated_conv2d',
    'equalized_dense',
]

DEFAULT_FIR = (1, 3, 3, 1)

# leaky_relu(0.2) output gain used by every StyleGAN2 implementation.
LRELU_GAIN = float(np.sqrt(2.0))


def fir_taps(fir: Sequence[float]) -> np.ndarray:
  """Normalises a 1-D FIR filter so that the separable 2-D filter sums to 1.

  Args:
    fir: 1-D filter taps, e.g. (1, 3, 3, 1).

  Returns:
    float32 array of the taps divided by their sum.
  """
  taps = np.asarray(fir, dtype=np.float64)
  if taps.ndim != 1 or taps.size == 0:
    raise ValueError(f'FIR filter must be 1-D and non-empty, got {fir!r}')
  return (taps / taps.sum()).astype(np.float32)


def _fir_1d(x: jax.Array, taps: np.ndarray, axis: int) -> jax.Array:
  """Valid 1-D true convolution of `x` along `axis` with constant `taps`."""
  k = taps.shape[0]
  n = x.shape[axis] - k + 1
  out = None
  # True convolution: output[m] = sum_t x[m + t] * taps[k - 1 - t].
  for t in range(k):
    coef = float(taps[k - 1 - t])
    if coef == 0.0:
      continue
    term = jax.lax.slice_in_dim(x, t, t + n, axis=axis) * coef
    out = term if out is None else out + term
  # fir_taps divides by the sum, so at least one tap is non-zero.
  assert out is not None
  return out


def _zero_stuff(x: jax.Array, up: int, axis: int) -> jax.Array:
  """Inserts `up - 1` zeros after every sample along `axis` (length * up)."""
  if up == 1:
    return x
  zeros = jnp.zeros_like(x)
  parts = [x] + [zeros] * (up - 1)
  stacked = jnp.stack(parts, axis=axis + 1)
  shape = list(x.shape)
  shape[axis] *= up
  return stacked.reshape(shape)


def _pad_or_crop(x: jax.Array, before: int, after: int, axis: int) -> jax.Array:
  """Pads with zeros (positive values) or crops (negative values) `axis`."""
  if before < 0:
    x = jax.lax.slice_in_dim(x, -before, x.shape[axis], axis=axis)
    before = 0
  if after < 0:
    x = jax.lax.slice_in_dim(x, 0, x.shape[axis] + after, axis=axis)
    after = 0
  if before or after:
    widths = [(0, 0)] * x.ndim
    widths[axis] = (before, after)
    x = jnp.pad(x, widths)
  return x


def upfirdn2d(
    x: jax.Array,
    fir: Sequence[float] = DEFAULT_FIR,
    *,
    up: int = 1,
    down: int = 1,
    pad: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> jax.Array:
  """Upsample, pad, FIR-filter and downsample, as NVIDIA's `upfirdn2d`.

  The four steps, per spatial axis: insert `up - 1` zeros after every sample;
  pad (negative values crop); true-convolve with the separable filter; keep
  every `down`-th sample. Output size per axis:
  `(size * up + pad0 + pad1 - len(fir)) // down + 1`.

  Args:
    x: [N, H, W, C] input.
    fir: 1-D filter taps; normalised to sum 1 per axis.
    up: integer upsampling factor.
    down: integer downsampling factor.
    pad: (x0, x1, y0, y1) padding, in NVIDIA's order (width first).
    gain: overall gain of the 2-D filter (`up ** 2` for upsampling).

  Returns:
    [N, H', W', C] filtered array.
  """
  taps = fir_taps(fir) * np.float32(np.sqrt(gain))
  x0, x1, y0, y1 = pad
  for axis, (p0, p1) in ((1, (y0, y1)), (2, (x0, x1))):
    x = _zero_stuff(x, up, axis)
    x = _pad_or_crop(x, p0, p1, axis)
    x = _fir_1d(x, taps, axis)
    if down > 1:
      x = jax.lax.slice_in_dim(x, 0, x.shape[axis], stride=down, axis=axis)
  return x


def upsample2d(x: jax.Array, fir: Sequence[float] = DEFAULT_FIR) -> jax.Array:
  """2x FIR upsampling of the skip image ([N, H, W, C] -> [N, 2H, 2W, C])."""
  k = len(fir)
  p = k - 2
  p0, p1 = (p + 1) // 2 + 1, p // 2
  return upfirdn2d(x, fir, up=2, pad=(p0, p1, p0, p1), gain=4.0)


def pixel_norm(z: jax.Array, eps: float = 1e-8) -> jax.Array:
  """Normalises each row of z to unit second moment ([N, D] -> [N, D])."""
  mean_square = jnp.mean(jnp.square(z), axis=-1, keepdims=True)
  return z * jax.lax.rsqrt(mean_square + eps)


def bias_act(
    x: jax.Array,
    bias: jax.Array,
    *,
    lrelu: bool,
    clamp: float | None = None,
) -> jax.Array:
  """Adds a per-channel bias, applies leaky ReLU x sqrt(2), clamps.

  Args:
    x: [..., C] input.
    bias: [C] bias.
    lrelu: apply leaky_relu(0.2) * sqrt(2) if True, else linear.
    clamp: optional symmetric clamp applied after the activation gain (NVIDIA's
      `conv_clamp`); None disables it.

  Returns:
    Array shaped like x.
  """
  x = x + bias
  if lrelu:
    x = jax.nn.leaky_relu(x, 0.2) * LRELU_GAIN
  if clamp is not None:
    x = jnp.clip(x, -clamp, clamp)
  return x


def equalized_dense(
    x: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    *,
    lr_multiplier: float = 1.0,
) -> jax.Array:
  """Equalized-learning-rate dense layer, no activation.

  Args:
    x: [N, in] input.
    weight: [in, out] raw weight.
    bias: [out] raw bias or None.
    lr_multiplier: learning-rate multiplier (0.01 for the mapping network).

  Returns:
    [N, out] = x @ (weight * lr / sqrt(in)) + bias * lr.
  """
  gain = lr_multiplier / np.sqrt(weight.shape[0])
  y = x @ (weight * np.float32(gain))
  if bias is not None:
    y = y + bias * np.float32(lr_multiplier)
  return y


_DN = ('NHWC', 'HWIO', 'NHWC')


@jax.custom_vjp
def _up_correlate(x: jax.Array, w: jax.Array) -> jax.Array:
  """Stride-2 transposed convolution: [N, H, W, I] -> [N, 2H+k-2, 2W+k-2, O].

  Defined as the correlation of the zero-stuffed input (H samples, 2H - 1
  with the zeros, padded by k - 1) with the HWIO kernel `w`; equals PyTorch's
  `conv_transpose2d(x, flip(w), stride=2)`.

  XLA:CPU computes the weight gradient of an input-dilated convolution about
  25x slower than the forward pass, so the VJP is written out: tap (a, b)
  pairs x[i, j] with g[2i + k-1 - a, 2j + k-1 - b], i.e. every tap is one
  GEMM between x and a stride-2 subsampling of the output gradient.
  """
  k = w.shape[0]
  return jax.lax.conv_general_dilated(
      x, w, window_strides=(1, 1), padding=((k - 1, k - 1), (k - 1, k - 1)),
      lhs_dilation=(2, 2), dimension_numbers=_DN)


def _up_correlate_fwd(x, w):
  return _up_correlate(x, w), (x, w)


def _up_correlate_bwd(res, g):
  x, w = res
  k = w.shape[0]
  _, h, wd, _ = x.shape
  taps = jnp.stack([
      jnp.stack([g[:, k - 1 - a:k - 1 - a + 2 * h:2,
                   k - 1 - b:k - 1 - b + 2 * wd:2] for b in range(k)])
      for a in range(k)])  # [k, k, N, H, W, O]
  dw = jnp.einsum('nhwi,abnhwo->abio', x, taps)
  dx = jnp.einsum('abnhwo,abio->nhwi', taps, w)
  return dx, dw


_up_correlate.defvjp(_up_correlate_fwd, _up_correlate_bwd)


def modulated_conv2d(
    x: jax.Array,
    weight: jax.Array,
    styles: jax.Array,
    *,
    demodulate: bool = True,
    up: bool = False,
    fir: Sequence[float] = DEFAULT_FIR,
) -> jax.Array:
  """Modulated (and demodulated) convolution, non-fused form.

  Rather than building one kernel per sample (a grouped convolution, about
  2.8x slower under XLA:CPU), the input is scaled by the styles, convolved
  with the shared kernel and the output scaled by the demodulation
  coefficients. This is the same function as the fused form.

  Args:
    x: [N, H, W, I] input.
    weight: [k, k, I, O] raw kernel, correlation orientation.
    styles: [N, I] modulation coefficients (the affine output).
    demodulate: apply weight demodulation (False for ToRGB).
    up: 2x upsample: transposed conv (stride 2) then FIR blur, as StyleGAN2.
    fir: blur filter taps used when `up` is True.

  Returns:
    [N, H, W, O], or [N, 2H, 2W, O] when `up`.
  """
  k, _, fan_in, _ = weight.shape
  w = weight * np.float32(1.0 / np.sqrt(fan_in * k * k))
  x = x * styles[:, None, None, :].astype(x.dtype)
  if up:
    # Correlation with the zero-stuffed input: 2H + 1 samples per axis.
    x = _up_correlate(x, w.astype(x.dtype))
    # Blur back to exactly 2H (pad 1 on each side, gain 4).
    p = (len(fir) - 2) - (k - 1)
    p0, p1 = (p + 1) // 2 + 1, p // 2 + 1
    x = upfirdn2d(x, fir, pad=(p0, p1, p0, p1), gain=4.0)
  elif k == 1:
    x = jnp.einsum('nhwi,io->nhwo', x, w[0, 0].astype(x.dtype))
  else:
    x = jax.lax.conv_general_dilated(
        x, w.astype(x.dtype), window_strides=(1, 1),
        padding=((k // 2, k // 2), (k // 2, k // 2)), dimension_numbers=_DN)
  if demodulate:
    # d[n, o] = rsqrt(sum_{kh, kw, i} (w[kh, kw, i, o] * s[n, i])^2 + 1e-8).
    wsq = jnp.sum(jnp.square(w), axis=(0, 1))  # [I, O]
    d = jax.lax.rsqrt(jnp.square(styles) @ wsq + 1e-8)  # [N, O]
    x = x * d[:, None, None, :].astype(x.dtype)
  return x
