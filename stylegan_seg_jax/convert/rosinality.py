"""rosinality/stylegan2-pytorch checkpoints (`.pt`) onto the Flax tree.

A `train.py` checkpoint (`{'g_ema': state_dict, 'latent_avg': ...}`) or a
bare generator state dict. The mapping layers are `style.{i+1}` (dense
weights transposed), the const `input.input`, the convs `conv1` and
`convs.{j}` (OIHW kernels to HWIO, the up-convs flipped spatially), the
noise buffers `noises.noise_{n}`; the affine (style) bias is stored with
StyleGAN2's +1 already. The architecture comes from the tensor shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stylegan_seg_jax.convert.tensor_mapping import ConversionError
from stylegan_seg_jax.convert.tensor_mapping import Converted
from stylegan_seg_jax.convert.tensor_mapping import Tensors
from stylegan_seg_jax.convert.tensor_mapping import Tree
from stylegan_seg_jax.convert.tensor_mapping import check_fir
from stylegan_seg_jax.convert.tensor_mapping import count_layers
from stylegan_seg_jax.convert.tensor_mapping import finish
from stylegan_seg_jax.convert.tensor_mapping import hwio
from stylegan_seg_jax.convert.tensor_mapping import infer_config
from stylegan_seg_jax.convert.tensor_mapping import put_mapping
from stylegan_seg_jax.convert.tensor_mapping import reject_unused
from stylegan_seg_jax.convert.tensor_mapping import res_log2

__all__ = ['convert']


def _mapping(i: int) -> str:
  return f'style.{i + 1}.'


def convert(obj: dict[str, Any]) -> Converted:
  """Maps a rosinality checkpoint onto the Flax variable tree.

  Args:
    obj: the unpickled `.pt` file.

  Returns:
    The `Converted` result at the source's resolution.

  Raises:
    ConversionError: the checkpoint is not a generator this code converts.
  """
  if 'g_ema' in obj:
    state, latent_avg = obj['g_ema'], obj.get('latent_avg')
  else:
    state, latent_avg = obj, None
  if not isinstance(state, dict):
    raise ConversionError("rosinality checkpoint: 'g_ema' is not a state dict")
  if latent_avg is not None:
    latent_avg = Tensors({'latent_avg': latent_avg}, 'rosinality').get(
        'latent_avg')
  t = Tensors(state, 'rosinality')
  n_mlp = count_layers(t, lambda i: f'{_mapping(i)}weight')
  if n_mlp == 0:
    raise ConversionError("rosinality checkpoint has no mapping layers "
                          "('style.1.weight')")
  n_convs = count_layers(t, lambda i: f'convs.{i}.conv.weight')
  if n_convs % 2:
    raise ConversionError(f'rosinality checkpoint has an odd number of convs '
                          f'({n_convs}); expected two per resolution')
  resolution = 2**(n_convs // 2 + 2)
  const_shape = t.shape('input.input')
  if len(const_shape) != 4 or const_shape[2] != const_shape[3]:
    raise ConversionError(f"'input.input' has shape {const_shape}; only square "
                          'generators are supported')
  channels = {4: const_shape[1]}
  for log2 in range(3, res_log2(resolution) + 1):
    channels[2**log2] = t.shape(f'convs.{2 * (log2 - 3)}.conv.weight')[1]
  config = infer_config(t, _mapping, n_mlp, channels, torch_layout=True)

  tree = Tree()
  put_mapping(tree, t, _mapping, n_mlp, transpose=True)
  if latent_avg is not None:
    tree.put('buffers/mapping/w_avg', np.reshape(latent_avg, (-1,)),
             'latent_avg')
  tree.put('params/synthesis/b4/const',
           np.transpose(t.get('input.input')[0], (1, 2, 0)), 'input.input')

  def styled_conv(src: str, dst: str, noise: int, up: bool) -> None:
    w = t.get(f'{src}.conv.weight')
    if w.ndim != 5:
      raise ConversionError(f"'{src}.conv.weight' has shape {w.shape}, "
                            'expected [1, O, I, 3, 3]')
    tree.put(f'params/{dst}/weight', hwio(w[0], flip=up), f'{src}.conv.weight')
    tree.put(f'params/{dst}/affine/weight',
             t.get(f'{src}.conv.modulation.weight').T,
             f'{src}.conv.modulation.weight')
    tree.put(f'params/{dst}/affine/bias', t.get(f'{src}.conv.modulation.bias'),
             f'{src}.conv.modulation.bias')
    tree.put(f'params/{dst}/bias', t.get(f'{src}.activate.bias'),
             f'{src}.activate.bias')
    tree.put(f'params/{dst}/noise_strength',
             t.get(f'{src}.noise.weight').reshape(()), f'{src}.noise.weight')
    tree.put(f'buffers/{dst}/noise_const',
             t.get(f'noises.noise_{noise}')[0, 0], f'noises.noise_{noise}')
    if up:
      check_fir(t, f'{src}.conv.blur.kernel', config.fir, 4.0)

  def to_rgb(src: str, dst: str, upsample: bool) -> None:
    w = t.get(f'{src}.conv.weight')
    tree.put(f'params/{dst}/weight', w[0, :, :, 0, 0].T, f'{src}.conv.weight')
    tree.put(f'params/{dst}/affine/weight',
             t.get(f'{src}.conv.modulation.weight').T,
             f'{src}.conv.modulation.weight')
    tree.put(f'params/{dst}/affine/bias', t.get(f'{src}.conv.modulation.bias'),
             f'{src}.conv.modulation.bias')
    tree.put(f'params/{dst}/bias', t.get(f'{src}.bias').reshape(-1),
             f'{src}.bias')
    if upsample:
      check_fir(t, f'{src}.upsample.kernel', config.fir, 4.0)

  styled_conv('conv1', 'synthesis/b4/conv1', 0, up=False)
  to_rgb('to_rgb1', 'synthesis/b4/torgb', upsample=False)
  for log2 in range(3, res_log2(resolution) + 1):
    res, j = 2**log2, 2 * (log2 - 3)
    styled_conv(f'convs.{j}', f'synthesis/b{res}/conv0', 2 * log2 - 5, up=True)
    styled_conv(f'convs.{j + 1}', f'synthesis/b{res}/conv1', 2 * log2 - 4,
                up=False)
    to_rgb(f'to_rgbs.{log2 - 3}', f'synthesis/b{res}/torgb', upsample=True)
  reject_unused(t)
  return finish(tree, config, 'latent_avg' if latent_avg is not None else None,
                'rosinality')
