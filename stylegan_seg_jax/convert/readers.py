"""Torch-free, TensorFlow-free readers for StyleGAN2 checkpoint files.

Three file kinds are read into plain Python containers and numpy arrays,
without importing torch, TensorFlow or the projects that wrote them
(docs/formats.md):

* torch zip archives (`torch.save`, torch >= 1.6): `data.pkl` plus one raw
  little-endian file per storage;
* torch legacy streams (`torch.save(..., _use_new_zipfile_serialization=
  False)`, older `.pt` files and every storage embedded in an NVIDIA `.pkl`):
  magic number, protocol, sys-info, the pickled object, the storage keys,
  then each storage as an int64 element count and its raw bytes;
* plain pickles (NVIDIA stylegan2-ada / stylegan3 `.pkl`, NVIDIA TF `.pkl`).

Unpickling is restricted: `find_class` answers only an allow-list of globals
and replaces foreign classes (NVIDIA's persistent modules, TF networks,
`argparse.Namespace`, ...) with inert stubs that only store their state.
Nothing from the file is ever executed (NVIDIA pickles carry their module
source code; it is kept as a string and ignored).
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from typing import Any
import zipfile

import ml_dtypes
import numpy as np

__all__ = [
    'CheckpointReadError',
    'PersistentModule',
    'TFNetwork',
    'read_checkpoint_file',
]

_TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c

_STORAGE_DTYPES = {
    'FloatStorage': np.float32,
    'DoubleStorage': np.float64,
    'HalfStorage': np.float16,
    'BFloat16Storage': ml_dtypes.bfloat16,
    'LongStorage': np.int64,
    'IntStorage': np.int32,
    'ShortStorage': np.int16,
    'CharStorage': np.int8,
    'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
    'UntypedStorage': np.uint8,
}


class CheckpointReadError(ValueError):
  """The file cannot be read as a checkpoint (corrupt, truncated, unsafe)."""


class _StorageType:
  """Stands for a torch `*Storage` class inside a persistent id."""

  def __init__(self, name: str):
    self.name = name
    self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _AttrDict(dict):
  """Stub for `dnnlib.EasyDict` / `dnnlib.util.EasyDict`."""

  def __getattr__(self, name: str) -> Any:
    try:
      return self[name]
    except KeyError as e:
      raise AttributeError(name) from e


class _Namespace:
  """Stub for `argparse.Namespace` (rosinality training checkpoints)."""

  def __setstate__(self, state: Any) -> None:
    if isinstance(state, dict):
      self.__dict__.update(state)


class PersistentModule:
  """An NVIDIA persistent module (`torch_utils.persistence`), as data only.

  Attributes:
    class_name: the original class name, e.g. 'Generator'.
    state: the module's `__dict__` (`_parameters`, `_buffers`, `_modules`,
      `_init_kwargs`, ...).
  """

  def __init__(self, class_name: str, state: dict[str, Any]):
    self.class_name = class_name
    self.state = state

  def named_tensors(self, prefix: str = '') -> dict[str, np.ndarray]:
    """Parameters and persistent buffers of the module tree, dotted names."""
    out = {}
    skip = set(self.state.get('_non_persistent_buffers_set', ()) or ())
    for group in ('_parameters', '_buffers'):
      for name, value in (self.state.get(group) or {}).items():
        if value is not None and name not in skip:
          out[prefix + name] = value
    for name, child in (self.state.get('_modules') or {}).items():
      if isinstance(child, (PersistentModule, _ModuleStub)):
        out.update(child.named_tensors(f'{prefix}{name}.'))
    return out


class _ModuleStub(PersistentModule):
  """A plain (non-persistent) torch.nn module pickled by `copyreg`."""

  def __init__(self):
    super().__init__(type(self).__name__, {})

  def __setstate__(self, state: Any) -> None:
    self.state = dict(state) if isinstance(state, dict) else {}


class TFNetwork:
  """An NVIDIA TF `dnnlib.tflib.network.Network`, as data only.

  Attributes:
    name: network name ('G', 'D', 'Gs', 'G_mapping', ...).
    static_kwargs: construction kwargs.
    components: sub-networks by key ('mapping', 'synthesis').
    variables: list of (local name, numpy array).
  """

  def __init__(self):
    self.name = ''
    self.static_kwargs: dict[str, Any] = {}
    self.components: dict[str, TFNetwork] = {}
    self.variables: list[tuple[str, np.ndarray]] = []

  def __setstate__(self, state: Any) -> None:
    if not isinstance(state, dict):
      raise CheckpointReadError('TF network pickle has an unexpected state')
    self.name = state.get('name', '')
    self.static_kwargs = dict(state.get('static_kwargs') or {})
    self.components = dict(state.get('components') or {})
    self.variables = list(state.get('variables') or [])

  def named_variables(self, prefix: str = '') -> dict[str, np.ndarray]:
    """Variables of the network tree, named by component key."""
    out = {prefix + n: np.asarray(v) for n, v in self.variables}
    for key, comp in self.components.items():
      out.update(comp.named_variables(f'{prefix}{key}/'))
    return out


def _rebuild_tensor(storage, offset, size, stride, *unused):
  del unused  # requires_grad, backward hooks, metadata
  if not isinstance(storage, np.ndarray):
    raise CheckpointReadError('tensor without a storage')
  size, stride = tuple(size), tuple(stride)
  numel = int(np.prod(size)) if size else 1
  if numel == 0:
    return np.zeros(size, storage.dtype)
  last = offset + sum((s - 1) * st for s, st in zip(size, stride))
  if offset < 0 or last >= storage.size:
    raise CheckpointReadError('tensor extends past its storage (truncated?)')
  item = storage.dtype.itemsize
  # A view: legacy streams fill their storages after the tensors are built.
  return np.lib.stride_tricks.as_strided(
      storage[offset:], shape=size, strides=[s * item for s in stride])


def _rebuild_parameter(data, *unused):
  del unused
  return data


def _rebuild_from_type(func, new_type, args, state):
  del new_type, state
  if func is not _rebuild_tensor:
    raise CheckpointReadError('unsupported tensor subclass in checkpoint')
  return func(*args)


def _latin1_encode(obj, encoding='utf-8', errors='strict'):
  """`_codecs.encode`, only as protocol-2 pickles use it: str -> latin-1 bytes.

  Python 3 pickles `bytes` at protocol 2 as `_codecs.encode(text, 'latin1')`
  (numpy arrays inside `torch.save` files carry their data this way).
  """
  if (not isinstance(obj, str) or encoding not in ('latin1', 'latin-1')
      or errors != 'strict'):
    raise CheckpointReadError('refusing _codecs.encode other than str -> '
                              'latin-1 bytes')
  return obj.encode('latin-1')


def _reconstructor(cls, base, state):
  del base, state
  if not (isinstance(cls, type) and issubclass(cls, (_ModuleStub, _Namespace))):
    raise CheckpointReadError(f'refusing to reconstruct {cls!r}')
  return cls.__new__(cls)


def _reconstruct_persistent(meta):
  if not isinstance(meta, dict) or meta.get('type') != 'class':
    raise CheckpointReadError('unsupported NVIDIA persistent object')
  state = meta.get('state') or {}
  return PersistentModule(str(meta.get('class_name', '?')), dict(state))


class _RestrictedUnpickler(pickle.Unpickler):
  """Unpickler that resolves only allow-listed globals, to stubs or data."""

  def __init__(self, file, storage_loader=None, **kwargs):
    super().__init__(file, **kwargs)
    self._storage_loader = storage_loader

  def find_class(self, module: str, name: str) -> Any:
    if module == 'collections' and name == 'OrderedDict':
      import collections
      return collections.OrderedDict
    if module in ('torch._utils', 'torch') and name == '_rebuild_tensor_v2':
      return _rebuild_tensor
    if module == 'torch._utils' and name in ('_rebuild_parameter',
                                             '_rebuild_parameter_with_state'):
      return _rebuild_parameter
    if module == 'torch._tensor' and name == '_rebuild_from_type_v2':
      return _rebuild_from_type
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(name)
    if module == 'torch.storage' and name == '_load_from_bytes':
      return _load_embedded_storage
    if module == 'torch_utils.persistence' and (
        name == '_reconstruct_persistent_obj'):
      return _reconstruct_persistent
    if module in ('dnnlib', 'dnnlib.util') and name == 'EasyDict':
      return _AttrDict
    if module == 'dnnlib.tflib.network' and name == 'Network':
      return TFNetwork
    if module == 'argparse' and name == 'Namespace':
      return _Namespace
    if module == 'copyreg' and name == '_reconstructor':
      return _reconstructor
    if module == 'builtins' and name == 'object':
      return object
    if module == '_codecs' and name == 'encode':
      return _latin1_encode
    if module.startswith('torch.nn.modules.'):
      return type(name, (_ModuleStub,), {})
    if module in ('numpy.core.multiarray', 'numpy._core.multiarray') and (
        name in ('_reconstruct', 'scalar')):
      return getattr(np._core.multiarray, name)  # pylint: disable=protected-access
    if module in ('numpy.core.numeric', 'numpy._core.numeric') and (
        name == '_frombuffer'):  # numpy >= 1.23 arrays, pickle protocol 5
      return np._core.numeric._frombuffer  # pylint: disable=protected-access
    if module == 'numpy' and name in ('dtype', 'ndarray'):
      return getattr(np, name)
    raise CheckpointReadError(
        f'refusing to unpickle disallowed global {module}.{name}')

  def persistent_load(self, pid: Any) -> Any:
    if self._storage_loader is None:
      raise CheckpointReadError('unexpected persistent id in pickle')
    return self._storage_loader(pid)


def _storage_pid(pid: Any) -> tuple[_StorageType, str, int]:
  if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == 'storage'
          and isinstance(pid[1], _StorageType)):
    raise CheckpointReadError(f'unsupported persistent id {pid!r:.80}')
  return pid[1], str(pid[2]), int(pid[4])


def _read_torch_zip(path: str) -> Any:
  with zipfile.ZipFile(path) as zf:
    names = zf.namelist()
    pkls = [n for n in names if n.endswith('data.pkl')]
    if len(pkls) != 1:
      raise CheckpointReadError('zip archive is not a torch checkpoint')
    prefix = pkls[0][:-len('data.pkl')]
    byteorder = 'little'
    if prefix + 'byteorder' in names:
      byteorder = zf.read(prefix + 'byteorder').decode().strip()
    cache: dict[str, np.ndarray] = {}

    def load_storage(pid):
      stype, key, numel = _storage_pid(pid)
      if key not in cache:
        raw = zf.read(f'{prefix}data/{key}')
        dtype = stype.dtype.newbyteorder('<' if byteorder == 'little' else '>')
        if len(raw) < numel * dtype.itemsize:
          raise CheckpointReadError(f'storage {key} is truncated')
        cache[key] = np.frombuffer(raw, dtype, count=numel).astype(
            stype.dtype)  # a writable, native-order copy
      return cache[key]

    with zf.open(pkls[0]) as f:
      return _RestrictedUnpickler(io.BytesIO(f.read()), load_storage).load()


def _read_torch_legacy(f: io.BufferedIOBase) -> Any:
  """Reads a legacy torch stream positioned at its start."""
  magic = _RestrictedUnpickler(f).load()
  if magic != _TORCH_LEGACY_MAGIC:
    raise CheckpointReadError('not a torch legacy stream')
  protocol = _RestrictedUnpickler(f).load()
  if protocol != 1001:
    raise CheckpointReadError(f'unsupported torch legacy protocol {protocol}')
  sys_info = _RestrictedUnpickler(f).load()
  if not isinstance(sys_info, dict) or not sys_info.get('little_endian', True):
    raise CheckpointReadError('big-endian torch files are not supported')
  # As torch does: storages are allocated when the pickle names them, tensors
  # are views into them, and the bytes (which follow the pickle) fill them.
  storages: dict[str, np.ndarray] = {}

  def load_storage(pid):
    stype, key, numel = _storage_pid(pid)
    if key not in storages:
      storages[key] = np.zeros(numel, stype.dtype)
    view = pid[5] if len(pid) > 5 else None
    if view is not None:
      _, offset, size = view
      return storages[key][int(offset):int(offset) + int(size)]
    return storages[key]

  result = _RestrictedUnpickler(f, load_storage).load()
  keys = _RestrictedUnpickler(f).load()
  for key in keys:
    storage = storages.get(key)
    header = f.read(8)
    if storage is None or len(header) != 8:
      raise CheckpointReadError('torch legacy stream is truncated or corrupt')
    (count,) = struct.unpack('<q', header)
    raw = f.read(count * storage.dtype.itemsize)
    if count != storage.size or len(raw) != storage.nbytes:
      raise CheckpointReadError('torch legacy stream is truncated')
    storage[:] = np.frombuffer(raw, storage.dtype)
  return result


def _load_embedded_storage(data: bytes) -> np.ndarray:
  """`torch.storage._load_from_bytes`: a legacy stream holding one storage."""
  return _read_torch_legacy(io.BytesIO(data))


def read_checkpoint_file(path: str | os.PathLike[str]) -> Any:
  """Reads a `.pt` or `.pkl` checkpoint into containers and numpy arrays.

  Args:
    path: the file.

  Returns:
    The unpickled object: dicts, lists, numpy arrays, `PersistentModule` (for
    NVIDIA pickles) and `TFNetwork` (for TF pickles).

  Raises:
    CheckpointReadError: unreadable, truncated, corrupt or unsafe file.
  """
  path = os.fspath(path)
  try:
    with open(path, 'rb') as f:
      head = f.read(4)
    if head == b'PK\x03\x04':  # a zip archive: torch >= 1.6 format
      if not zipfile.is_zipfile(path):
        raise CheckpointReadError(f'cannot read {path}: truncated or corrupt '
                                  'zip archive (no central directory)')
      return _read_torch_zip(path)
    with open(path, 'rb') as f:
      if not head or head[0] != 0x80:
        raise CheckpointReadError('not a pickle or torch checkpoint')
      f.seek(0)
      first = _RestrictedUnpickler(f, encoding='latin1').load()
      f.seek(0)
      if first == _TORCH_LEGACY_MAGIC:
        return _read_torch_legacy(f)
      # A plain pickle: NVIDIA (torch storages embedded) or TF (numpy).
      return _RestrictedUnpickler(f, encoding='latin1').load()
  except CheckpointReadError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    # Whatever a damaged byte stream makes the unpickler raise.
    raise CheckpointReadError(
        f'cannot read {path}: truncated or corrupt file '
        f'({type(e).__name__}: {e})') from None
