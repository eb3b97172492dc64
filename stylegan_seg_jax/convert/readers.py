"""Torch-free, TensorFlow-free readers for StyleGAN2 checkpoint files.

Three file kinds are read into plain Python containers and numpy arrays,
without importing torch, TensorFlow or the projects that wrote them
(docs/formats.md):

* torch zip archives (`torch.save`, torch >= 1.6): `data.pkl` plus one raw
  file per storage;
* torch legacy streams (`torch.save(..., _use_new_zipfile_serialization=
  False)`, older `.pt` files and every storage embedded in an NVIDIA `.pkl`):
  magic number, protocol, sys-info, the pickled object, the storage keys,
  then each storage as an int64 element count and its raw bytes;
* plain pickles (NVIDIA stylegan2-ada / stylegan3 `.pkl`, NVIDIA TF `.pkl`).

The files are untrusted (docs/formats.md, "Hostile files"). Unpickling runs
on the pure-Python unpickler with its opcodes gated:

* globals resolve only through an allow-list, to inert stand-ins or to
  checked builder functions; nothing from the file is executed (NVIDIA
  pickles carry their module source code: it is kept as a string, ignored);
* only the builder functions may be called (REDUCE), only the stand-in
  classes may be instantiated (NEWOBJ), and only stand-ins and arrays may
  receive state (BUILD), through their own checked `__setstate__`: a file
  can never set attributes on a class or on a numpy dtype;
* numpy arrays and scalars are built only with plain numeric dtypes (never
  object or structured ones), from exactly as many bytes as they need;
* a tensor is a view that numpy bounds-checks, after its size, stride and
  offset were checked to stay inside its storage;
* dict keys and set items must be flat scalars (no deep hashing);
* every byte count read from the file is checked against what is left of
  the file before anything is allocated, every allocation is charged to a
  budget (by default 4x the file size plus 64 MiB), and data after the end
  of a pickle or stream is refused.

Walks over the unpickled object graph (`PersistentModule.named_tensors`,
`TFNetwork.named_variables`) visit each node once and at most `MAX_NODES`
nodes, so shared or cyclic references cannot make them run away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import io
import math
import os
import pickle
import stat
import struct
from typing import Any
import zipfile

import ml_dtypes
import numpy as np

from stylegan_seg_jax.runtime.messages import quote

__all__ = [
    'CheckpointReadError',
    'PersistentModule',
    'TFNetwork',
    'MAX_NODES',
    'default_byte_limit',
    'read_checkpoint_file',
]

MIB = 1 << 20
MAX_NODES = 1_000_000  # modules / networks a walk may visit
_MAX_NDIM = 16
_MAX_DIM = 1 << 40  # a tensor dimension
_OPCODE_COST = 64  # bytes charged per pickle opcode (an object it may create)
_MAX_LINE = 1 << 16  # a text opcode's line (GLOBAL names, text ints)
_MAX_STUB_CLASSES = 4096

_TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_TORCH_LEGACY_PROTOCOL = 1001

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

# numpy dtypes a file may name (numpy.dtype(NAME, ...)): plain numbers only.
_NUMPY_DTYPES = frozenset(
    ['b1', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8',
     'c8', 'c16'])


def default_byte_limit(file_size: int) -> int:
  """Bytes a read may allocate for a file of `file_size` bytes.

  Tensor data cannot take more room than the file that holds it; the
  factor 4 covers the copies reading makes (e.g. TF pickles hold arrays as
  latin-1 text, then bytes, then the array).
  """
  return 4 * file_size + 64 * MIB


class CheckpointReadError(ValueError):
  """The file cannot be read as a checkpoint (corrupt, truncated, unsafe)."""


class _Budget:
  """Counts the bytes a read allocates and stops it at a limit."""

  def __init__(self, limit: int):
    self.limit = limit
    self.used = 0

  def charge(self, nbytes: int, what: str) -> None:
    self.used += nbytes
    if self.used > self.limit:
      raise CheckpointReadError(
          f'{what} would take the data read past {self.limit // MIB} MiB '
          '(4x the file size + 64 MiB): the file is corrupt or hostile')


class _BoundedReader:
  """A byte stream that refuses reads longer than what is left of it.

  Byte counts come from the file; checking them against the bytes left
  before reading means a tiny file cannot make the reader allocate a huge
  buffer.
  """

  def __init__(self, f: Any, size: int):
    self._f = f
    self.left = size

  def read(self, n: int = -1) -> bytes:
    if n is None or n < 0:
      n = self.left
    if n > self.left:
      raise CheckpointReadError(
          f'truncated or corrupt file: a record needs {n} bytes, '
          f'{self.left} are left')
    data = self._f.read(n)
    self.left -= len(data)
    if len(data) != n:
      raise CheckpointReadError('truncated or corrupt file')
    return data

  def readinto(self, buffer: np.ndarray) -> int:
    view = memoryview(buffer.view(np.uint8))
    if view.nbytes > self.left:
      raise CheckpointReadError(
          f'truncated or corrupt file: a record needs {view.nbytes} bytes, '
          f'{self.left} are left')
    done = 0
    while done < view.nbytes:
      n = self._f.readinto(view[done:done + 16 * MIB])
      if not n:
        raise CheckpointReadError('truncated or corrupt file')
      done += n
    self.left -= done
    return done

  def readline(self) -> bytes:
    line = self._f.readline(min(self.left, _MAX_LINE))
    self.left -= len(line)
    if not line.endswith(b'\n'):
      raise CheckpointReadError('truncated or corrupt file (an unfinished '
                                'or overlong text record)')
    return line


# --------------------------------------------------------------------------
# Stand-ins: what foreign classes become. Each takes state only through its
# own checked __setstate__.
# --------------------------------------------------------------------------


class _Stub:
  """Base of the inert stand-ins a file may create and fill."""

  def __setstate__(self, state: Any) -> None:
    raise CheckpointReadError(
        f'unexpected state for {type(self).__name__}')


def _str_keyed(state: Any, what: str) -> dict[str, Any]:
  if not isinstance(state, dict) or not all(
      isinstance(k, str) for k in state):
    raise CheckpointReadError(f'{what}: state is not a dict with string keys')
  return dict(state)


class _StateDict(dict, _Stub):
  """Stand-in for `collections.OrderedDict` (torch state dicts).

  Attributes:
    attributes: instance attributes the file gave (torch's `_metadata`).
  """

  def __setstate__(self, state: Any) -> None:
    if state is not None:
      self.attributes = _str_keyed(state, 'OrderedDict')


class _AttrDict(dict, _Stub):
  """Stand-in for `dnnlib.EasyDict` / `dnnlib.util.EasyDict`."""

  def __getattr__(self, name: str) -> Any:
    try:
      return self[name]
    except KeyError as e:
      raise AttributeError(name) from e

  def __setstate__(self, state: Any) -> None:
    if state is not None:
      _str_keyed(state, 'EasyDict')  # an EasyDict keeps its data as items


class _Namespace(_Stub):
  """Stand-in for `argparse.Namespace` (rosinality training checkpoints).

  Attributes:
    values: the namespace's attributes.
  """

  def __init__(self):
    self.values: dict[str, Any] = {}

  def __setstate__(self, state: Any) -> None:
    self.values = _str_keyed(state, 'argparse.Namespace')


class PersistentModule(_Stub):
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
    """Parameters and persistent buffers of the module tree, dotted names.

    Each module is visited once (like torch's `named_parameters`), at most
    `MAX_NODES` of them.

    Args:
      prefix: prepended to every name.

    Returns:
      name -> array.

    Raises:
      CheckpointReadError: a module's state is not what torch writes.
    """
    out = {}
    for path, module in _walk(self, prefix, _module_children):
      state = _str_keyed(module.state, f'module {quote(path)}')
      skip = _optional(state, '_non_persistent_buffers_set', ())
      if not isinstance(skip, (set, frozenset, list, tuple)):
        raise CheckpointReadError(f'module {quote(path)}: bad non-persistent '
                                  'buffer set')
      skip = {s for s in skip if isinstance(s, str)}
      for group in ('_parameters', '_buffers'):
        tensors = _str_keyed(_optional(state, group, {}),
                             f'module {quote(path)} {group}')
        for name, value in tensors.items():
          if not name or '.' in name:
            raise CheckpointReadError(f'tensor name {quote(name)} under '
                                      f'{quote(path)} is not a torch name')
          if value is None or name in skip:
            continue
          if not isinstance(value, np.ndarray):
            raise CheckpointReadError(
                f'{quote(path + name)} is not a tensor (a '
                f'{type(value).__name__})')
          out[path + name] = value
    return out


class _ModuleStub(PersistentModule):
  """A plain (non-persistent) torch.nn module pickled by `copyreg`."""

  def __init__(self):
    super().__init__(type(self).__name__, {})

  def __setstate__(self, state: Any) -> None:
    self.state = _str_keyed(state, f'torch module {type(self).__name__}')


def _optional(state: dict[str, Any], key: str, default: Any) -> Any:
  value = state.get(key)
  return default if value is None else value


def _module_children(path: str, module: Any
                     ) -> list[tuple[str, PersistentModule]]:
  state = module.state if isinstance(module.state, dict) else {}
  children = _str_keyed(_optional(state, '_modules', {}),
                        f'module {quote(path)} _modules')
  out = []
  for name, child in children.items():
    if child is None:
      continue
    if not name or '.' in name:  # torch forbids them: names would collide
      raise CheckpointReadError(f'module name {quote(name)} under '
                                f'{quote(path)} is not a torch module name')
    if not isinstance(child, PersistentModule):
      raise CheckpointReadError(f'module {quote(path + name)} is not a '
                                f'module (a {type(child).__name__})')
    out.append((f'{path}{name}.', child))
  return out


def _walk(root: Any, prefix: str,
          children: Callable[[str, Any], list[tuple[str, Any]]]
          ) -> Iterator[tuple[str, Any]]:
  """Pre-order walk visiting each node once, at most MAX_NODES nodes."""
  seen: set[int] = set()
  stack = [(prefix, root)]
  while stack:
    path, node = stack.pop()
    if id(node) in seen:
      continue
    seen.add(id(node))
    if len(seen) > MAX_NODES:
      raise CheckpointReadError(f'the object graph has more than {MAX_NODES} '
                                'modules')
    yield path, node
    stack.extend(reversed(children(path, node)))


class TFNetwork(_Stub):
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
    state = _str_keyed(state, 'TF network')
    name = _optional(state, 'name', '')
    if not isinstance(name, str):
      raise CheckpointReadError('TF network name is not a string')
    self.name = name
    self.static_kwargs = _str_keyed(_optional(state, 'static_kwargs', {}),
                                    f'TF network {quote(name)} static_kwargs')
    self.components = _str_keyed(_optional(state, 'components', {}),
                                 f'TF network {quote(name)} components')
    variables = _optional(state, 'variables', [])
    if not isinstance(variables, (list, tuple)):
      raise CheckpointReadError(f'TF network {quote(name)}: variables are '
                                'not a list')
    self.variables = list(variables)

  def named_variables(self, prefix: str = '') -> dict[str, np.ndarray]:
    """Variables of the network tree, named by component key.

    Args:
      prefix: prepended to every name.

    Returns:
      name -> array (each network visited once, at most `MAX_NODES`).

    Raises:
      CheckpointReadError: a variable or component is not what TF writes.
    """
    out = {}
    for path, net in _walk(self, prefix, _network_children):
      for item in net.variables:
        if not (isinstance(item, (tuple, list)) and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], (np.ndarray, np.number))):
          raise CheckpointReadError(
              f'TF network {quote(path)}: a variable is not a (name, array) '
              'pair')  # TF gives 0-d variables as numpy scalars
        out[path + item[0]] = np.asarray(item[1])
    return out


def _network_children(path: str, net: Any) -> list[tuple[str, TFNetwork]]:
  out = []
  for key, comp in net.components.items():
    if not isinstance(comp, TFNetwork):
      raise CheckpointReadError(f'TF component {quote(path + key)} is not a '
                                'network')
    out.append((f'{path}{key}/', comp))
  return out


class _StorageType:
  """Stands for a torch `*Storage` class inside a persistent id."""

  def __init__(self, name: str):
    self.name = name
    self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _DtypeSpec:
  """A numpy dtype named by the file; only its byte order may be set."""

  def __init__(self, dtype: np.dtype):
    self.dtype = dtype

  def apply_state(self, state: Any) -> None:
    """Takes the byte order from numpy's dtype state, checking the rest."""
    if not (isinstance(state, tuple) and len(state) in (8, 9)
            and _is_int(state[0], 3, 4)):
      raise CheckpointReadError(f'unexpected numpy dtype state '
                                f'{quote(state)}')
    order, subarray, names, fields, elsize, alignment, flags = state[1:8]
    size, align = self.dtype.itemsize, self.dtype.alignment
    if (not isinstance(order, str) or order not in ('<', '>', '|', '=')
        or subarray is not None or names is not None or fields is not None
        or not _is_int(elsize, -1, size) or not _is_int(alignment, -1, align)
        or not _is_int(flags, self.dtype.flags)):
      raise CheckpointReadError(f'refusing numpy dtype state {quote(state)} '
                                f'for {self.dtype}')
    if order in ('<', '>'):
      self.dtype = self.dtype.newbyteorder(order)


class _SafeArray(np.ndarray):
  """The array type `numpy.ndarray` resolves to; filled by a checked BUILD."""


def _is_str(value: Any, expected: str) -> bool:
  return isinstance(value, str) and value == expected


def _is_int(value: Any, *allowed: int) -> bool:
  return type(value) is int and value in allowed  # pylint: disable=unidiomatic-typecheck


def _checked_int(value: Any, what: str) -> int:
  """An int64 like torch's sizes (huge integers would make arithmetic slow)."""
  if type(value) is not int or value.bit_length() > 63:  # pylint: disable=unidiomatic-typecheck
    raise CheckpointReadError(f'{what} is not a 64-bit integer: '
                              f'{quote(value)}')
  return value


def _checked_shape(value: Any, what: str) -> tuple[int, ...]:
  if not isinstance(value, (tuple, list)) or len(value) > _MAX_NDIM:
    raise CheckpointReadError(f'{what} is not a shape: {quote(value)}')
  shape = tuple(_checked_int(v, what) for v in value)
  if any(s < 0 for s in shape):
    raise CheckpointReadError(f'{what} is negative: {quote(shape)}')
  if any(s >= _MAX_DIM for s in shape):
    raise CheckpointReadError(f'{what} has a dimension of 2**40 or more')
  return shape


def _checked_key(key: Any) -> None:
  """Dict keys and set items: strings, bytes, small ints, bool or None.

  String hashes are randomised; small ints and the rest cannot be made to
  collide en masse (which would make building a dict quadratic), and no key
  is a container (hashing nested tuples recurses in C).
  """
  if isinstance(key, (str, bytes, bool, type(None))) or (
      type(key) is int and key.bit_length() <= 31):  # pylint: disable=unidiomatic-typecheck
    return
  raise CheckpointReadError(f'refusing a dict key or set item of type '
                            f'{type(key).__name__} (or a large integer)')


def _as_bytes(data: Any, what: str) -> bytes:
  if isinstance(data, str):  # Python 2 pickles read with encoding='latin1'
    data = data.encode('latin-1')
  if not isinstance(data, (bytes, bytearray)):
    raise CheckpointReadError(f'{what}: expected bytes, got '
                              f'{type(data).__name__}')
  return bytes(data) if isinstance(data, bytearray) else data


def _pickle_opcode(name: str) -> int:
  return getattr(pickle, name)[0]


# --------------------------------------------------------------------------
# The gated unpickler
# --------------------------------------------------------------------------


def _counted(load: Callable[[Any], None]) -> Callable[[Any], None]:
  """An opcode handler that charges the budget for every 1024 opcodes.

  One opcode byte can create an object of a hundred bytes or more (or, for
  `POP`-style padding, just cost time); charging each opcode bounds both.
  """
  def counted(self: Any) -> None:
    self.opcodes += 1
    if not self.opcodes % 1024:
      self.budget.charge(1024 * _OPCODE_COST, "the pickle's opcodes")
    load(self)
  return counted


class _RestrictedUnpickler(pickle._Unpickler):  # pylint: disable=protected-access
  """Pure-Python unpickler whose globals, calls and BUILDs are gated."""

  dispatch = dict(pickle._Unpickler.dispatch)  # pylint: disable=protected-access

  def __init__(self, reader: _BoundedReader, budget: _Budget,
               storage_loader: Callable[[Any], Any] | None = None,
               stubs: dict[str, type] | None = None, embedded: bool = False):
    super().__init__(reader, encoding='latin1')
    self._reader = reader
    self.budget = self._budget = budget
    self.opcodes = 0
    self._storage_loader = storage_loader
    self._stub_classes = {} if stubs is None else stubs
    self._functions = {
        ('torch._utils', '_rebuild_tensor_v2'): self._rebuild_tensor,
        ('torch', '_rebuild_tensor_v2'): self._rebuild_tensor,
        ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
        ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
        ('torch._tensor', '_rebuild_from_type_v2'): self._rebuild_from_type,
        ('torch.storage', '_load_from_bytes'): self._load_embedded_storage,
        ('torch_utils.persistence', '_reconstruct_persistent_obj'):
            _reconstruct_persistent,
        ('_codecs', 'encode'): self._latin1_encode,
        ('copyreg', '_reconstructor'): self._reconstructor,
        ('numpy.core.multiarray', '_reconstruct'): _np_reconstruct,
        ('numpy._core.multiarray', '_reconstruct'): _np_reconstruct,
        ('numpy.core.multiarray', 'scalar'): self._np_scalar,
        ('numpy._core.multiarray', 'scalar'): self._np_scalar,
        ('numpy.core.numeric', '_frombuffer'): self._np_frombuffer,
        ('numpy._core.numeric', '_frombuffer'): self._np_frombuffer,
        ('numpy', 'dtype'): _np_dtype,
        ('builtins', 'set'): _checked_set,  # sets at pickle protocol < 4
        ('builtins', 'frozenset'): _checked_frozenset,
    }
    if embedded:  # a storage inside a storage is never legitimate
      del self._functions[('torch.storage', '_load_from_bytes')]
    self._callable_ids = {id(f) for f in self._functions.values()}
    self._classes = {
        ('collections', 'OrderedDict'): _StateDict,
        ('dnnlib', 'EasyDict'): _AttrDict,
        ('dnnlib.util', 'EasyDict'): _AttrDict,
        ('dnnlib.tflib.network', 'Network'): TFNetwork,
        ('argparse', 'Namespace'): _Namespace,
        ('numpy', 'ndarray'): _SafeArray,
        ('builtins', 'object'): object,
    }

  # -- globals --------------------------------------------------------------

  def find_class(self, module: str, name: str) -> Any:
    key = (module, name)
    if key in self._functions:
      return self._functions[key]
    if key in self._classes:
      return self._classes[key]
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(name)
    if isinstance(module, str) and module.startswith('torch.nn.modules.'):
      if name not in self._stub_classes:
        if len(self._stub_classes) >= _MAX_STUB_CLASSES:
          raise CheckpointReadError('too many distinct torch module classes')
        self._stub_classes[name] = type(name, (_ModuleStub,), {})
      return self._stub_classes[name]
    raise CheckpointReadError(
        f'refusing to unpickle disallowed global {quote(module)}.'
        f'{quote(name)}'.replace("'", ''))

  def persistent_load(self, pid: Any) -> Any:
    if self._storage_loader is None:
      raise CheckpointReadError('unexpected persistent id in pickle')
    return self._storage_loader(pid)

  # -- gated opcodes ----------------------------------------------------------

  def _gate_reduce(self) -> None:
    args = self.stack.pop()
    func = self.stack[-1]
    if type(args) is not tuple:  # pylint: disable=unidiomatic-typecheck
      raise CheckpointReadError('REDUCE without an argument tuple')
    if id(func) in self._callable_ids:
      self.stack[-1] = func(*args)
    elif (func is _StateDict or func is _AttrDict) and not args:
      self.stack[-1] = func()
    else:
      raise CheckpointReadError(f'refusing to call {_describe(func)}')
  dispatch[_pickle_opcode('REDUCE')] = _gate_reduce

  def _gate_newobj(self) -> None:
    args = self.stack.pop()
    cls = self.stack.pop()
    self.append(_new_stub(cls, args))
  dispatch[_pickle_opcode('NEWOBJ')] = _gate_newobj

  def _gate_newobj_ex(self) -> None:
    kwargs = self.stack.pop()
    args = self.stack.pop()
    cls = self.stack.pop()
    if not (isinstance(kwargs, dict) and not kwargs):
      raise CheckpointReadError('refusing keyword arguments to a constructor')
    self.append(_new_stub(cls, args))
  dispatch[_pickle_opcode('NEWOBJ_EX')] = _gate_newobj_ex

  def _gate_build(self) -> None:
    state = self.stack.pop()
    inst = self.stack[-1]
    if type(inst) is _SafeArray:  # pylint: disable=unidiomatic-typecheck
      self._build_array(inst, state)
    elif type(inst) is _DtypeSpec:  # pylint: disable=unidiomatic-typecheck
      inst.apply_state(state)
    elif isinstance(inst, _Stub) and not isinstance(inst, type) and (
        not isinstance(inst, PersistentModule) or isinstance(inst,
                                                             _ModuleStub)):
      type(inst).__setstate__(inst, state)  # the class's own, checked
    else:
      raise CheckpointReadError(f'refusing to set the state of '
                                f'{_describe(inst)}')
  dispatch[_pickle_opcode('BUILD')] = _gate_build

  def _refuse(self) -> None:
    raise CheckpointReadError('refusing a pickle opcode checkpoints do not '
                              'use (INST, OBJ, extension codes or buffers)')
  for _name in ('INST', 'OBJ', 'EXT1', 'EXT2', 'EXT4', 'NEXT_BUFFER',
                'READONLY_BUFFER'):
    dispatch[_pickle_opcode(_name)] = _refuse

  def _gate_setitem(self) -> None:
    value = self.stack.pop()
    key = self.stack.pop()
    self._set_items(self.stack[-1], [key, value])
  dispatch[_pickle_opcode('SETITEM')] = _gate_setitem

  def _gate_setitems(self) -> None:
    items = self.pop_mark()
    self._set_items(self.stack[-1], items)
  dispatch[_pickle_opcode('SETITEMS')] = _gate_setitems

  def _gate_dict(self) -> None:
    items = self.pop_mark()
    target: dict[Any, Any] = {}
    self._set_items(target, items)
    self.append(target)
  dispatch[_pickle_opcode('DICT')] = _gate_dict

  @staticmethod
  def _set_items(target: Any, items: list[Any]) -> None:
    if not isinstance(target, dict):
      raise CheckpointReadError(f'refusing to set items of '
                                f'{_describe(target)}')
    if len(items) % 2:
      raise CheckpointReadError('odd number of dict items')
    for i in range(0, len(items), 2):
      _checked_key(items[i])
      target[items[i]] = items[i + 1]

  def _gate_additems(self) -> None:
    items = self.pop_mark()
    target = self.stack[-1]
    if not isinstance(target, set):
      raise CheckpointReadError(f'refusing to add items to '
                                f'{_describe(target)}')
    for item in items:
      _checked_key(item)
      target.add(item)
  dispatch[_pickle_opcode('ADDITEMS')] = _gate_additems

  def _gate_frozenset(self) -> None:
    items = self.pop_mark()
    for item in items:
      _checked_key(item)
    self.append(frozenset(items))
  dispatch[_pickle_opcode('FROZENSET')] = _gate_frozenset

  def _gate_append(self) -> None:
    value = self.stack.pop()
    target = self.stack[-1]
    if not isinstance(target, list):
      raise CheckpointReadError(f'refusing to append to {_describe(target)}')
    target.append(value)
  dispatch[_pickle_opcode('APPEND')] = _gate_append

  def _gate_appends(self) -> None:
    items = self.pop_mark()
    target = self.stack[-1]
    if not isinstance(target, list):
      raise CheckpointReadError(f'refusing to append to {_describe(target)}')
    target.extend(items)
  dispatch[_pickle_opcode('APPENDS')] = _gate_appends

  def _gate_bytearray8(self) -> None:
    (size,) = struct.unpack('<Q', self.read(8))
    self.append(bytearray(self.read(size)))  # read() checks size first
  dispatch[_pickle_opcode('BYTEARRAY8')] = _gate_bytearray8

  del _name
  dispatch = {code: _counted(load) for code, load in dispatch.items()}

  def load_checked(self) -> Any:
    """`load`, then refuses data left in the pickle's last frame."""
    result = self.load()
    frame = getattr(getattr(self, '_unframer', None), 'current_frame', None)
    if frame is not None and frame.read(1):
      raise CheckpointReadError('data after the end of the pickle')
    return result

  # -- builders -------------------------------------------------------------

  def _rebuild_tensor(self, storage: Any, offset: Any, size: Any, stride: Any,
                      *unused: Any) -> np.ndarray:
    """`torch._utils._rebuild_tensor_v2`: a checked view of the storage."""
    del unused  # requires_grad, backward hooks, metadata
    return tensor_view(storage, offset, size, stride)

  def _rebuild_from_type(self, func: Any, new_type: Any, args: Any,
                         state: Any) -> np.ndarray:
    del new_type, state
    rebuild = self._functions[('torch._utils', '_rebuild_tensor_v2')]
    if func is not rebuild or type(args) is not tuple:  # pylint: disable=unidiomatic-typecheck
      raise CheckpointReadError('unsupported tensor subclass in checkpoint')
    return func(*args)

  def _latin1_encode(self, obj: Any, encoding: Any = 'utf-8',
                     errors: Any = 'strict') -> bytes:
    """`_codecs.encode`, only as protocol-2 pickles use it: str -> latin-1.

    Python 3 pickles `bytes` at protocol 2 as `_codecs.encode(text,
    'latin1')` (numpy arrays inside `torch.save` files carry their data this
    way).
    """
    if (not isinstance(obj, str) or encoding not in ('latin1', 'latin-1')
        or errors != 'strict'):
      raise CheckpointReadError('refusing _codecs.encode other than str -> '
                                'latin-1 bytes')
    self._budget.charge(len(obj), 'a byte string')
    return obj.encode('latin-1')

  def _reconstructor(self, cls: Any, base: Any, state: Any) -> Any:
    if base is not object or state is not None:
      raise CheckpointReadError(f'refusing to reconstruct {_describe(cls)}')
    return _new_stub(cls, ())

  def _load_embedded_storage(self, data: Any) -> np.ndarray:
    """`torch.storage._load_from_bytes`: a legacy stream of one storage."""
    data = _as_bytes(data, 'embedded storage')
    self._budget.charge(len(data), 'an embedded storage')
    result = _read_torch_legacy(_BoundedReader(io.BytesIO(data), len(data)),
                                self._budget, self._stub_classes,
                                embedded=True)
    if not (isinstance(result, np.ndarray) and result.ndim == 1):
      raise CheckpointReadError('an embedded storage is not a storage')
    return result

  def _np_scalar(self, spec: Any, data: Any = None) -> Any:
    dtype = _spec_dtype(spec)
    data = _as_bytes(data, 'numpy scalar')
    if len(data) != dtype.itemsize:
      raise CheckpointReadError(f'numpy scalar of {dtype} with {len(data)} '
                                'bytes')
    self._budget.charge(len(data), 'a numpy scalar')
    return np.frombuffer(data, dtype, count=1)[0]

  def _np_frombuffer(self, buf: Any, spec: Any, shape: Any,
                     order: Any) -> np.ndarray:
    dtype = _spec_dtype(spec)
    data = _as_bytes(buf, 'numpy buffer')
    shape = _checked_shape(shape, 'numpy array shape')
    if not (_is_str(order, 'C') or _is_str(order, 'F')):
      raise CheckpointReadError(f'numpy array order {quote(order)}')
    if len(data) != math.prod(shape) * dtype.itemsize:
      raise CheckpointReadError(f'numpy array of shape {shape} and {dtype} '
                                f'with {len(data)} bytes')
    self._budget.charge(len(data), 'a numpy array')
    return np.frombuffer(data, dtype).reshape(shape, order=order).copy()

  def _build_array(self, inst: _SafeArray, state: Any) -> None:
    """ndarray.__setstate__ after checking the dtype and the byte count."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
      raise CheckpointReadError('unexpected numpy array state')
    version = state[0] if len(state) == 5 else 0
    shape, spec, fortran, raw = state[-4:]
    dtype = _spec_dtype(spec)
    shape = _checked_shape(shape, 'numpy array shape')
    if not isinstance(fortran, bool) or type(version) is not int:  # pylint: disable=unidiomatic-typecheck
      raise CheckpointReadError('unexpected numpy array state')
    raw = _as_bytes(raw, 'numpy array data')
    if len(raw) != math.prod(shape) * dtype.itemsize:
      raise CheckpointReadError(f'numpy array of shape {shape} and {dtype} '
                                f'with {len(raw)} bytes')
    self._budget.charge(len(raw), 'a numpy array')
    np.ndarray.__setstate__(inst, (1, shape, dtype, fortran, raw))


def _describe(obj: Any) -> str:
  if isinstance(obj, type):
    return f'class {obj.__name__}'
  return f'a {type(obj).__name__}'


def _new_stub(cls: Any, args: Any) -> Any:
  """NEWOBJ / copyreg: instantiate only a stand-in, without arguments."""
  if not (isinstance(cls, type) and issubclass(cls, _Stub)
          and cls is not PersistentModule) or type(args) is not tuple or args:  # pylint: disable=unidiomatic-typecheck
    raise CheckpointReadError(f'refusing to instantiate {_describe(cls)}')
  return cls()


def _checked_set(items: Any = ()) -> set[Any]:
  """`set(items)` of flat scalars (torch's non-persistent buffer names)."""
  if not isinstance(items, (list, tuple)):
    raise CheckpointReadError('set() of something other than a list')
  for item in items:
    _checked_key(item)
  return set(items)


def _checked_frozenset(items: Any = ()) -> frozenset[Any]:
  return frozenset(_checked_set(items))


def _rebuild_parameter(data: Any, *unused: Any) -> np.ndarray:
  del unused
  if not isinstance(data, np.ndarray):
    raise CheckpointReadError('a parameter without a tensor')
  return data


def _reconstruct_persistent(meta: Any) -> PersistentModule:
  if not isinstance(meta, dict) or not _is_str(meta.get('type'), 'class'):
    raise CheckpointReadError('unsupported NVIDIA persistent object')
  name = meta.get('class_name')
  if not isinstance(name, str):
    raise CheckpointReadError('NVIDIA persistent object without a class name')
  state = _str_keyed(_optional(meta, 'state', {}),
                     f'NVIDIA persistent {quote(name)}')
  return PersistentModule(name, state)


def _np_reconstruct(cls: Any, shape: Any, dtype: Any) -> _SafeArray:
  """`numpy.core.multiarray._reconstruct`: an empty array for BUILD."""
  if (cls is not _SafeArray or type(shape) is not tuple  # pylint: disable=unidiomatic-typecheck
      or shape != (0,) or not isinstance(dtype, (bytes, str))
      or dtype not in (b'b', 'b')):
    raise CheckpointReadError('unexpected numpy array construction')
  return np.ndarray.__new__(_SafeArray, (0,), np.uint8)


def _np_dtype(name: Any, align: Any = False, copy: Any = True) -> _DtypeSpec:
  """`numpy.dtype(name, align, copy)` for plain numeric names only."""
  del align, copy
  if not isinstance(name, str) or name not in _NUMPY_DTYPES:
    raise CheckpointReadError(f'refusing numpy dtype {quote(name)} (plain '
                              'numbers only)')
  return _DtypeSpec(np.dtype(name))


def _spec_dtype(spec: Any) -> np.dtype:
  if not isinstance(spec, _DtypeSpec):
    raise CheckpointReadError(f'expected a numpy dtype, got {_describe(spec)}')
  return spec.dtype


def tensor_view(storage: Any, offset: Any, size: Any,
                stride: Any) -> np.ndarray:
  """A tensor as torch stores it: a strided view of a 1-D storage.

  Every element the view can reach must lie inside the storage: offset and
  strides are non-negative integers, and the view has no more elements than
  its storage (so zero strides cannot inflate a tiny storage into a huge
  tensor). The view is built by numpy from the storage's buffer, which
  checks the extent again.

  Args:
    storage: the 1-D storage array.
    offset: element offset of the first element.
    size: the shape.
    stride: element strides.

  Returns:
    The view (it shares the storage's memory).

  Raises:
    CheckpointReadError: any of the above does not hold.
  """
  if not (isinstance(storage, np.ndarray) and storage.ndim == 1):
    raise CheckpointReadError('tensor without a storage')
  offset = _checked_int(offset, 'tensor offset')
  size = _checked_shape(size, 'tensor size')
  if not isinstance(stride, (tuple, list)) or len(stride) != len(size):
    raise CheckpointReadError(f'tensor stride {quote(stride)} does not match '
                              f'its size {size}')
  stride = tuple(_checked_int(s, 'tensor stride') for s in stride)
  if offset < 0 or any(s < 0 for s in stride):
    raise CheckpointReadError(f'tensor with negative offset or stride '
                              f'(offset {offset}, stride {stride})')
  numel = math.prod(size)
  if numel == 0:
    return np.zeros(size, storage.dtype)
  if numel > storage.size:
    raise CheckpointReadError(
        f'tensor of size {size} has more elements than its storage '
        f'({storage.size})')
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if last >= storage.size:
    raise CheckpointReadError(
        f'tensor (offset {offset}, size {size}, stride {stride}) reaches '
        f'past its storage of {storage.size} elements (truncated?)')
  item = storage.dtype.itemsize
  return np.ndarray(size, storage.dtype, buffer=storage.view(np.uint8),
                    offset=offset * item,
                    strides=tuple(s * item if n > 1 else 0  # size-1 dims
                                  for n, s in zip(size, stride)))


# --------------------------------------------------------------------------
# File kinds
# --------------------------------------------------------------------------


def _storage_pid(pid: Any) -> tuple[_StorageType, str, int]:
  if not (isinstance(pid, tuple) and len(pid) in (5, 6)
          and _is_str(pid[0], 'storage') and isinstance(pid[1], _StorageType)
          and isinstance(pid[2], str)):
    raise CheckpointReadError(f'unsupported persistent id {quote(pid)}')
  numel = _checked_int(pid[4], 'storage element count')
  if numel < 0:
    raise CheckpointReadError(f'negative storage element count {numel}')
  return pid[1], pid[2], numel


def _read_torch_zip(zf: zipfile.ZipFile, budget: _Budget) -> Any:
  infos = {info.filename: info for info in zf.infolist()}
  pkls = [n for n in infos if n.endswith('data.pkl')]
  if len(pkls) != 1:
    raise CheckpointReadError('zip archive is not a torch checkpoint')
  prefix = pkls[0][:-len('data.pkl')]
  byteorder = 'little'
  if prefix + 'byteorder' in infos:
    with zf.open(infos[prefix + 'byteorder']) as f:
      raw = f.read(16)
    byteorder = raw.decode('ascii', 'replace').strip()
    if byteorder not in ('little', 'big'):
      raise CheckpointReadError(f'unknown byte order {quote(raw)}')
  cache: dict[str, np.ndarray] = {}

  def load_storage(pid):
    stype, key, numel = _storage_pid(pid)
    if key not in cache:
      name = f'{prefix}data/{key}'
      if name not in infos:
        raise CheckpointReadError(f'storage {quote(key)} is missing')
      nbytes = numel * stype.dtype.itemsize
      if infos[name].file_size < nbytes:
        raise CheckpointReadError(f'storage {quote(key)} is truncated')
      budget.charge(nbytes, f'storage {quote(key)}')
      order = '<' if byteorder == 'little' else '>'
      storage = np.empty(numel, stype.dtype.newbyteorder(order))
      with zf.open(infos[name]) as f:
        _BoundedReader(f, nbytes).readinto(storage)
      cache[key] = storage.astype(stype.dtype, copy=False)  # native order
    return cache[key]

  info = infos[pkls[0]]
  budget.charge(info.file_size, 'data.pkl')
  with zf.open(info) as f:
    reader = _BoundedReader(f, info.file_size)
    result = _RestrictedUnpickler(reader, budget, load_storage).load_checked()
    if reader.left:
      raise CheckpointReadError('data after the end of the pickle')
  return result


def _read_torch_legacy(f: _BoundedReader, budget: _Budget,
                       stubs: dict[str, type] | None = None,
                       magic_read: bool = False, embedded: bool = False) -> Any:
  """Reads a legacy torch stream, positioned at its start (or after magic)."""
  stubs = {} if stubs is None else stubs

  def header() -> Any:
    return _RestrictedUnpickler(f, budget, stubs=stubs,
                                embedded=embedded).load_checked()

  if not magic_read:
    magic = header()
    if not (type(magic) is int and magic == _TORCH_LEGACY_MAGIC):  # pylint: disable=unidiomatic-typecheck
      raise CheckpointReadError('not a torch legacy stream')
  protocol = header()
  if not (type(protocol) is int and protocol == _TORCH_LEGACY_PROTOCOL):  # pylint: disable=unidiomatic-typecheck
    raise CheckpointReadError(f'unsupported torch legacy protocol '
                              f'{quote(protocol)}')
  sys_info = header()
  if not isinstance(sys_info, dict) or sys_info.get('little_endian') is not (
      True):
    raise CheckpointReadError('unknown or big-endian byte order in a torch '
                              'legacy stream')
  # As torch does: storages are allocated when the pickle names them, tensors
  # are views into them, and the bytes (which follow the pickle) fill them.
  storages: dict[str, np.ndarray] = {}
  declared = [0]  # bytes the storages named so far take in the stream

  def load_storage(pid):
    stype, key, numel = _storage_pid(pid)
    if key not in storages:
      nbytes = numel * stype.dtype.itemsize
      declared[0] += nbytes + 8
      if declared[0] > f.left:
        raise CheckpointReadError(
            f'storage {quote(key)} declares {nbytes} bytes: the storages '
            f'would need more than the {f.left} bytes left in the file')
      budget.charge(nbytes, f'storage {quote(key)}')
      storages[key] = np.zeros(numel, stype.dtype)
    storage = storages[key]
    if storage.dtype != stype.dtype:
      raise CheckpointReadError(f'storage {quote(key)} is named with two '
                                'dtypes')
    view = pid[5] if len(pid) > 5 else None
    if view is None:
      return storage
    if not (isinstance(view, tuple) and len(view) == 3):
      raise CheckpointReadError(f'unsupported storage view {quote(view)}')
    offset = _checked_int(view[1], 'storage view offset')
    size = _checked_int(view[2], 'storage view size')
    if offset < 0 or size < 0 or offset + size > storage.size:
      raise CheckpointReadError(f'storage view {quote(view)} reaches past '
                                'its storage')
    return storage[offset:offset + size]

  result = _RestrictedUnpickler(f, budget, load_storage, stubs,
                                embedded).load_checked()
  keys = header()
  if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
    raise CheckpointReadError('torch legacy stream: bad storage key list')
  if len(set(keys)) != len(keys) or set(keys) != set(storages):
    missing = sorted(set(storages) - set(keys))
    raise CheckpointReadError(
        'torch legacy stream: the storage key list does not name every '
        f'storage exactly once (missing {quote(missing)})')
  for key in keys:
    storage = storages[key]
    (count,) = struct.unpack('<q', f.read(8))
    if count != storage.size:
      raise CheckpointReadError(f'storage {quote(key)} holds {count} '
                                f'elements, the pickle says {storage.size}')
    f.readinto(storage)
  if f.left:
    raise CheckpointReadError(f'{f.left} bytes of unexpected data after the '
                              'last storage')
  return result


def read_checkpoint_file(path: str | os.PathLike[str], *,
                         max_bytes: int | None = None) -> Any:
  """Reads a `.pt` or `.pkl` checkpoint into containers and numpy arrays.

  Args:
    path: the file (a regular file).
    max_bytes: how many bytes reading may allocate (default:
      `default_byte_limit` of the file size).

  Returns:
    The unpickled object: dicts, lists, numpy arrays, `PersistentModule` (for
    NVIDIA pickles) and `TFNetwork` (for TF pickles).

  Raises:
    CheckpointReadError: unreadable, truncated, corrupt, unsafe or too large
      for the budget.
  """
  path = os.fspath(path)
  try:
    info = os.stat(path)
  except OSError as e:
    raise CheckpointReadError(f'cannot read {quote(path)}: {e.strerror}'
                              ) from None
  if not stat.S_ISREG(info.st_mode):
    raise CheckpointReadError(f'{quote(path)} is not a regular file')
  size = info.st_size
  budget = _Budget(default_byte_limit(size) if max_bytes is None
                   else max_bytes)
  try:
    with open(path, 'rb') as raw:
      head = raw.read(4)
      if head == b'PK\x03\x04':  # a zip archive: torch >= 1.6 format
        try:
          zf = zipfile.ZipFile(raw)
        except zipfile.BadZipFile:
          raise CheckpointReadError('truncated or corrupt zip archive (no '
                                    'central directory)') from None
        with zf:
          return _read_torch_zip(zf, budget)
      if not head or head[0] != 0x80:
        raise CheckpointReadError('not a pickle or torch checkpoint')
      raw.seek(0)
      f = _BoundedReader(raw, size)
      stubs: dict[str, type] = {}
      first = _RestrictedUnpickler(f, budget, stubs=stubs).load_checked()
      if type(first) is int and first == _TORCH_LEGACY_MAGIC:  # pylint: disable=unidiomatic-typecheck
        return _read_torch_legacy(f, budget, stubs, magic_read=True)
      # A plain pickle: NVIDIA (torch storages embedded) or TF (numpy).
      if f.left:
        raise CheckpointReadError(f'{f.left} bytes of unexpected data after '
                                  'the end of the pickle')
      return first
  except CheckpointReadError as e:
    raise CheckpointReadError(f'cannot read {quote(path)}: {e}') from None
  except MemoryError:
    raise CheckpointReadError(f'cannot read {quote(path)}: out of memory'
                              ) from None
  except RecursionError:
    raise CheckpointReadError(f'cannot read {quote(path)}: nested too deeply'
                              ) from None
  except Exception as e:  # pylint: disable=broad-except
    # Whatever a damaged byte stream makes the unpickler raise.
    raise CheckpointReadError(
        f'cannot read {quote(path)}: truncated or corrupt file '
        f'({type(e).__name__}: {quote(str(e), 160)})') from None
