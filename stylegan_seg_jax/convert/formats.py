"""Per-format tensor mapping and architecture inference.

Each format is mapped tensor by tensor onto the variable tree of
`stylegan2.StyleGAN2` (docs/formats.md):

* mapping W_i: rosinality `style.{i+1}.weight` (transposed), NVIDIA
  `mapping.fc{i}.weight` (transposed), TF `Dense{i}/weight`;
* const: `input.input`, `synthesis.b4.const`, `4x4/Const/const`;
* conv kernels: PyTorch OIHW -> HWIO, the up-conv kernel flipped
  spatially; TF is already HWIO in correlation orientation (no flip);
* affine (style) bias: PyTorch as stored (it has StyleGAN2's +1); TF
  `mod_bias` + 1;
* noise buffers: `noises.noise_{n}`, `b{R}.conv{0,1}.noise_const`,
  `noise{n}`.

The architecture is inferred from tensor shapes (and NVIDIA's init kwargs /
TF's static kwargs for what shapes cannot tell: conv_clamp, mapping lr
multiplier). FIR buffers stored in the files are derived values: they are
checked against the filter the generator uses, then dropped.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import jax
import ml_dtypes
import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.convert import readers
from stylegan_seg_jax.runtime.messages import quote
from stylegan_seg_jax.stylegan2 import ops

__all__ = [
    'ConversionError',
    'SourceFormat',
    'FORMATS',
    'Converted',
    'detect_format',
    'convert_object',
]

SourceFormat = Literal['rosinality', 'nvidia', 'tf']
FORMATS = ('rosinality', 'nvidia', 'tf')


class ConversionError(ValueError):
  """The checkpoint cannot be converted; the message names the problem."""


class Converted:
  """Result of mapping a source checkpoint onto the Flax variable tree.

  Attributes:
    config: inferred architecture (at the source's own resolution).
    variables: `{'params': ..., 'buffers': ...}` numpy tree.
    w_avg_source: where `buffers/mapping/w_avg` came from (a source tensor
      name), or None when the source has no average latent.
    format: the source format.
  """

  def __init__(self, config: stylegan2.GeneratorConfig, variables: Any,
               w_avg_source: str | None, fmt: SourceFormat):
    self.config = config
    self.variables = variables
    self.w_avg_source = w_avg_source
    self.format = fmt


_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32),
                 np.dtype(np.float64), np.dtype(ml_dtypes.bfloat16))
_MIB = 1 << 20


def _storage_bytes(arrays: list[np.ndarray]) -> int:
  """Bytes of the distinct buffers behind `arrays` (views counted once)."""
  roots = {}
  for a in arrays:
    while isinstance(a.base, np.ndarray):
      a = a.base
    roots[id(a)] = a.nbytes
  return sum(roots.values())


class _Tensors:
  """Source tensors by name; tracks which ones the mapping consumed.

  Converting a tensor to float32 copies it; the copies are bounded by twice
  the bytes of the distinct storages behind the tensors (plus 16 MiB), so a
  file cannot make many large tensors out of one storage.
  """

  def __init__(self, tensors: dict[str, Any], fmt: str):
    for name, value in tensors.items():
      if not isinstance(name, str):
        raise ConversionError(f'{fmt} checkpoint has a tensor named by a '
                              f'{type(name).__name__}')
      if not isinstance(value, np.ndarray):
        raise ConversionError(f'{fmt} checkpoint entry {quote(name)} is not a '
                              f'tensor (a {type(value).__name__})')
    self._tensors = dict(tensors)
    self._used: set[str] = set()
    self._left = 2 * _storage_bytes(list(self._tensors.values())) + 16 * _MIB
    self.fmt = fmt

  def has(self, name: str) -> bool:
    return name in self._tensors

  def get(self, name: str) -> np.ndarray:
    if name not in self._tensors:
      raise ConversionError(f'{self.fmt} checkpoint is missing tensor {name!r}')
    value = self._tensors[name]
    if value.dtype not in _FLOAT_DTYPES:
      raise ConversionError(f'{self.fmt} tensor {name!r} has dtype '
                            f'{value.dtype}; weights are floating point (a '
                            'corrupt or mislabelled storage)')
    self._left -= 4 * value.size
    if self._left < 0:
      raise ConversionError(f'{self.fmt} tensors ask for more memory than '
                            'their storages hold (views reused as many '
                            'tensors): a corrupt or hostile file')
    self._used.add(name)
    with np.errstate(over='ignore', invalid='ignore'):  # _finish: non-finite
      return np.asarray(value, dtype=np.float32)

  def shape(self, name: str) -> tuple[int, ...]:
    if name not in self._tensors:
      raise ConversionError(f'{self.fmt} checkpoint is missing tensor {name!r}')
    return tuple(np.shape(self._tensors[name]))

  def unused(self) -> list[str]:
    return sorted(set(self._tensors) - self._used)


class _Tree:
  """Builds the Flax variable tree, remembering each leaf's source name."""

  def __init__(self):
    self.variables: dict[str, Any] = {'params': {}, 'buffers': {}}
    self.sources: dict[tuple[str, ...], str] = {}

  def put(self, path: str, value: np.ndarray, source: str) -> None:
    keys = tuple(path.split('/'))
    node = self.variables
    for k in keys[:-1]:
      node = node.setdefault(k, {})
    node[keys[-1]] = np.array(value, dtype=np.float32, order="C")
    self.sources[keys] = source


def _put_mapping(tree: _Tree, t: _Tensors, prefixes: list[str], *,
                 transpose: bool) -> None:
  """The mapping layers: `{prefix}weight` / `{prefix}bias` -> fc{i}.

  PyTorch stores dense weights [out, in] (`transpose`), TF [in, out].
  """
  for i, prefix in enumerate(prefixes):
    weight = t.get(f'{prefix}weight')
    tree.put(f'params/mapping/fc{i}/weight', weight.T if transpose else weight,
             f'{prefix}weight')
    tree.put(f'params/mapping/fc{i}/bias', t.get(f'{prefix}bias'),
             f'{prefix}bias')


def _put_w_avg(tree: _Tree, t: _Tensors, name: str) -> str | None:
  """The stored average latent, if the source has one; returns its name."""
  if not t.has(name):
    return None
  tree.put('buffers/mapping/w_avg', t.get(name), name)
  return name


def _check_fir(t: _Tensors, name: str, fir: tuple[float, ...],
               gain: float) -> None:
  """Checks a stored (derived) FIR buffer against the generator's filter."""
  taps = ops.fir_taps(fir)
  expected = np.outer(taps, taps) * gain
  got = t.get(name)
  if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-6):
    raise ConversionError(
        f'{name!r} is not the [1, 3, 3, 1] FIR filter this converter '
        'supports (a custom resample filter)')


