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

The files are untrusted (docs/formats.md, "Hostile files"): every pickle in
them is read by the restricted unpickler (`unpickler`), within the bounds of
`bounds` (a byte budget of 4x the file size plus 64 MiB by default), and
data after the end of a pickle or stream is refused.
"""

from __future__ import annotations

import os
import stat
import struct
from typing import IO, Any, cast
import zipfile

import numpy as np

from stylegan_seg_jax.convert.arrays import _StorageType
from stylegan_seg_jax.convert.bounds import BoundedReader
from stylegan_seg_jax.convert.bounds import Budget
from stylegan_seg_jax.convert.bounds import ByteSource
from stylegan_seg_jax.convert.bounds import CheckpointReadError
from stylegan_seg_jax.convert.bounds import checked_int
from stylegan_seg_jax.convert.bounds import default_byte_limit
from stylegan_seg_jax.convert.bounds import is_str
from stylegan_seg_jax.convert.unpickler import RestrictedUnpickler
from stylegan_seg_jax.runtime.messages import quote

__all__ = ['read_checkpoint_file']

_TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_TORCH_LEGACY_PROTOCOL = 1001


def _storage_pid(pid: Any) -> tuple[_StorageType, str, int]:
  if not (isinstance(pid, tuple) and len(pid) in (5, 6)
          and is_str(pid[0], 'storage') and isinstance(pid[1], _StorageType)
          and isinstance(pid[2], str)):
    raise CheckpointReadError(f'unsupported persistent id {quote(pid)}')
  numel = checked_int(pid[4], 'storage element count')
  if numel < 0:
    raise CheckpointReadError(f'negative storage element count {numel}')
  return pid[1], pid[2], numel


def _member(f: IO[bytes]) -> ByteSource:
  # An archive member opens as a zipfile.ZipExtFile, an io.BufferedIOBase
  # (so it has readinto); typeshed types it as IO[bytes].
  return cast(ByteSource, f)


def _read_torch_zip(zf: zipfile.ZipFile, budget: Budget) -> Any:
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

  def load_storage(pid: Any) -> np.ndarray:
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
        BoundedReader(_member(f), nbytes).readinto(storage)
      cache[key] = storage.astype(stype.dtype, copy=False)  # native order
    return cache[key]

  info = infos[pkls[0]]
  budget.charge(info.file_size, 'data.pkl')
  with zf.open(info) as f:
    reader = BoundedReader(_member(f), info.file_size)
    result = RestrictedUnpickler(reader, budget, storage_loader=load_storage,
                                 embedded_reader=_read_embedded
                                 ).load_checked()
    if reader.left:
      raise CheckpointReadError('data after the end of the pickle')
  return result


def _read_embedded(f: BoundedReader, budget: Budget,
                   stubs: dict[str, type]) -> Any:
  """The legacy stream of a storage embedded in a pickle."""
  return _read_torch_legacy(f, budget, stubs, embedded=True)


def _read_torch_legacy(f: BoundedReader, budget: Budget,
                       stubs: dict[str, type] | None = None,
                       magic_read: bool = False, embedded: bool = False) -> Any:
  """Reads a legacy torch stream, positioned at its start (or after magic)."""
  stubs = {} if stubs is None else stubs
  # A storage inside an embedded storage is never legitimate.
  embedded_reader = None if embedded else _read_embedded

  def header() -> Any:
    return RestrictedUnpickler(f, budget, stubs=stubs,
                               embedded_reader=embedded_reader).load_checked()

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

  def load_storage(pid: Any) -> np.ndarray:
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
    offset = checked_int(view[1], 'storage view offset')
    size = checked_int(view[2], 'storage view size')
    if offset < 0 or size < 0 or offset + size > storage.size:
      raise CheckpointReadError(f'storage view {quote(view)} reaches past '
                                'its storage')
    return storage[offset:offset + size]

  result = RestrictedUnpickler(f, budget, storage_loader=load_storage,
                               stubs=stubs,
                               embedded_reader=embedded_reader).load_checked()
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
      `bounds.default_byte_limit` of the file size).

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
  budget = Budget(default_byte_limit(size) if max_bytes is None
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
      f = BoundedReader(raw, size)
      stubs: dict[str, type] = {}
      first = RestrictedUnpickler(f, budget, stubs=stubs,
                                  embedded_reader=_read_embedded
                                  ).load_checked()
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
