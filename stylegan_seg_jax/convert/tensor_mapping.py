"""What the per-format mappings share: tensors in, a checked tree out.

Each source format (`rosinality`, `nvidia_pytorch`, `nvidia_tf`) reads its
tensors through `Tensors`, infers the architecture with `infer_config`, puts
every tensor into a `Tree` and ends with `finish`, which checks the
architecture's sizes and every leaf against the shapes the generator wants.
FIR buffers stored in the files are derived values: `check_fir` checks them
against the filter the generator uses, then they are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
import math
from typing import Any, Literal

import jax
import ml_dtypes
import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.runtime.messages import quote
from stylegan_seg_jax.stylegan2 import ops

__all__ = [
    'SourceFormat',
    'FORMATS',
    'ConversionError',
    'Converted',
    'Tensors',
    'Tree',
    'count_layers',
    'number',
    'infer_config',
    'put_mapping',
    'put_w_avg',
    'check_fir',
    'hwio',
    'res_log2',
    'layer_names',
    'reject_unused',
    'finish',
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
    """Holds the result; see the class attributes."""
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


class Tensors:
  """Source tensors by name; tracks which ones the mapping consumed.

  Converting a tensor to float32 copies it; the copies are bounded by twice
  the bytes of the distinct storages behind the tensors (plus 16 MiB), so a
  file cannot make many large tensors out of one storage.

  Attributes:
    fmt: the source format's name in messages ('rosinality', 'NVIDIA', ...).
  """

  def __init__(self, tensors: dict[str, Any], fmt: str):
    """The tensors of a `fmt` checkpoint, checked to be named arrays."""
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
    """Whether the source holds tensor `name`."""
    return name in self._tensors

  def get(self, name: str) -> np.ndarray:
    """Tensor `name` as float32; it counts as used."""
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
    with np.errstate(over='ignore', invalid='ignore'):  # finish: non-finite
      return np.asarray(value, dtype=np.float32)

  def shape(self, name: str) -> tuple[int, ...]:
    """The shape of tensor `name` (it does not count as used)."""
    if name not in self._tensors:
      raise ConversionError(f'{self.fmt} checkpoint is missing tensor {name!r}')
    return tuple(np.shape(self._tensors[name]))

  def unused(self) -> list[str]:
    """The names of the tensors no `get` asked for, sorted."""
    return sorted(set(self._tensors) - self._used)


class Tree:
  """Builds the Flax variable tree, remembering each leaf's source name.

  Attributes:
    variables: `{'params': ..., 'buffers': ...}`, nested dicts of arrays.
    sources: the source tensor name of each leaf, by its path's keys.
  """

  def __init__(self):
    """An empty tree."""
    self.variables: dict[str, Any] = {'params': {}, 'buffers': {}}
    self.sources: dict[tuple[str, ...], str] = {}

  def put(self, path: str, value: np.ndarray, source: str) -> None:
    """Puts a float32 copy of `value` at `path` ('params/mapping/...')."""
    keys = tuple(path.split('/'))
    node = self.variables
    for k in keys[:-1]:
      node = node.setdefault(k, {})
    node[keys[-1]] = np.array(value, dtype=np.float32, order="C")
    self.sources[keys] = source


def count_layers(t: Tensors, name: Callable[[int], str]) -> int:
  """How many of the tensors `name(0)`, `name(1)`, ... the source holds."""
  n = 0
  while t.has(name(n)):
    n += 1
  return n


def number(value: Any, what: str) -> float:
  """A positive finite number from the file."""
  if type(value) in (int, float) and math.isfinite(value) and value > 0:
    return float(value)
  raise ConversionError(f'{what} is {quote(value)}; expected a positive '
                        'number')


def infer_config(t: Tensors, mapping: Callable[[int], str], n_mapping: int,
                 channels: dict[int, int], *, torch_layout: bool,
                 rgb: str | None = None,
                 **settings: Any) -> stylegan2.GeneratorConfig:
  """The generator's architecture, from the shapes of the source's tensors.

  Args:
    t: the source tensors.
    mapping: the name prefix of mapping layer i (`{prefix}weight`).
    n_mapping: the number of mapping layers.
    channels: conv channels by resolution, the highest one the generator's.
    torch_layout: the dense weights are [out, in] (PyTorch), else [in, out]
      (TF).
    rgb: a tensor whose first dimension is the image channels (None: the
      default, 3).
    **settings: what shapes cannot tell (`conv_clamp`,
      `mapping_lr_multiplier`).

  Returns:
    The config, not checked yet (`finish` checks it).
  """
  in_axis, out_axis = (1, 0) if torch_layout else (0, 1)
  first = t.shape(f'{mapping(0)}weight')
  z_dim = first[in_axis]
  w_dim = t.shape(f'{mapping(n_mapping - 1)}weight')[out_axis]
  hidden = first[out_axis] if n_mapping > 1 else None
  if rgb is not None:
    settings['img_channels'] = t.shape(rgb)[0]
  return stylegan2.GeneratorConfig(
      resolution=max(channels), channels=tuple(channels.items()), z_dim=z_dim,
      w_dim=w_dim, mapping_layers=n_mapping,
      mapping_features=hidden if hidden != w_dim else None, **settings)


def put_mapping(tree: Tree, t: Tensors, mapping: Callable[[int], str],
                n_mapping: int, *, transpose: bool) -> None:
  """The mapping layers: `{prefix}weight` / `{prefix}bias` -> fc{i}.

  PyTorch stores dense weights [out, in] (`transpose`), TF [in, out].
  """
  for i in range(n_mapping):
    prefix = mapping(i)
    weight = t.get(f'{prefix}weight')
    tree.put(f'params/mapping/fc{i}/weight', weight.T if transpose else weight,
             f'{prefix}weight')
    tree.put(f'params/mapping/fc{i}/bias', t.get(f'{prefix}bias'),
             f'{prefix}bias')


def put_w_avg(tree: Tree, t: Tensors, name: str) -> str | None:
  """The stored average latent, if the source has one; returns its name."""
  if not t.has(name):
    return None
  tree.put('buffers/mapping/w_avg', t.get(name), name)
  return name


def check_fir(t: Tensors, name: str, fir: tuple[float, ...],
              gain: float) -> None:
  """Checks a stored (derived) FIR buffer against the generator's filter."""
  taps = ops.fir_taps(fir)
  expected = np.outer(taps, taps) * gain
  got = t.get(name)
  if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-6):
    raise ConversionError(
        f'{name!r} is not the [1, 3, 3, 1] FIR filter this converter '
        'supports (a custom resample filter)')


