"""The restricted unpickler: pickle's pure-Python one, its opcodes gated.

Unpickling an untrusted file (docs/formats.md, "Hostile files") runs the
pure-Python unpickler with its opcodes gated:

* globals resolve only through an allow-list, to inert stand-ins
  (`stand_ins`) or to checked builder functions; nothing from the file is
  executed (NVIDIA pickles carry their module source code: it is kept as a
  string, ignored);
* only the builder functions may be called (REDUCE), only the stand-in
  classes may be instantiated (NEWOBJ), and only stand-ins and arrays may
  receive state (BUILD), through their own checked `__setstate__`: a file
  can never set attributes on a class or on a numpy dtype;
* numpy arrays and scalars are built only with plain numeric dtypes (never
  object or structured ones), from exactly as many bytes as they need, and
  tensors only as views inside their storage (`arrays`);
* dict keys and set items must be flat scalars (no deep hashing);
* every opcode and every allocation is charged to the read's `Budget`, and
  data left in the pickle's last frame is refused.

Storages (persistent ids) are loaded by the caller's `storage_loader`, and
the legacy torch streams that NVIDIA pickles embed by its `embedded_reader`
(`readers` provides both).
"""

from __future__ import annotations

from collections.abc import Callable
import functools
import io
import pickle
import struct
from typing import Any, cast

import numpy as np

from stylegan_seg_jax.convert import arrays
from stylegan_seg_jax.convert.arrays import _DtypeSpec
from stylegan_seg_jax.convert.arrays import _SafeArray
from stylegan_seg_jax.convert.arrays import _StorageType
from stylegan_seg_jax.convert.bounds import BoundedReader
from stylegan_seg_jax.convert.bounds import Budget
from stylegan_seg_jax.convert.bounds import CheckpointReadError
from stylegan_seg_jax.convert.bounds import as_bytes
from stylegan_seg_jax.convert.bounds import checked_key
from stylegan_seg_jax.convert.bounds import describe
from stylegan_seg_jax.convert.stand_ins import PersistentModule
from stylegan_seg_jax.convert.stand_ins import TFNetwork
from stylegan_seg_jax.convert.stand_ins import _AttrDict
from stylegan_seg_jax.convert.stand_ins import _ModuleStub
from stylegan_seg_jax.convert.stand_ins import _Namespace
from stylegan_seg_jax.convert.stand_ins import _StateDict
from stylegan_seg_jax.convert.stand_ins import _Stub
from stylegan_seg_jax.convert.stand_ins import new_stub
from stylegan_seg_jax.convert.stand_ins import reconstruct_persistent
from stylegan_seg_jax.runtime.messages import quote

__all__ = ['EmbeddedReader', 'RestrictedUnpickler']

_OPCODE_COST = 64  # bytes charged per pickle opcode (an object it may create)
_MAX_STUB_CLASSES = 4096

# Reads the legacy torch stream of one storage that a pickle embeds:
# (stream, budget, the read's torch module classes) -> the storage.
EmbeddedReader = Callable[[BoundedReader, Budget, dict[str, type]], Any]


def _opcode(name: str) -> int:
  return getattr(pickle, name)[0]


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


def _dispatch(gates: dict[int, Callable[[Any], None]]
              ) -> dict[int, Callable[[Any], None]]:
  """The pure-Python unpickler's handlers, `gates` in their place, counted."""
  table: dict[int, Callable[[Any], None]] = dict(
      pickle._Unpickler.dispatch)  # pylint: disable=protected-access
  table.update(gates)
  return {code: _counted(load) for code, load in table.items()}


