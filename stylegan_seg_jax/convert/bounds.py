"""What reading an untrusted checkpoint may cost, and checked file values.

The files are untrusted (docs/formats.md, "Hostile files"). The readers of
the other modules build on these bounds:

* every byte count read from the file is checked against what is left of
  the file before anything is allocated (`BoundedReader`);
* every allocation is charged to a `Budget` (by default 4x the file size
  plus 64 MiB, `default_byte_limit`);
* integers, shapes and dict keys from the file are checked before they are
  used (`checked_int`, `checked_shape`, `checked_key`).

Walks over the unpickled object graph visit at most `MAX_NODES` nodes.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from stylegan_seg_jax.runtime.messages import quote

__all__ = [
    'CheckpointReadError',
    'MIB',
    'MAX_NODES',
    'default_byte_limit',
    'Budget',
    'ByteSource',
    'BoundedReader',
    'is_str',
    'is_int',
    'checked_int',
    'checked_shape',
    'checked_key',
    'as_bytes',
    'describe',
]

MIB = 1 << 20
MAX_NODES = 1_000_000  # modules / networks a walk may visit
_MAX_NDIM = 16
_MAX_DIM = 1 << 40  # a tensor dimension
_MAX_LINE = 1 << 16  # a text opcode's line (GLOBAL names, text ints)


def default_byte_limit(file_size: int) -> int:
  """Bytes a read may allocate for a file of `file_size` bytes.

  Tensor data cannot take more room than the file that holds it; the
  factor 4 covers the copies reading makes (e.g. TF pickles hold arrays as
  latin-1 text, then bytes, then the array).
  """
  return 4 * file_size + 64 * MIB


class CheckpointReadError(ValueError):
  """The file cannot be read as a checkpoint (corrupt, truncated, unsafe)."""


class Budget:
  """Counts the bytes a read allocates and stops it at a limit."""

  def __init__(self, limit: int):
    """A budget of `limit` bytes, none used yet."""
    self.limit = limit
    self.used = 0

  def charge(self, nbytes: int, what: str) -> None:
    """Charges `nbytes` for `what`; refuses them past the limit."""
    self.used += nbytes
    if self.used > self.limit:
      raise CheckpointReadError(
          f'{what} would take the data read past {self.limit // MIB} MiB '
          '(4x the file size + 64 MiB): the file is corrupt or hostile')


class ByteSource(Protocol):
  """A binary file object as the readers use it."""

  def read(self, n: int = -1, /) -> bytes:
    """Up to `n` bytes."""
    ...

  def readinto(self, buffer: memoryview, /) -> int | None:
    """Fills `buffer` (or a start of it); returns the bytes read."""
    ...

  def readline(self, limit: int = -1, /) -> bytes:
    """One line of at most `limit` bytes."""
    ...


class BoundedReader:
  """A byte stream that refuses reads longer than what is left of it.

  Byte counts come from the file; checking them against the bytes left
  before reading means a tiny file cannot make the reader allocate a huge
  buffer.

  Attributes:
    left: bytes left in the stream.
  """

  def __init__(self, f: ByteSource, size: int):
    """Reads at most `size` bytes of `f`."""
    self._f = f
    self.left = size

  def read(self, n: int = -1) -> bytes:
    """Exactly `n` bytes (all that is left when `n` is negative)."""
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
    """Fills the contiguous array `buffer` from the stream."""
    view = buffer.view(np.uint8).data
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
    """One line, newline included, of at most 64 KiB."""
    line = self._f.readline(min(self.left, _MAX_LINE))
    self.left -= len(line)
    if not line.endswith(b'\n'):
      raise CheckpointReadError('truncated or corrupt file (an unfinished '
                                'or overlong text record)')
    return line


# --------------------------------------------------------------------------
# Values from the file
# --------------------------------------------------------------------------


def is_str(value: Any, expected: str) -> bool:
  """Whether `value` is the string `expected` (and not a look-alike)."""
  return isinstance(value, str) and value == expected


def is_int(value: Any, *allowed: int) -> bool:
  """Whether `value` is a plain int among `allowed` (a bool is not)."""
  return type(value) is int and value in allowed  # pylint: disable=unidiomatic-typecheck


def checked_int(value: Any, what: str) -> int:
  """An int64 like torch's sizes (huge integers would make arithmetic slow)."""
  if type(value) is not int or value.bit_length() > 63:  # pylint: disable=unidiomatic-typecheck
    raise CheckpointReadError(f'{what} is not a 64-bit integer: '
                              f'{quote(value)}')
  return value


def checked_shape(value: Any, what: str) -> tuple[int, ...]:
  """A shape: at most 16 non-negative int64 dimensions below 2**40."""
  if not isinstance(value, (tuple, list)) or len(value) > _MAX_NDIM:
    raise CheckpointReadError(f'{what} is not a shape: {quote(value)}')
  shape = tuple(checked_int(v, what) for v in value)
  if any(s < 0 for s in shape):
    raise CheckpointReadError(f'{what} is negative: {quote(shape)}')
  if any(s >= _MAX_DIM for s in shape):
    raise CheckpointReadError(f'{what} has a dimension of 2**40 or more')
  return shape


def checked_key(key: Any) -> None:
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


def as_bytes(data: Any, what: str) -> bytes:
  """Bytes from the file (Python 2 strings read as latin-1 included)."""
  if isinstance(data, str):  # Python 2 pickles read with encoding='latin1'
    data = data.encode('latin-1')
  if not isinstance(data, (bytes, bytearray)):
    raise CheckpointReadError(f'{what}: expected bytes, got '
                              f'{type(data).__name__}')
  return bytes(data) if isinstance(data, bytearray) else data


def describe(obj: Any) -> str:
  """A class or an object's type, for a message (never its value)."""
  if isinstance(obj, type):
    return f'class {obj.__name__}'
  return f'a {type(obj).__name__}'
