"""NVIDIA stylegan2-ada-pytorch / stylegan3 pickles onto the Flax tree.

The generator is `G_ema`, a persistent module (`stand_ins.PersistentModule`)
whose tensors are named `mapping.fc{i}` (dense weights transposed),
`synthesis.b{R}.const`, `synthesis.b{R}.conv{0,1}` (OIHW kernels to HWIO,
`conv0` flipped spatially), `synthesis.b{R}.torgb`; the noise buffers are
`b{R}.conv{0,1}.noise_const`. Besides the shapes, the pickled module
attributes give what shapes cannot: `conv_clamp` (256 for ada/sg3-trained
pickles), the activation, `use_noise`, the mapping learning-rate multiplier
(`bias_gain`). Only unconditional `skip` generators with one activation and
clamp throughout are converted.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from stylegan_seg_jax.convert.stand_ins import PersistentModule
from stylegan_seg_jax.convert.tensor_mapping import ConversionError
from stylegan_seg_jax.convert.tensor_mapping import Converted
from stylegan_seg_jax.convert.tensor_mapping import Tensors
from stylegan_seg_jax.convert.tensor_mapping import Tree
from stylegan_seg_jax.convert.tensor_mapping import check_fir
from stylegan_seg_jax.convert.tensor_mapping import count_layers
from stylegan_seg_jax.convert.tensor_mapping import finish
from stylegan_seg_jax.convert.tensor_mapping import hwio
from stylegan_seg_jax.convert.tensor_mapping import infer_config
from stylegan_seg_jax.convert.tensor_mapping import layer_names
from stylegan_seg_jax.convert.tensor_mapping import number
from stylegan_seg_jax.convert.tensor_mapping import put_mapping
from stylegan_seg_jax.convert.tensor_mapping import put_w_avg
from stylegan_seg_jax.convert.tensor_mapping import reject_unused
from stylegan_seg_jax.runtime.messages import quote

__all__ = ['convert']


def _mapping(i: int) -> str:
  return f'mapping.fc{i}.'


def _field(module: PersistentModule, key: str, kind: type,
           default: Any) -> Any:
  """A module attribute from the file, checked to be of `kind`."""
  value = module.state.get(key) if isinstance(module.state, dict) else None
  if value is None:
    return default
  if not isinstance(value, kind):
    raise ConversionError(f'NVIDIA pickle: {quote(module.class_name)} {key} is '
                          f'{quote(value)}, expected a {kind.__name__}')
  return value


def _clamp(value: Any, what: str) -> float | None:
  """A conv_clamp from the file: None, or a positive finite number."""
  return None if value is None else number(value, what)


def convert(obj: dict[str, Any]) -> Converted:
  """Maps an NVIDIA PyTorch pickle onto the Flax variable tree.

  Args:
    obj: the unpickled `.pkl` file (`G_ema` is the generator converted).

  Returns:
    The `Converted` result at the source's resolution.

  Raises:
    ConversionError: the pickle is not a generator this code converts.
  """
  g = obj.get('G_ema')
  if not isinstance(g, PersistentModule):
    raise ConversionError("NVIDIA pickle: 'G_ema' is not a network")
  if not (isinstance(g.class_name, str) and g.class_name == 'Generator'):
    raise ConversionError(f'NVIDIA pickle: G_ema is a {quote(g.class_name)}, '
                          "expected 'Generator'")
  kwargs = _field(g, '_init_kwargs', dict, {})
  c_dim = kwargs.get('c_dim', 0)
  if not (type(c_dim) is int and c_dim == 0):  # pylint: disable=unidiomatic-typecheck
    raise ConversionError(f'conditional generators (c_dim={quote(c_dim)}) '
                          'are not supported')
  modules = _field(g, '_modules', dict, {})
  mapping, synthesis = modules.get('mapping'), modules.get('synthesis')
  if not (isinstance(mapping, PersistentModule)
          and isinstance(synthesis, PersistentModule)):
    raise ConversionError('NVIDIA pickle: G_ema has no mapping/synthesis')
  synthesis_modules = _field(synthesis, '_modules', dict, {})
  blocks = {int(k[1:]): v for k, v in synthesis_modules.items()
            if isinstance(k, str) and re.fullmatch(r'b[1-9]\d{0,4}', k)}
  if not blocks or min(blocks) != 4:
    raise ConversionError('NVIDIA pickle: no synthesis blocks b4 ... bR')
  for res, block in blocks.items():
    if not isinstance(block, PersistentModule):
      raise ConversionError(f'NVIDIA pickle: b{res} is not a module')
    arch = _field(block, 'architecture', str, 'skip')
    if arch != 'skip':
      raise ConversionError(f"b{res} has architecture {quote(arch)}; only "
                            "'skip' generators are supported")
  resolution = max(blocks)
  t = Tensors(g.named_tensors(), 'NVIDIA')

  def submodule(res: int, name: str) -> PersistentModule | None:
    mod = _field(blocks[res], '_modules', dict, {}).get(name)
    if mod is not None and not isinstance(mod, PersistentModule):
      raise ConversionError(f'NVIDIA pickle: b{res}.{name} is not a module')
    return mod

  conv = submodule(4, 'conv1')
  clamp = None if conv is None else _clamp(conv.state.get('conv_clamp'),
                                           'b4.conv1 conv_clamp')
  activation = 'lrelu' if conv is None else _field(conv, 'activation', str,
                                                   'lrelu')
  if activation != 'lrelu':
    raise ConversionError(f'activation {quote(activation)} is not supported')
  n_map = count_layers(t, lambda i: f'{_mapping(i)}weight')
  map_mod = _field(mapping, '_modules', dict, {}).get('fc0')
  lr_mul = 0.01
  if isinstance(map_mod, PersistentModule):
    lr_mul = number(map_mod.state.get('bias_gain', 0.01),
                    'mapping.fc0 bias_gain')
  if t.has('mapping.embed.weight'):
    raise ConversionError('conditional generators (mapping.embed) are not '
                          'supported')
  channels = {res: t.shape(f'synthesis.b{res}.conv1.weight')[0]
              for res in blocks}
  config = infer_config(
      t, _mapping, n_map, channels, torch_layout=True,
      rgb=f'synthesis.b{resolution}.torgb.weight', mapping_lr_multiplier=lr_mul,
      conv_clamp=clamp)

  tree = Tree()
  put_mapping(tree, t, _mapping, n_map, transpose=True)
  w_avg_source = put_w_avg(tree, t, 'mapping.w_avg')
  tree.put('params/synthesis/b4/const',
           np.transpose(t.get('synthesis.b4.const'), (1, 2, 0)),
           'synthesis.b4.const')

  def modulated(src: str, dst: str) -> None:
    tree.put(f'params/{dst}/affine/weight', t.get(f'{src}.affine.weight').T,
             f'{src}.affine.weight')
    tree.put(f'params/{dst}/affine/bias', t.get(f'{src}.affine.bias'),
             f'{src}.affine.bias')
    tree.put(f'params/{dst}/bias', t.get(f'{src}.bias'), f'{src}.bias')

  for res in sorted(blocks):
    check_fir(t, f'synthesis.b{res}.resample_filter', config.fir, 1.0)
    for layer, _ in layer_names(res):
      src, dst = f'synthesis.b{res}.{layer}', f'synthesis/b{res}/{layer}'
      tree.put(f'params/{dst}/weight',
               hwio(t.get(f'{src}.weight'), flip=layer == 'conv0'),
               f'{src}.weight')
      modulated(src, dst)
      mod = submodule(res, layer)
      if mod is not None:  # the config holds one clamp and activation
        if _field(mod, 'activation', str, 'lrelu') != activation or _clamp(
            mod.state.get('conv_clamp'), f'{src} conv_clamp') != clamp:
          raise ConversionError(f'{src} has another activation or conv_clamp '
                                'than b4.conv1; only uniform ones are '
                                'supported')
      if mod is None or _field(mod, 'use_noise', bool, True):
        tree.put(f'params/{dst}/noise_strength',
                 t.get(f'{src}.noise_strength').reshape(()),
                 f'{src}.noise_strength')
        tree.put(f'buffers/{dst}/noise_const', t.get(f'{src}.noise_const'),
                 f'{src}.noise_const')
      else:  # use_noise=False is the same function as zero noise strength.
        tree.put(f'params/{dst}/noise_strength', np.zeros(()), '(no noise)')
        tree.put(f'buffers/{dst}/noise_const', np.zeros((res, res)),
                 '(no noise)')
      check_fir(t, f'{src}.resample_filter', config.fir, 1.0)
    src, dst = f'synthesis.b{res}.torgb', f'synthesis/b{res}/torgb'
    tree.put(f'params/{dst}/weight', t.get(f'{src}.weight')[:, :, 0, 0].T,
             f'{src}.weight')
    modulated(src, dst)
  reject_unused(t)
  return finish(tree, config, w_avg_source, 'nvidia')