class RestrictedUnpickler(pickle._Unpickler):  # pylint: disable=protected-access
  """Pure-Python unpickler whose globals, calls and BUILDs are gated."""

  # The pure-Python unpickler's working state, which `load` sets up and
  # typeshed does not declare: the stack, its `append`, the frame reader.
  stack: list[Any]
  append: Callable[[Any], None]
  read: Callable[[int], bytes]
  pop_mark: Callable[[], list[Any]]

  def __init__(self, reader: BoundedReader, budget: Budget, *,
               storage_loader: Callable[[Any], Any] | None = None,
               stubs: dict[str, type] | None = None,
               embedded_reader: EmbeddedReader | None = None):
    """An unpickler of `reader` that charges its allocations to `budget`.

    Args:
      reader: the pickle's bytes.
      budget: what the read may allocate.
      storage_loader: persistent id -> storage (None: a persistent id is
        refused).
      stubs: the torch module stand-in classes by name, shared by the
        pickles of one file.
      embedded_reader: reads a storage embedded as a legacy torch stream
        (None: `torch.storage._load_from_bytes` is refused, as it is inside
        an embedded storage).
    """
    super().__init__(reader, encoding='latin1')
    self.budget = budget
    self.opcodes = 0
    self._storage_loader = storage_loader
    self._stub_classes = {} if stubs is None else stubs
    self._embedded_reader = embedded_reader
    scalar = functools.partial(arrays.np_scalar, budget)
    frombuffer = functools.partial(arrays.np_frombuffer, budget)
    self._functions: dict[tuple[str, str], Callable[..., Any]] = {
        ('torch._utils', '_rebuild_tensor_v2'): self._rebuild_tensor,
        ('torch', '_rebuild_tensor_v2'): self._rebuild_tensor,
        ('torch._utils', '_rebuild_parameter'): arrays.rebuild_parameter,
        ('torch._utils', '_rebuild_parameter_with_state'):
            arrays.rebuild_parameter,
        ('torch._tensor', '_rebuild_from_type_v2'): self._rebuild_from_type,
        ('torch.storage', '_load_from_bytes'): self._load_embedded_storage,
        ('torch_utils.persistence', '_reconstruct_persistent_obj'):
            reconstruct_persistent,
        ('_codecs', 'encode'): self._latin1_encode,
        ('copyreg', '_reconstructor'): self._reconstructor,
        ('numpy.core.multiarray', '_reconstruct'): arrays.np_reconstruct,
        ('numpy._core.multiarray', '_reconstruct'): arrays.np_reconstruct,
        ('numpy.core.multiarray', 'scalar'): scalar,
        ('numpy._core.multiarray', 'scalar'): scalar,
        ('numpy.core.numeric', '_frombuffer'): frombuffer,
        ('numpy._core.numeric', '_frombuffer'): frombuffer,
        ('numpy', 'dtype'): arrays.np_dtype,
        ('builtins', 'set'): _checked_set,  # sets at pickle protocol < 4
        ('builtins', 'frozenset'): _checked_frozenset,
    }
    if embedded_reader is None:  # a storage inside a storage
      del self._functions[('torch.storage', '_load_from_bytes')]
    self._callable_ids = {id(f) for f in self._functions.values()}
    self._classes: dict[tuple[str, str], type] = {
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
    """The allowed global `module.name`; refuses every other one."""
    key = (module, name)
    if key in self._functions:
      return self._functions[key]
    if key in self._classes:
      return self._classes[key]
    if module == 'torch' and name in arrays.STORAGE_DTYPES:
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
    """A storage, from the caller's loader."""
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
      raise CheckpointReadError(f'refusing to call {describe(func)}')

  def _gate_newobj(self) -> None:
    args = self.stack.pop()
    cls = self.stack.pop()
    self.append(new_stub(cls, args))

  def _gate_newobj_ex(self) -> None:
    kwargs = self.stack.pop()
    args = self.stack.pop()
    cls = self.stack.pop()
    if not (isinstance(kwargs, dict) and not kwargs):
      raise CheckpointReadError('refusing keyword arguments to a constructor')
    self.append(new_stub(cls, args))

  def _gate_build(self) -> None:
    state = self.stack.pop()
    inst = self.stack[-1]
    if type(inst) is _SafeArray:  # pylint: disable=unidiomatic-typecheck
      arrays.build_array(self.budget, inst, state)
    elif type(inst) is _DtypeSpec:  # pylint: disable=unidiomatic-typecheck
      inst.apply_state(state)
    elif isinstance(inst, _Stub) and _takes_state(inst):
      type(inst).__setstate__(inst, state)  # the class's own, checked
    else:
      raise CheckpointReadError(f'refusing to set the state of '
                                f'{describe(inst)}')

  def _refuse(self) -> None:
    raise CheckpointReadError('refusing a pickle opcode checkpoints do not '
                              'use (INST, OBJ, extension codes or buffers)')

  def _gate_setitem(self) -> None:
    value = self.stack.pop()
    key = self.stack.pop()
    self._set_items(self.stack[-1], [key, value])

  def _gate_setitems(self) -> None:
    items = self.pop_mark()
    self._set_items(self.stack[-1], items)

  def _gate_dict(self) -> None:
    items = self.pop_mark()
    target: dict[Any, Any] = {}
    self._set_items(target, items)
    self.append(target)

  @staticmethod
  def _set_items(target: Any, items: list[Any]) -> None:
    if not isinstance(target, dict):
      raise CheckpointReadError(f'refusing to set items of '
                                f'{describe(target)}')
    if len(items) % 2:
      raise CheckpointReadError('odd number of dict items')
    for i in range(0, len(items), 2):
      checked_key(items[i])
      target[items[i]] = items[i + 1]

  def _gate_additems(self) -> None:
    items = self.pop_mark()
    target = self.stack[-1]
    if not isinstance(target, set):
      raise CheckpointReadError(f'refusing to add items to '
                                f'{describe(target)}')
    for item in items:
      checked_key(item)
      target.add(item)

  def _gate_frozenset(self) -> None:
    items = self.pop_mark()
    for item in items:
      checked_key(item)
    self.append(frozenset(items))

  def _gate_append(self) -> None:
    value = self.stack.pop()
    self._top_list().append(value)

  def _gate_appends(self) -> None:
    items = self.pop_mark()
    self._top_list().extend(items)

  def _top_list(self) -> list[Any]:
    target = self.stack[-1]
    if not isinstance(target, list):
      raise CheckpointReadError(f'refusing to append to {describe(target)}')
    return target

  def _gate_bytearray8(self) -> None:
    (size,) = struct.unpack('<Q', self.read(8))
    self.append(bytearray(self.read(size)))  # read() checks size first

  dispatch = _dispatch({
      _opcode('REDUCE'): _gate_reduce,
      _opcode('NEWOBJ'): _gate_newobj,
      _opcode('NEWOBJ_EX'): _gate_newobj_ex,
      _opcode('BUILD'): _gate_build,
      **dict.fromkeys(map(_opcode, ('INST', 'OBJ', 'EXT1', 'EXT2', 'EXT4',
                                    'NEXT_BUFFER', 'READONLY_BUFFER')),
                      _refuse),
      _opcode('SETITEM'): _gate_setitem,
      _opcode('SETITEMS'): _gate_setitems,
      _opcode('DICT'): _gate_dict,
      _opcode('ADDITEMS'): _gate_additems,
      _opcode('FROZENSET'): _gate_frozenset,
      _opcode('APPEND'): _gate_append,
      _opcode('APPENDS'): _gate_appends,
      _opcode('BYTEARRAY8'): _gate_bytearray8,
  })

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
    return arrays.tensor_view(storage, offset, size, stride)

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
    self.budget.charge(len(obj), 'a byte string')
    return obj.encode('latin-1')

  def _reconstructor(self, cls: Any, base: Any, state: Any) -> Any:
    if base is not object or state is not None:
      raise CheckpointReadError(f'refusing to reconstruct {describe(cls)}')
    return new_stub(cls, ())

  def _load_embedded_storage(self, data: Any) -> np.ndarray:
    """`torch.storage._load_from_bytes`: a legacy stream of one storage."""
    # The global is refused where there is no embedded reader.
    read_stream = cast(EmbeddedReader, self._embedded_reader)
    data = as_bytes(data, 'embedded storage')
    self.budget.charge(len(data), 'an embedded storage')
    result = read_stream(BoundedReader(io.BytesIO(data), len(data)),
                         self.budget, self._stub_classes)
    if not (isinstance(result, np.ndarray) and result.ndim == 1):
      raise CheckpointReadError('an embedded storage is not a storage')
    return result


def _takes_state(stub: _Stub) -> bool:
  """Whether BUILD may fill `stub` (never NVIDIA's reconstructed modules)."""
  return not isinstance(stub, type) and (
      not isinstance(stub, PersistentModule) or isinstance(stub, _ModuleStub))


def _checked_set(items: Any = ()) -> set[Any]:
  """`set(items)` of flat scalars (torch's non-persistent buffer names)."""
  if not isinstance(items, (list, tuple)):
    raise CheckpointReadError('set() of something other than a list')
  for item in items:
    checked_key(item)
  return set(items)


def _checked_frozenset(items: Any = ()) -> frozenset[Any]:
  return frozenset(_checked_set(items))
