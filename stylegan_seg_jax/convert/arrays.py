"""numpy arrays and torch tensors as a file may build them, checked.

The restricted unpickler (`unpickler`) resolves torch's storage classes,
`numpy.dtype` and `numpy.ndarray` to the markers here (`_StorageType`,
`_DtypeSpec`, `_SafeArray`; refusal messages show these names), and numpy's
and torch's array constructors to the builders here:

* numpy arrays and scalars are built only with plain numeric dtypes (never
  object or structured ones), from exactly as many bytes as they need, each
  charged to the read's `Budget`;
* a tensor is a view that numpy bounds-checks, after its size, stride and
  offset were checked to stay inside its storage (`tensor_view`).
"""

from __future__ import annotations

import math
from typing import Any

import ml_dtypes
import numpy as np

from stylegan_seg_jax.convert.bounds import Budget
from stylegan_seg_jax.convert.bounds import CheckpointReadError
from stylegan_seg_jax.convert.bounds import as_bytes
from stylegan_seg_jax.convert.bounds import checked_int
from stylegan_seg_jax.convert.bounds import checked_shape
from stylegan_seg_jax.convert.bounds import describe
from stylegan_seg_jax.convert.bounds import is_int
from stylegan_seg_jax.convert.bounds import is_str
from stylegan_seg_jax.runtime.messages import quote

__all__ = [
    'STORAGE_DTYPES',
    'tensor_view',
    'rebuild_parameter',
    'np_reconstruct',
    'np_dtype',
    'spec_dtype',
    'np_scalar',
    'np_frombuffer',
    'build_array',
]

STORAGE_DTYPES = {
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


class _StorageType:
  """Stands for a torch `*Storage` class inside a persistent id."""

  def __init__(self, name: str):
    self.name = name
    self.dtype = np.dtype(STORAGE_DTYPES[name])


class _DtypeSpec:
  """A numpy dtype named by the file; only its byte order may be set."""

  def __init__(self, dtype: np.dtype):
    self.dtype = dtype

  def apply_state(self, state: Any) -> None:
    """Takes the byte order from numpy's dtype state, checking the rest."""
    if not (isinstance(state, tuple) and len(state) in (8, 9)
            and is_int(state[0], 3, 4)):
      raise CheckpointReadError(f'unexpected numpy dtype state '
                                f'{quote(state)}')
    order, subarray, names, fields, elsize, alignment, flags = state[1:8]
    size, align = self.dtype.itemsize, self.dtype.alignment
    if (not isinstance(order, str) or order not in ('<', '>', '|', '=')
        or subarray is not None or names is not None or fields is not None
        or not is_int(elsize, -1, size) or not is_int(alignment, -1, align)
        or not is_int(flags, self.dtype.flags)):
      raise CheckpointReadError(f'refusing numpy dtype state {quote(state)} '
                                f'for {self.dtype}')
    if order in ('<', '>'):
      self.dtype = self.dtype.newbyteorder(order)


class _SafeArray(np.ndarray):
  """The array type `numpy.ndarray` resolves to; filled by a checked BUILD."""


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
  offset = checked_int(offset, 'tensor offset')
  size = checked_shape(size, 'tensor size')
  if not isinstance(stride, (tuple, list)) or len(stride) != len(size):
    raise CheckpointReadError(f'tensor stride {quote(stride)} does not match '
                              f'its size {size}')
  stride = tuple(checked_int(s, 'tensor stride') for s in stride)
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


def rebuild_parameter(data: Any, *unused: Any) -> np.ndarray:
  """`torch._utils._rebuild_parameter`: the tensor itself."""
  del unused
  if not isinstance(data, np.ndarray):
    raise CheckpointReadError('a parameter without a tensor')
  return data


def np_reconstruct(cls: Any, shape: Any, dtype: Any) -> _SafeArray:
  """`numpy.core.multiarray._reconstruct`: an empty array for BUILD."""
  if (cls is not _SafeArray or type(shape) is not tuple  # pylint: disable=unidiomatic-typecheck
      or shape != (0,) or not isinstance(dtype, (bytes, str))
      or dtype not in (b'b', 'b')):
    raise CheckpointReadError('unexpected numpy array construction')
  return np.ndarray.__new__(_SafeArray, (0,), np.uint8)


def np_dtype(name: Any, align: Any = False, copy: Any = True) -> _DtypeSpec:
  """`numpy.dtype(name, align, copy)` for plain numeric names only."""
  del align, copy
  if not isinstance(name, str) or name not in _NUMPY_DTYPES:
    raise CheckpointReadError(f'refusing numpy dtype {quote(name)} (plain '
                              'numbers only)')
  return _DtypeSpec(np.dtype(name))


def spec_dtype(spec: Any) -> np.dtype:
  """The dtype of a `numpy.dtype(...)` the file built."""
  if not isinstance(spec, _DtypeSpec):
    raise CheckpointReadError(f'expected a numpy dtype, got {describe(spec)}')
  return spec.dtype


def np_scalar(budget: Budget, spec: Any, data: Any = None) -> Any:
  """`numpy.core.multiarray.scalar`: one number of a plain dtype."""
  dtype = spec_dtype(spec)
  data = as_bytes(data, 'numpy scalar')
  if len(data) != dtype.itemsize:
    raise CheckpointReadError(f'numpy scalar of {dtype} with {len(data)} '
                              'bytes')
  budget.charge(len(data), 'a numpy scalar')
  return np.frombuffer(data, dtype, count=1)[0]


def np_frombuffer(budget: Budget, buf: Any, spec: Any, shape: Any,
                  order: Any) -> np.ndarray:
  """`numpy.core.numeric._frombuffer`: an array from exactly its bytes."""
  dtype = spec_dtype(spec)
  data = as_bytes(buf, 'numpy buffer')
  shape = checked_shape(shape, 'numpy array shape')
  if not (is_str(order, 'C') or is_str(order, 'F')):
    raise CheckpointReadError(f'numpy array order {quote(order)}')
  if len(data) != math.prod(shape) * dtype.itemsize:
    raise CheckpointReadError(f'numpy array of shape {shape} and {dtype} '
                              f'with {len(data)} bytes')
  budget.charge(len(data), 'a numpy array')
  return np.frombuffer(data, dtype).reshape(shape, order=order).copy()


def build_array(budget: Budget, inst: _SafeArray, state: Any) -> None:
  """ndarray.__setstate__ after checking the dtype and the byte count."""
  if not isinstance(state, tuple) or len(state) not in (4, 5):
    raise CheckpointReadError('unexpected numpy array state')
  version = state[0] if len(state) == 5 else 0
  shape, spec, fortran, raw = state[-4:]
  dtype = spec_dtype(spec)
  shape = checked_shape(shape, 'numpy array shape')
  if not isinstance(fortran, bool) or type(version) is not int:  # pylint: disable=unidiomatic-typecheck
    raise CheckpointReadError('unexpected numpy array state')
  raw = as_bytes(raw, 'numpy array data')
  if len(raw) != math.prod(shape) * dtype.itemsize:
    raise CheckpointReadError(f'numpy array of shape {shape} and {dtype} '
                              f'with {len(raw)} bytes')
  budget.charge(len(raw), 'a numpy array')
  # numpy's stub asks a numpy bool for the Fortran flag; the C code parses
  # an int and refuses numpy bools, so the Python bool is what it needs.
  np.ndarray.__setstate__(inst, (1, shape, dtype, fortran, raw))  # pyright: ignore[reportArgumentType]