def hwio(w_oihw: np.ndarray, flip: bool) -> np.ndarray:
  """A PyTorch OIHW conv kernel as HWIO (`flip`: spatially flipped)."""
  if flip:
    w_oihw = w_oihw[:, :, ::-1, ::-1]
  return np.transpose(w_oihw, (2, 3, 1, 0))


def res_log2(res: int) -> int:
  """log2 of a resolution."""
  return int(round(np.log2(res)))


def layer_names(res: int) -> list[tuple[str, int]]:
  """(conv name, noise index) of the conv layers of block `res`."""
  if res == 4:
    return [('conv1', 0)]
  log2 = res_log2(res)
  return [('conv0', 2 * log2 - 5), ('conv1', 2 * log2 - 4)]


def reject_unused(t: Tensors) -> None:
  """Refuses the source's tensors that no mapping used."""
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


def finish(tree: Tree, config: stylegan2.GeneratorConfig,
           w_avg_source: str | None, fmt: SourceFormat) -> Converted:
  """Checks the architecture and every leaf against its shapes."""
  _check_architecture(config, fmt)
  if w_avg_source is None:
    tree.put('buffers/mapping/w_avg', np.zeros((config.w_dim,)), '(estimated)')
  abstract = stylegan2.abstract_variables(config)
  want = {tuple(k.key for k in path): tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_leaves_with_path(abstract)}
  for keys, shape in want.items():
    node: Any = tree.variables  # nested dicts, then the leaf array
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