def _hwio(w_oihw: np.ndarray, flip: bool) -> np.ndarray:
  if flip:
    w_oihw = w_oihw[:, :, ::-1, ::-1]
  return np.transpose(w_oihw, (2, 3, 1, 0))


def _res_log2(res: int) -> int:
  return int(round(np.log2(res)))


def _layer_names(res: int) -> list[tuple[str, int]]:
  """(conv name, noise index) of the conv layers of block `res`."""
  if res == 4:
    return [('conv1', 0)]
  log2 = _res_log2(res)
  return [('conv0', 2 * log2 - 5), ('conv1', 2 * log2 - 4)]


# --------------------------------------------------------------------------
# rosinality
# --------------------------------------------------------------------------


def _from_rosinality(obj: dict[str, Any]) -> Converted:
  if 'g_ema' in obj:
    state, latent_avg = obj['g_ema'], obj.get('latent_avg')
  else:
    state, latent_avg = obj, None
  if not isinstance(state, dict):
    raise ConversionError("rosinality checkpoint: 'g_ema' is not a state dict")
  if latent_avg is not None:
    latent_avg = _Tensors({'latent_avg': latent_avg}, 'rosinality').get(
        'latent_avg')
  t = _Tensors(state, 'rosinality')
  n_mlp = 0
  while t.has(f'style.{n_mlp + 1}.weight'):
    n_mlp += 1
  if n_mlp == 0:
    raise ConversionError("rosinality checkpoint has no mapping layers "
                          "('style.1.weight')")
  n_convs = 0
  while t.has(f'convs.{n_convs}.conv.weight'):
    n_convs += 1
  if n_convs % 2:
    raise ConversionError(f'rosinality checkpoint has an odd number of convs '
                          f'({n_convs}); expected two per resolution')
  resolution = 2**(n_convs // 2 + 2)
  const_shape = t.shape('input.input')
  if len(const_shape) != 4 or const_shape[2] != const_shape[3]:
    raise ConversionError(f"'input.input' has shape {const_shape}; only square "
                          'generators are supported')
  channels = {4: const_shape[1]}
  for log2 in range(3, _res_log2(resolution) + 1):
    channels[2**log2] = t.shape(f'convs.{2 * (log2 - 3)}.conv.weight')[1]
  z_dim = t.shape('style.1.weight')[1]
  w_dim = t.shape(f'style.{n_mlp}.weight')[0]
  hidden = t.shape('style.1.weight')[0] if n_mlp > 1 else None
  config = stylegan2.GeneratorConfig(
      resolution=resolution, channels=tuple(channels.items()), z_dim=z_dim,
      w_dim=w_dim, mapping_layers=n_mlp,
      mapping_features=hidden if hidden != w_dim else None)

  tree = _Tree()
  _put_mapping(tree, t, [f'style.{i + 1}.' for i in range(n_mlp)],
               transpose=True)
  if latent_avg is not None:
    tree.put('buffers/mapping/w_avg', np.reshape(latent_avg, (-1,)),
             'latent_avg')
  tree.put('params/synthesis/b4/const',
           np.transpose(t.get('input.input')[0], (1, 2, 0)), 'input.input')

  def styled_conv(src: str, dst: str, noise: int, up: bool):
    w = t.get(f'{src}.conv.weight')
    if w.ndim != 5:
      raise ConversionError(f"'{src}.conv.weight' has shape {w.shape}, "
                            'expected [1, O, I, 3, 3]')
    tree.put(f'params/{dst}/weight', _hwio(w[0], flip=up), f'{src}.conv.weight')
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
      _check_fir(t, f'{src}.conv.blur.kernel', config.fir, 4.0)

  def to_rgb(src: str, dst: str, upsample: bool):
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
      _check_fir(t, f'{src}.upsample.kernel', config.fir, 4.0)

  styled_conv('conv1', 'synthesis/b4/conv1', 0, up=False)
  to_rgb('to_rgb1', 'synthesis/b4/torgb', upsample=False)
  for log2 in range(3, _res_log2(resolution) + 1):
    res, j = 2**log2, 2 * (log2 - 3)
    styled_conv(f'convs.{j}', f'synthesis/b{res}/conv0', 2 * log2 - 5, up=True)
    styled_conv(f'convs.{j + 1}', f'synthesis/b{res}/conv1', 2 * log2 - 4,
                up=False)
    to_rgb(f'to_rgbs.{log2 - 3}', f'synthesis/b{res}/torgb', upsample=True)
  _reject_unused(t)
  return _finish(tree, config, 'latent_avg' if latent_avg is not None else None,
                 'rosinality')


# --------------------------------------------------------------------------
# NVIDIA stylegan2-ada-pytorch / stylegan3
# --------------------------------------------------------------------------


def _from_nvidia(obj: dict[str, Any]) -> Converted:
  g = obj.get('G_ema')
  if not isinstance(g, readers.PersistentModule):
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
  if not (isinstance(mapping, readers.PersistentModule)
          and isinstance(synthesis, readers.PersistentModule)):
    raise ConversionError('NVIDIA pickle: G_ema has no mapping/synthesis')
  synthesis_modules = _field(synthesis, '_modules', dict, {})
  blocks = {int(k[1:]): v for k, v in synthesis_modules.items()
            if isinstance(k, str) and re.fullmatch(r'b[1-9]\d{0,4}', k)}
  if not blocks or min(blocks) != 4:
    raise ConversionError('NVIDIA pickle: no synthesis blocks b4 ... bR')
  for res, block in blocks.items():
    if not isinstance(block, readers.PersistentModule):
      raise ConversionError(f'NVIDIA pickle: b{res} is not a module')
    arch = _field(block, 'architecture', str, 'skip')
    if arch != 'skip':
      raise ConversionError(f"b{res} has architecture {quote(arch)}; only "
                            "'skip' generators are supported")
  resolution = max(blocks)
  t = _Tensors(g.named_tensors(), 'NVIDIA')

  def submodule(res: int, name: str) -> readers.PersistentModule | None:
    mod = _field(blocks[res], '_modules', dict, {}).get(name)
    if mod is not None and not isinstance(mod, readers.PersistentModule):
      raise ConversionError(f'NVIDIA pickle: b{res}.{name} is not a module')
    return mod

  conv = submodule(4, 'conv1')
  clamp = None if conv is None else _number(
      conv.state.get('conv_clamp'), 'b4.conv1 conv_clamp', allow_none=True)
  activation = 'lrelu' if conv is None else _field(conv, 'activation', str,
                                                   'lrelu')
  if activation != 'lrelu':
    raise ConversionError(f'activation {quote(activation)} is not supported')
  n_map = 0
  while t.has(f'mapping.fc{n_map}.weight'):
    n_map += 1
  map_mod = _field(mapping, '_modules', dict, {}).get('fc0')
  lr_mul = 0.01
  if isinstance(map_mod, readers.PersistentModule):
    lr_mul = _number(map_mod.state.get('bias_gain', 0.01),
                     'mapping.fc0 bias_gain')
  if t.has('mapping.embed.weight'):
    raise ConversionError('conditional generators (mapping.embed) are not '
                          'supported')
  channels = {res: t.shape(f'synthesis.b{res}.conv1.weight')[0]
              for res in blocks}
  z_dim = t.shape('mapping.fc0.weight')[1]
  w_dim = t.shape(f'mapping.fc{n_map - 1}.weight')[0]
  hidden = t.shape('mapping.fc0.weight')[0] if n_map > 1 else None
  config = stylegan2.GeneratorConfig(
      resolution=resolution, channels=tuple(channels.items()), z_dim=z_dim,
      w_dim=w_dim, mapping_layers=n_map,
      mapping_features=hidden if hidden != w_dim else None,
      mapping_lr_multiplier=lr_mul,
      img_channels=t.shape(f'synthesis.b{resolution}.torgb.weight')[0],
      conv_clamp=clamp)

  tree = _Tree()
  _put_mapping(tree, t, [f'mapping.fc{i}.' for i in range(n_map)],
               transpose=True)
  w_avg_source = _put_w_avg(tree, t, 'mapping.w_avg')
  tree.put('params/synthesis/b4/const',
           np.transpose(t.get('synthesis.b4.const'), (1, 2, 0)),
           'synthesis.b4.const')
  for res in sorted(blocks):
    _check_fir(t, f'synthesis.b{res}.resample_filter', config.fir, 1.0)
    for layer, _ in _layer_names(res):
      src, dst = f'synthesis.b{res}.{layer}', f'synthesis/b{res}/{layer}'
      tree.put(f'params/{dst}/weight',
               _hwio(t.get(f'{src}.weight'), flip=layer == 'conv0'),
               f'{src}.weight')
      tree.put(f'params/{dst}/affine/weight', t.get(f'{src}.affine.weight').T,
               f'{src}.affine.weight')
      tree.put(f'params/{dst}/affine/bias', t.get(f'{src}.affine.bias'),
               f'{src}.affine.bias')
      tree.put(f'params/{dst}/bias', t.get(f'{src}.bias'), f'{src}.bias')
      mod = submodule(res, layer)
      if mod is not None:  # the config holds one clamp and activation
        if _field(mod, 'activation', str, 'lrelu') != activation or _number(
            mod.state.get('conv_clamp'), f'{src} conv_clamp',
            allow_none=True) != clamp:
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
      _check_fir(t, f'{src}.resample_filter', config.fir, 1.0)
    src, dst = f'synthesis.b{res}.torgb', f'synthesis/b{res}/torgb'
    tree.put(f'params/{dst}/weight', t.get(f'{src}.weight')[:, :, 0, 0].T,
             f'{src}.weight')
    tree.put(f'params/{dst}/affine/weight', t.get(f'{src}.affine.weight').T,
             f'{src}.affine.weight')
    tree.put(f'params/{dst}/affine/bias', t.get(f'{src}.affine.bias'),
             f'{src}.affine.bias')
    tree.put(f'params/{dst}/bias', t.get(f'{src}.bias'), f'{src}.bias')
  _reject_unused(t)
  return _finish(tree, config, w_avg_source, 'nvidia')


# --------------------------------------------------------------------------
# NVIDIA TensorFlow
# --------------------------------------------------------------------------


def _from_tf(obj: Any) -> Converted:
  if not isinstance(obj, (list, tuple)):
    raise ConversionError('TF pickle is not a tuple of networks')
  nets = [n for n in obj if isinstance(n, readers.TFNetwork)]
  gs = [n for n in nets if n.name == 'Gs'] or nets[-1:]
  if not gs:
    raise ConversionError('TF pickle holds no Gs network')
  gs = gs[0]
  kwargs = dict(gs.static_kwargs)
  for comp in gs.components.values():
    if isinstance(comp, readers.TFNetwork):
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
  tensors = gs.named_variables()
  t = _Tensors(tensors, 'TF')
  prefix_map = 'mapping/'
  prefix_syn = 'synthesis/'
  n_map = 0
  while t.has(f'{prefix_map}Dense{n_map}/weight'):
    n_map += 1
  if n_map == 0:
    raise ConversionError("TF pickle has no mapping layers ('Dense0')")
  resolutions = sorted({int(m.group(1)) for name in tensors
                        if (m := re.match(rf'{prefix_syn}(\d{{1,5}})x\1/',
                                          name))})
  if not resolutions or resolutions[0] != 4:
    raise ConversionError('TF pickle has no synthesis blocks 4x4 ... RxR')
  resolution = resolutions[-1]
  channels = {4: t.shape(f'{prefix_syn}4x4/Conv/weight')[3]}
  for res in resolutions[1:]:
    channels[res] = t.shape(f'{prefix_syn}{res}x{res}/Conv1/weight')[3]
  z_dim = t.shape(f'{prefix_map}Dense0/weight')[0]
  w_dim = t.shape(f'{prefix_map}Dense{n_map - 1}/weight')[1]
  hidden = t.shape(f'{prefix_map}Dense0/weight')[1] if n_map > 1 else None
  config = stylegan2.GeneratorConfig(
      resolution=resolution, channels=tuple(channels.items()), z_dim=z_dim,
      w_dim=w_dim, mapping_layers=n_map,
      mapping_features=hidden if hidden != w_dim else None,
      mapping_lr_multiplier=_number(kwargs.get('mapping_lrmul', 0.01),
                                    'mapping_lrmul'),
      img_channels=t.shape(f'{prefix_syn}{resolution}x{resolution}/ToRGB/bias')[0])

  tree = _Tree()
  _put_mapping(tree, t, [f'{prefix_map}Dense{i}/' for i in range(n_map)],
               transpose=False)
  w_avg_source = _put_w_avg(tree, t, 'dlatent_avg')
  tree.put('params/synthesis/b4/const',
           np.transpose(t.get(f'{prefix_syn}4x4/Const/const')[0], (1, 2, 0)),
           f'{prefix_syn}4x4/Const/const')

  def modulated(src: str, dst: str):
    tree.put(f'params/{dst}/affine/weight', t.get(f'{src}/mod_weight'),
             f'{src}/mod_weight')
    tree.put(f'params/{dst}/affine/bias', t.get(f'{src}/mod_bias') + 1.0,
             f'{src}/mod_bias')
    tree.put(f'params/{dst}/bias', t.get(f'{src}/bias').reshape(-1),
             f'{src}/bias')

  for res in resolutions:
    tf_layers = ['Conv'] if res == 4 else ['Conv0_up', 'Conv1']
    for tf_name, (layer, noise) in zip(tf_layers, _layer_names(res)):
      src = f'{prefix_syn}{res}x{res}/{tf_name}'
      dst = f'synthesis/b{res}/{layer}'
      tree.put(f'params/{dst}/weight', t.get(f'{src}/weight'), f'{src}/weight')
      modulated(src, dst)
      tree.put(f'params/{dst}/noise_strength',
               t.get(f'{src}/noise_strength').reshape(()),
               f'{src}/noise_strength')
      tree.put(f'buffers/{dst}/noise_const',
               t.get(f'{prefix_syn}noise{noise}')[0, 0],
               f'{prefix_syn}noise{noise}')
    src, dst = f'{prefix_syn}{res}x{res}/ToRGB', f'synthesis/b{res}/torgb'
    tree.put(f'params/{dst}/weight', t.get(f'{src}/weight')[0, 0],
             f'{src}/weight')
    modulated(src, dst)
  if t.has(f'{prefix_syn}lod'):
    t.get(f'{prefix_syn}lod')  # progressive-growing level of detail: unused
  _reject_unused(t)
  return _finish(tree, config, w_avg_source, 'tf')


# --------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------


def _field(module: readers.PersistentModule, key: str, kind: type,
           default: Any) -> Any:
  """A module attribute from the file, checked to be of `kind`."""
  value = module.state.get(key) if isinstance(module.state, dict) else None
  if value is None:
    return default
  if not isinstance(value, kind):
    raise ConversionError(f'NVIDIA pickle: {quote(module.class_name)} {key} is '
                          f'{quote(value)}, expected a {kind.__name__}')
  return value


def _number(value: Any, what: str, allow_none: bool = False) -> float | None:
  """A positive finite number from the file (or None when allowed)."""
  if value is None and allow_none:
    return None
  if type(value) in (int, float) and math.isfinite(value) and value > 0:
    return float(value)
  raise ConversionError(f'{what} is {quote(value)}; expected a positive '
                        'number')


def _reject_unused(t: _Tensors) -> None:
  extra = t.unused()
  if extra:
    more = f' (+{len(extra) - 5} more)' if len(extra) > 5 else ''
    raise ConversionError(f'{t.fmt} checkpoint has unexpected tensors '
                          f'[{", ".join(quote(e) for e in extra[:5])}]{more}')


_MAX_WIDTH = 8192  # z, w, mapping and conv widths (StyleGAN2 uses <= 1024)
_MAX_RESOLUTION = 8192


def _check_architecture(config: stylegan2.GeneratorConfig,
                        fmt: SourceFormat) -> None:
  """Refuses degenerate or absurd sizes before anything is built from them."""
  widths = {'z_dim': config.z_dim, 'w_dim': config.w_dim,
            'mapping width': config.mapping_features or config.w_dim,
            **{f'{res}x{res} channels': c for res, c in config.channels}}
  for what, value in widths.items():
    if not 1 <= value <= _MAX_WIDTH:
      raise ConversionError(f'{fmt} checkpoint: {what} is {value}; expected '
                            f'1 to {_MAX_WIDTH}')
  if not 1 <= config.mapping_layers <= 64 or not (
      1 <= config.img_channels <= 16) or config.resolution > _MAX_RESOLUTION:
    raise ConversionError(f'{fmt} checkpoint: implausible architecture '
                          f'(mapping layers {config.mapping_layers}, image '
                          f'channels {config.img_channels}, resolution '
                          f'{config.resolution})')


def _finish(tree: _Tree, config: stylegan2.GeneratorConfig,
            w_avg_source: str | None, fmt: SourceFormat) -> Converted:
  """Checks the architecture and every leaf against its shapes."""
  _check_architecture(config, fmt)
  if w_avg_source is None:
    tree.put('buffers/mapping/w_avg', np.zeros((config.w_dim,)), '(estimated)')
  abstract = stylegan2.abstract_variables(config)
  want = {tuple(k.key for k in path): tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_leaves_with_path(abstract)}
  for keys, shape in want.items():
    node = tree.variables
    for k in keys:
      if k not in node:
        raise ConversionError(f'{fmt} checkpoint lacks a tensor for '
                              f'{"/".join(keys)}')
      node = node[k]
    if node.shape != shape:
      raise ConversionError(
          f'shape mismatch: {fmt} tensor {tree.sources[keys]!r} gives '
          f'{node.shape} for {"/".join(keys)}, expected {shape}')
    if not np.all(np.isfinite(node)):
      raise ConversionError(f'{fmt} tensor {tree.sources[keys]!r} contains '
                            'NaN or inf (corrupt file?)')
  return Converted(config, tree.variables, w_avg_source, fmt)


def detect_format(obj: Any) -> SourceFormat:
  """Recognises the checkpoint format from the unpickled object."""
  if isinstance(obj, dict):
    if 'G_ema' in obj:
      return 'nvidia'
    if 'g_ema' in obj or 'style.1.weight' in obj:
      return 'rosinality'
  if isinstance(obj, (tuple, list)) and any(
      isinstance(n, readers.TFNetwork) for n in obj):
    return 'tf'
  raise ConversionError(
      'unknown checkpoint format: expected a rosinality .pt (g_ema), an '
      'NVIDIA .pkl (G_ema) or a TF .pkl (G, D, Gs)')


def convert_object(obj: Any, fmt: str = 'auto') -> Converted:
  """Maps an unpickled checkpoint onto the Flax variable tree.

  Args:
    obj: result of `readers.read_checkpoint_file`.
    fmt: 'auto' or one of 'rosinality', 'nvidia', 'tf'.

  Returns:
    The `Converted` result at the source's resolution.
  """
  found = detect_format(obj)
  if fmt not in ('auto',) + FORMATS:
    raise ConversionError(f'unknown --format {fmt!r}; use auto, '
                          + ', '.join(FORMATS))
  if fmt != 'auto' and fmt != found:
    raise ConversionError(f'the file is a {found} checkpoint, not {fmt}')
  return {'rosinality': _from_rosinality, 'nvidia': _from_nvidia,
          'tf': _from_tf}[found](obj)
