"""NVIDIA TensorFlow stylegan2 pickles onto the Flax tree.

The pickle is a tuple of networks (`stand_ins.TFNetwork`: G, D, Gs); `Gs`
is converted. Its variables are `mapping/Dense{i}` ([in, out], as the Flax
tree), `synthesis/4x4/Const/const`, `synthesis/{R}x{R}/Conv`, `Conv0_up`,
`Conv1` and `ToRGB` (kernels already HWIO in correlation orientation: no
flip), the noise buffers `synthesis/noise{n}`; the affine (style) bias is
`mod_bias` + 1. Besides the shapes, the static kwargs give the mapping
learning-rate multiplier; only unconditional `skip` generators with the
default resample kernel are converted.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from stylegan_seg_jax.convert.stand_ins import TFNetwork
from stylegan_seg_jax.convert.tensor_mapping import ConversionError
from stylegan_seg_jax.convert.tensor_mapping import Converted
from stylegan_seg_jax.convert.tensor_mapping import Tensors
from stylegan_seg_jax.convert.tensor_mapping import Tree
from stylegan_seg_jax.convert.tensor_mapping import count_layers
from stylegan_seg_jax.convert.tensor_mapping import finish
from stylegan_seg_jax.convert.tensor_mapping import infer_config
from stylegan_seg_jax.convert.tensor_mapping import layer_names
from stylegan_seg_jax.convert.tensor_mapping import number
from stylegan_seg_jax.convert.tensor_mapping import put_mapping
from stylegan_seg_jax.convert.tensor_mapping import put_w_avg
from stylegan_seg_jax.convert.tensor_mapping import reject_unused
from stylegan_seg_jax.runtime.messages import quote
from stylegan_seg_jax.stylegan2 import ops

__all__ = ['convert']

_SYN = 'synthesis/'


def _mapping(i: int) -> str:
  return f'mapping/Dense{i}/'


def _generator_kwargs(obj: Any) -> tuple[TFNetwork, dict[str, Any]]:
  """`Gs` (else the last network) and its static kwargs, checked."""
  if not isinstance(obj, (list, tuple)):
    raise ConversionError('TF pickle is not a tuple of networks')
  nets = [n for n in obj if isinstance(n, TFNetwork)]
  found = [n for n in nets if n.name == 'Gs'] or nets[-1:]
  if not found:
    raise ConversionError('TF pickle holds no Gs network')
  gs = found[0]
  kwargs = dict(gs.static_kwargs)
  for comp in gs.components.values():
    if isinstance(comp, TFNetwork):
      kwargs = {**comp.static_kwargs, **kwargs}
  label_size = kwargs.get('label_size', 0)
  if not (type(label_size) is int and label_size == 0):  # pylint: disable=unidiomatic-typecheck
    raise ConversionError(f'conditional generators (label_size='
                          f'{quote(label_size)}) are not supported')
  arch = kwargs.get('architecture', 'skip')
  if not (isinstance(arch, str) and arch == 'skip'):
    raise ConversionError(f"architecture {quote(arch)} is not supported; "
                          "only 'skip'")
  kernel = kwargs.get('resample_kernel', ops.DEFAULT_FIR)
  if not (isinstance(kernel, (list, tuple)) and len(kernel) == len(
      ops.DEFAULT_FIR) and all(type(k) in (int, float) for k in kernel)
          and tuple(kernel) == ops.DEFAULT_FIR):
    raise ConversionError(f'resample_kernel {quote(kernel)} is not supported')
  return gs, kwargs


def convert(obj: Any) -> Converted:
  """Maps an NVIDIA TF pickle onto the Flax variable tree.

  Args:
    obj: the unpickled `.pkl` file (a tuple of networks).

  Returns:
    The `Converted` result at the source's resolution.

  Raises:
    ConversionError: the pickle is not a generator this code converts.
  """
  gs, kwargs = _generator_kwargs(obj)
  tensors = gs.named_variables()
  t = Tensors(tensors, 'TF')
  n_map = count_layers(t, lambda i: f'{_mapping(i)}weight')
  if n_map == 0:
    raise ConversionError("TF pickle has no mapping layers ('Dense0')")
  resolutions = sorted({int(m.group(1)) for name in tensors
                        if (m := re.match(rf'{_SYN}(\d{{1,5}})x\1/', name))})
  if not resolutions or resolutions[0] != 4:
    raise ConversionError('TF pickle has no synthesis blocks 4x4 ... RxR')
  resolution = resolutions[-1]
  channels = {4: t.shape(f'{_SYN}4x4/Conv/weight')[3]}
  for res in resolutions[1:]:
    channels[res] = t.shape(f'{_SYN}{res}x{res}/Conv1/weight')[3]
  config = infer_config(
      t, _mapping, n_map, channels, torch_layout=False,
      rgb=f'{_SYN}{resolution}x{resolution}/ToRGB/bias',
      mapping_lr_multiplier=number(kwargs.get('mapping_lrmul', 0.01),
                                   'mapping_lrmul'))

  tree = Tree()
  put_mapping(tree, t, _mapping, n_map, transpose=False)
  w_avg_source = put_w_avg(tree, t, 'dlatent_avg')
  tree.put('params/synthesis/b4/const',
           np.transpose(t.get(f'{_SYN}4x4/Const/const')[0], (1, 2, 0)),
           f'{_SYN}4x4/Const/const')

  def modulated(src: str, dst: str) -> None:
    tree.put(f'params/{dst}/affine/weight', t.get(f'{src}/mod_weight'),
             f'{src}/mod_weight')
    tree.put(f'params/{dst}/affine/bias', t.get(f'{src}/mod_bias') + 1.0,
             f'{src}/mod_bias')
    tree.put(f'params/{dst}/bias', t.get(f'{src}/bias').reshape(-1),
             f'{src}/bias')

  for res in resolutions:
    tf_layers = ['Conv'] if res == 4 else ['Conv0_up', 'Conv1']
    for tf_name, (layer, noise) in zip(tf_layers, layer_names(res)):
      src = f'{_SYN}{res}x{res}/{tf_name}'
      dst = f'synthesis/b{res}/{layer}'
      tree.put(f'params/{dst}/weight', t.get(f'{src}/weight'), f'{src}/weight')
      modulated(src, dst)
      tree.put(f'params/{dst}/noise_strength',
               t.get(f'{src}/noise_strength').reshape(()),
               f'{src}/noise_strength')
      tree.put(f'buffers/{dst}/noise_const',
               t.get(f'{_SYN}noise{noise}')[0, 0], f'{_SYN}noise{noise}')
    src, dst = f'{_SYN}{res}x{res}/ToRGB', f'synthesis/b{res}/torgb'
    tree.put(f'params/{dst}/weight', t.get(f'{src}/weight')[0, 0],
             f'{src}/weight')
    modulated(src, dst)
  if t.has(f'{_SYN}lod'):
    t.get(f'{_SYN}lod')  # progressive-growing level of detail: unused
  reject_unused(t)
  return finish(tree, config, w_avg_source, 'tf')
