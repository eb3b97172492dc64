"""HFC + SimCLR, the paper's contrastive baseline: head and NT-Xent loss.

The reference trains a projection of the L2-normalised hypercolumn with a
SimCLR loss between the two views of `views` (docs/method.md §6), then fits
the one-shot XS head on the projection's 512-channel output:

    z(p) = Linear_2(leaky_relu(BN(Linear_1(h(p) / ||h(p)||))))

Per step and image, `batch` pixel indices are drawn and read in both views
(pixel i of view s and pixel i of view t form a positive pair); the 2B
embeddings are interleaved (s0, t0, s1, t1, ...) and scored with the NT-Xent
loss at temperature tau over their cosine similarities.

Three behaviours of the reference code are options (`reference_*`), the
corrected ones the default:

* `reference_similarity`: the reference takes the cosine similarity between
  the first 2B *channels* of the [D, 2B] projection (rows of the transposed
  matrix), not between the 2B samples;
* `reference_pairs`: its positive pairs are (2k - 1, 2k) (k = 0 pairs the
  last sample with the first) instead of (2k, 2k + 1);
* `reference_bn_train`: it never switches the BatchNorm to evaluation mode,
  so at inference the statistics are those of the image's own pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_seg_jax.method import features as feat_lib
from stylegan_seg_jax.method.initializers import torch_default_init

__all__ = ['SimCLRHead', 'nt_xent_loss', 'positive_pairs']

# PyTorch BatchNorm1d's defaults.
_BN_EPS = 1e-5
_BN_MOMENTUM = 0.1


class SimCLRHead(nn.Module):
  """The projection z(p) of normalised pixel features (lean).

  Linear_1 runs per generator layer on its native grid (`features`), so
  the D_h-channel hypercolumn is never built; h(p) / ||h(p)|| is applied to
  Linear_1's output, which is the same by linearity.

  The BatchNorm is written out: in training its statistics are those of all
  samples of the call (averaged over `axis_name` when given) and its
  running statistics follow PyTorch's BatchNorm1d (momentum 0.1, unbiased
  running variance); `embed_maps` uses the running statistics, or with
  `own_stats` each image's own pixels (the reference's train-mode
  inference).

  Attributes:
    channels: channels of each generator layer, in order.
    dim: width D of both linear layers.
    interpolation: upsampling of the layers to the output grid.
    out_res: output grid resolution.
    axis_name: device axis for the BatchNorm statistics in training.
  """

  channels: tuple[int, ...]
  dim: int = 512
  interpolation: feat_lib.Interpolation = 'nearest'
  out_res: int = 256
  axis_name: str | None = None

  def setup(self):
    """Declares the two linear layers and the BatchNorm terms between."""
    fan_in = sum(self.channels)
    self.kernel = self.param('kernel', torch_default_init(fan_in),
                             (fan_in, self.dim))
    self.bn_scale = self.param('bn_scale', nn.initializers.ones, (self.dim,))
    self.bn_bias = self.param('bn_bias', nn.initializers.zeros, (self.dim,))
    self.kernel2 = self.param('kernel2', torch_default_init(self.dim),
                              (self.dim, self.dim))
    self.mean = self.variable('batch_stats', 'mean', jnp.zeros, (self.dim,))
    self.var = self.variable('batch_stats', 'var', jnp.ones, (self.dim,))

  def _finish(self, e: jax.Array, mean: jax.Array,
              var: jax.Array) -> jax.Array:
    e = (e - mean) * jax.lax.rsqrt(var + _BN_EPS) * self.bn_scale
    e = jax.nn.leaky_relu(e + self.bn_bias, 0.01)
    return e @ self.kernel2

  def _normalised(self, feats: Sequence[jax.Array], coords: jax.Array,
                  valid: jax.Array | None) -> jax.Array:
    e = feat_lib.embed_pixels(feats, self.kernel, coords, self.out_res,
                              self.interpolation, valid)
    norms = jnp.sqrt(feat_lib.squared_norms(feats, coords, self.out_res,
                                            self.interpolation))
    if valid is not None:  # zero-filled pixels: a zero embedding
      norms = jnp.where(valid, norms, 1.0)
    return e / jnp.maximum(norms, 1e-12)[..., None]

  def __call__(self, pixel_views: Sequence[tuple[Any, jax.Array,
                                                 jax.Array | None]],
               train: bool = True) -> jax.Array:
    """Embeddings [N, V P, D] of pixels read in V views, interleaved.

    Args:
      pixel_views: per view (its layers' feature maps, coords [N, P, 2] of
        the source pixels read, their validity [N, P] or None).
      train: batch statistics (and, when mutable, running statistics
        updated) instead of the running statistics.

    Returns:
      Sample v + V p of image n is pixel p in view v (s0, t0, s1, t1, ...).
    """
    e = jnp.stack([self._normalised(*v) for v in pixel_views], axis=2)
    n, p, v, d = e.shape
    e = e.reshape(n, p * v, d)
    if not train:
      return self._finish(e, self.mean.value, self.var.value)
    flat = e.reshape(-1, d)
    count = flat.shape[0]
    average = lambda x: x  # over the devices' samples (equal counts)
    if self.axis_name is not None:
      average = lambda x: jax.lax.pmean(x, self.axis_name)
      count *= jax.lax.psum(1, self.axis_name)
    mean = average(jnp.mean(flat, 0))
    var = average(jnp.mean(jnp.square(flat - mean), 0))  # two-pass
    if self.is_mutable_collection('batch_stats') and not self.is_initializing():
      unbiased = var * count / jnp.maximum(count - 1, 1)
      self.mean.value = (1 - _BN_MOMENTUM) * self.mean.value + (
          _BN_MOMENTUM * mean)
      self.var.value = (1 - _BN_MOMENTUM) * self.var.value + (
          _BN_MOMENTUM * unbiased)
    return self._finish(e, mean, var)

  def embed_maps(self, feats: Sequence[jax.Array],
                 own_stats: bool = False) -> jax.Array:
    """Full maps [N, R, R, D].

    Args:
      feats: the layers' feature maps.
      own_stats: normalise with each image's own pixel statistics (the
        reference, whose BatchNorm stays in train mode) instead of the
        running statistics.
    """
    n, r = feats[0].shape[0], self.out_res
    e = feat_lib.embed_maps(feats, self.kernel, r, self.interpolation)
    grid = jnp.broadcast_to(feat_lib.grid_coords(r)[None], (n, r * r, 2))
    norms = jnp.sqrt(feat_lib.squared_norms(feats, grid, r,
                                            self.interpolation))
    e = e / jnp.maximum(norms.reshape(n, r, r), 1e-12)[..., None]
    if not own_stats:
      return self._finish(e, self.mean.value, self.var.value)
    mean = jnp.mean(e, axis=(1, 2), keepdims=True)
    var = jnp.mean(jnp.square(e - mean), axis=(1, 2), keepdims=True)
    return self._finish(e, mean, var)


def positive_pairs(batch: int, reference: bool = False) -> jax.Array:
  """[B, 2] (anchor, positive) indices into the 2B interleaved samples.

  (2k, 2k + 1) by default; the reference's (2k - 1, 2k), where k = 0 pairs
  the last sample (index -1) with the first.
  """
  k = jnp.arange(batch)
  if reference:
    return jnp.stack([(2 * k - 1) % (2 * batch), 2 * k], axis=1)
  return jnp.stack([2 * k, 2 * k + 1], axis=1)


def nt_xent_loss(z: jax.Array, temperature: float, *,
                 reference_similarity: bool = False,
                 reference_pairs: bool = False) -> jax.Array:
  """The SimCLR loss of 2B interleaved embeddings z [2B, D].

  loss = 1 / (2B) sum_k [l(a_k, p_k) + l(p_k, a_k)],
  l(i, j) = -log(exp(s_ij) / sum_{m != i} exp(s_im)), s = cos / tau.

  Args:
    z: embeddings, samples interleaved (s0, t0, s1, t1, ...).
    temperature: tau.
    reference_similarity: cosines between the first 2B channel vectors
      (rows of z.T) instead of between the samples.
    reference_pairs: the reference's (2k - 1, 2k) positives.

  Returns:
    The scalar loss.
  """
  n = z.shape[0]
  v = z.T[:n] if reference_similarity else z
  v = v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1e-8)
  s = (v @ v.T) / temperature
  # log of exp(s_ij) / sum_{m != i} exp(s_im), for every (i, j).
  off = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, s)
  log_p = s - jax.nn.logsumexp(off, axis=1, keepdims=True)
  pairs = positive_pairs(n // 2, reference_pairs)
  a, p = pairs[:, 0], pairs[:, 1]
  return -(jnp.sum(log_p[a, p]) + jnp.sum(log_p[p, a])) / n
