"""Segmentation heads: the reference's dilated conv heads, Lin, DatasetGAN MLP.

Every head maps per-pixel inputs to `num_classes` logits on the same grid
([N, R, R, C] -> [N, R, R, num_classes]) and takes its input either as one
array or, for heads fed with raw generator features, as the list of layer
maps. With a list, the first (linear) layer runs on the virtual upsampled
concatenation without building it (`features.conv_maps`,
`features.embed_maps`); later layers are ordinary.

Conv heads (docs/method.md §5): 3x3 convs with padding = dilation,
LeakyReLU(0.2) between layers, none after the last, PyTorch's default
initialisation.

| size | dilations | hidden widths |
|---|---|---|
| XXS | 1 | - (reference option: one conv to 12 logits whatever C) |
| XS | 1, 2, 1 | 16, 8 |
| S | 1, 2, 1, 2, 1 | 128, 64, 64, 32 |
| M | 1, 2, 4, 1, 2, 4, 1 | 128, 64, 64, 64, 64, 32 |
| L | 1, 2, 4, 8, 1, 2, 4, 8, 1 | 128, 64, 64, 64, 64, 64, 64, 32 |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from flax import struct
import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_seg_jax.method import features as feat_lib
from stylegan_seg_jax.method.initializers import torch_default_init

__all__ = ['ProjectedMaps', 'HeadInput', 'ConvSize', 'CONV_SIZES',
           'REFERENCE_XXS_LOGITS',
           'conv_plan', 'ConvHead', 'LinHead', 'PixelMLP', 'cross_entropy']


@struct.dataclass
class ProjectedMaps:
  """Layer maps seen through a linear projection: the input P h(p), unbuilt.

  A head's first linear layer K then runs as one layer of kernel P K on the
  raw layer maps (`features.conv_maps` / `embed_maps`), so the D-channel
  embedding map is never materialised either. Exact for the SwAV stage's
  'linear' projection head.

  Attributes:
    maps: the layers' maps [N, h_l, w_l, c_l].
    projection: [sum c_l, D].
  """

  maps: Sequence[jax.Array]
  projection: jax.Array


# One array [N, R, R, C], the generator layers' maps [N, h_l, w_l, c_l] (a
# list or tuple), or those maps through a linear projection.
HeadInput = (jax.Array | list[jax.Array] | tuple[jax.Array, ...]
             | ProjectedMaps)
ConvSize = Literal['XXS', 'XS', 'S', 'M', 'L']

CONV_SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    'XXS': ((1,), ()),
    'XS': ((1, 2, 1), (16, 8)),
    'S': ((1, 2, 1, 2, 1), (128, 64, 64, 32)),
    'M': ((1, 2, 4, 1, 2, 4, 1), (128, 64, 64, 64, 64, 32)),
    'L': ((1, 2, 4, 8, 1, 2, 4, 8, 1), (128, 64, 64, 64, 64, 64, 64, 32)),
}
# The reference XXS head: zip truncation leaves one conv to 12 outputs.
REFERENCE_XXS_LOGITS = 12


def conv_plan(size: str, num_classes: int,
              reference_logits: bool = False) -> list[tuple[int, int]]:
  """(dilation, output width) of each conv of a head."""
  if size not in CONV_SIZES:
    raise ValueError(f'unknown head size {size!r}; one of {list(CONV_SIZES)}')
  dilations, hidden = CONV_SIZES[size]
  if size == 'XXS':
    return [(1, REFERENCE_XXS_LOGITS if reference_logits else num_classes)]
  return list(zip(dilations, hidden + (num_classes,)))


def _in_channels(x: HeadInput) -> int:
  if isinstance(x, ProjectedMaps):
    return x.projection.shape[-1]
  if isinstance(x, (list, tuple)):
    return sum(f.shape[-1] for f in x)
  return x.shape[-1]


class ConvHead(nn.Module):
  """The reference's dilated FCN heads (`XXS` .. `L`).

  Attributes:
    num_classes: C, the number of logits (see `reference_logits`).
    size: 'XXS', 'XS', 'S', 'M' or 'L'.
    reference_logits: XXS only: emit 12 logits like the reference.
    out_res: output grid for list inputs (generator layer maps).
    interpolation: upsampling of list inputs.
  """

  num_classes: int
  size: str = 'XS'
  reference_logits: bool = False
  out_res: int = 0
  interpolation: feat_lib.Interpolation = 'nearest'

  @nn.compact
  def __call__(self, x: HeadInput, train: bool = False) -> jax.Array:
    """Logits [N, R, R, C'] of input x (`train` is unused: no BatchNorm)."""
    del train
    plan = conv_plan(self.size, self.num_classes, self.reference_logits)
    cin = _in_channels(x)
    for i, (dilation, cout) in enumerate(plan):
      init = torch_default_init(cin * 9)
      kernel = self.param(f'conv{i}_kernel', init, (3, 3, cin, cout))
      bias = self.param(f'conv{i}_bias', init, (cout,))
      if isinstance(x, ProjectedMaps):
        x = feat_lib.conv_maps(
            x.maps, jnp.einsum('cd,ijdo->ijco', x.projection, kernel),
            self.out_res, dilation, self.interpolation)
      elif isinstance(x, (list, tuple)):
        x = feat_lib.conv_maps(x, kernel, self.out_res, dilation,
                               self.interpolation)
      else:
        x = feat_lib.conv_same(x, kernel, dilation)
      x = x + bias
      if i < len(plan) - 1:
        x = jax.nn.leaky_relu(x, 0.2)
      cin = cout
    # conv_plan has at least one conv, so x is the last conv's output.
    assert isinstance(x, jax.Array)
    return x


def _dense_first(x: HeadInput, kernel: jax.Array, out_res: int,
                 interpolation: feat_lib.Interpolation) -> jax.Array:
  if isinstance(x, ProjectedMaps):
    return feat_lib.embed_maps(x.maps, x.projection @ kernel, out_res,
                               interpolation)
  if isinstance(x, (list, tuple)):
    return feat_lib.embed_maps(x, kernel, out_res, interpolation)
  return x @ kernel


class LinHead(nn.Module):
  """The reference's `Lin` head: per-pixel Linear(in -> C) + LeakyReLU(0.2)."""

  num_classes: int
  out_res: int = 0
  interpolation: feat_lib.Interpolation = 'nearest'

  @nn.compact
  def __call__(self, x: HeadInput, train: bool = False) -> jax.Array:
    """Logits [N, R, R, C] of input x (`train` is unused: no BatchNorm)."""
    del train
    cin = _in_channels(x)
    init = torch_default_init(cin)
    kernel = self.param('kernel', init, (cin, self.num_classes))
    bias = self.param('bias', init, (self.num_classes,))
    y = _dense_first(x, kernel, self.out_res, self.interpolation) + bias
    return jax.nn.leaky_relu(y, 0.2)


class PixelMLP(nn.Module):
  """DatasetGAN's per-pixel classifier (`pixel_classifier`).

  Linear(in, h1) - ReLU - BN(h1) - Linear(h1, h2) - ReLU - BN(h2) -
  Linear(h2, C), with (h1, h2) = (128, 32) for C < 32 and (256, 128)
  otherwise. BatchNorm treats every pixel of the batch as one sample.

  Attributes:
    num_classes: C.
    datasetgan_init: DatasetGAN's `init_weights` (Linear weights N(0, 0.02),
      biases 0; its BatchNorm1d layers keep ones/zeros). False = PyTorch
      defaults, as the reference (which never calls `init_weights`).
    out_res: output grid for list inputs.
    interpolation: upsampling of list inputs.
  """

  num_classes: int
  datasetgan_init: bool = True
  out_res: int = 0
  interpolation: feat_lib.Interpolation = 'nearest'

  @nn.compact
  def __call__(self, x: HeadInput, train: bool = False) -> jax.Array:
    """Logits [N, R, R, C] of input x; `train` updates BatchNorm stats."""
    h1, h2 = (128, 32) if self.num_classes < 32 else (256, 128)
    cin = _in_channels(x)

    def inits(fan_in):
      if self.datasetgan_init:
        return nn.initializers.normal(0.02), nn.initializers.zeros
      return torch_default_init(fan_in), torch_default_init(fan_in)

    k_init, b_init = inits(cin)
    kernel = self.param('fc1_kernel', k_init, (cin, h1))
    bias = self.param('fc1_bias', b_init, (h1,))
    y = _dense_first(x, kernel, self.out_res, self.interpolation) + bias
    shape = y.shape[:-1]
    y = jax.nn.relu(y).reshape(-1, h1)
    bn = lambda name: nn.BatchNorm(use_running_average=not train,
                                   momentum=0.9, epsilon=1e-5, name=name)
    y = bn('bn1')(y)
    for name, width, fan_in in (('fc2', h2, h1), ('fc3', None, h2)):
      k_init, b_init = inits(fan_in)
      y = nn.Dense(width or self.num_classes, kernel_init=k_init,
                   bias_init=b_init, name=name)(y)
      if name == 'fc2':
        y = bn('bn2')(jax.nn.relu(y))
    return y.reshape(shape + (self.num_classes,))


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean pixel cross-entropy (torch's CrossEntropyLoss, unweighted)."""
  logp = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.mean(jnp.take_along_axis(logp, labels[..., None], axis=-1))
