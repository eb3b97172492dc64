"""A compact U-Net for semantic segmentation, trained from scratch.

    images [N, H, W, 3] in [-1, 1] -> logits [N, H, W, num_classes]

Each level is two 3x3 convolutions with GroupNorm and ReLU; the encoder
halves the resolution with 2x2 max pooling after each level but the last,
the decoder doubles it (nearest) and merges the skip connection by
concatenation, and a 1x1 convolution gives the logits. H and W must be
multiples of 2 ** (len(widths) - 1). No batch statistics: the network
behaves the same in training and at inference, and a batch of one is fine.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ['UNet', 'stride']


def stride(widths: Sequence[int]) -> int:
  """The factor the input's height and width must be multiples of."""
  return 2 ** (len(widths) - 1)


def _groups(width: int) -> int:
  """GroupNorm groups: 8 channels per group where possible."""
  for groups in (width // 8, 4, 2, 1):
    if groups >= 1 and width % groups == 0:
      return groups
  return 1


class _Block(nn.Module):
  """Two (conv 3x3, GroupNorm, ReLU) layers."""

  width: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for _ in range(2):
      x = nn.Conv(self.width, (3, 3), padding='SAME', use_bias=False)(x)
      x = nn.GroupNorm(num_groups=_groups(self.width))(x)
      x = nn.relu(x)
    return x


class UNet(nn.Module):
  """The downstream segmentation network.

  Attributes:
    num_classes: output channels (class logits).
    widths: channels per level, from full resolution down.
  """

  num_classes: int
  widths: Sequence[int] = (16, 32, 64, 128)

  @nn.compact
  def __call__(self, images: jax.Array) -> jax.Array:
    """Logits [N, H, W, num_classes] of images [N, H, W, 3] in [-1, 1].

    Raises:
      ValueError: H or W is not a multiple of `stride(widths)`.
    """
    s = stride(self.widths)
    h, w = images.shape[1:3]
    if h % s or w % s:
      raise ValueError(f'image size {h}x{w} is not a multiple of {s}')
    x = images.astype(jnp.float32)
    skips = []
    for i, width in enumerate(self.widths):
      x = _Block(width)(x)
      if i < len(self.widths) - 1:
        skips.append(x)
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    for width, skip in zip(reversed(self.widths[:-1]), reversed(skips)):
      n, h2, w2, c = x.shape
      x = jax.image.resize(x, (n, h2 * 2, w2 * 2, c), 'nearest')
      x = jnp.concatenate([x, skip], axis=-1)
      x = _Block(width)(x)
    return nn.Conv(self.num_classes, (1, 1))(x)
