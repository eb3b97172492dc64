"""Writes that never leave a half-written file or directory, and hashes.

`atomic_file` and `atomic_directory` hand out a scratch path beside the
target (same filesystem) and rename it onto the target only when the block
succeeds; on any exception the scratch path is removed and the target is
untouched. Scratch names start with `.<name>.tmp-`, so a reader that lists a
directory can skip them.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import errno
import hashlib
import os
import pathlib
import shutil
from typing import Any
import uuid

import numpy as np

__all__ = ['atomic_file', 'atomic_directory', 'check_output_directory',
           'scratch_name', 'sha256_file', 'tree_sha256']


def scratch_name(path: pathlib.Path) -> pathlib.Path:
  """A fresh scratch path beside `path`: `.<name>.tmp-<8 hex digits>`."""
  return path.parent / f'.{path.name}.tmp-{uuid.uuid4().hex[:8]}'


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *,
                overwrite: bool = True) -> Iterator[pathlib.Path]:
  """Yields a scratch file path that replaces `path` if the block succeeds.

  Without `overwrite` the final step is a hard link, which fails if `path`
  exists by then: a file that appears while the block runs is never
  replaced (on file systems without hard links, the check is repeated just
  before the rename instead).

  Args:
    path: the final file; its parent directory is created if needed.
    overwrite: replace an existing `path`; otherwise refuse before writing.

  Yields:
    The scratch path to write (it does not exist yet).

  Raises:
    FileExistsError: `path` exists and `overwrite` is False.
    IsADirectoryError: `path` is a directory.
  """
  path = pathlib.Path(path)
  if path.is_dir():
    raise IsADirectoryError(f'{path} is a directory')
  if os.path.lexists(path) and not overwrite:
    raise FileExistsError(f'{path} already exists (pass --overwrite to '
                          'replace)')
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = scratch_name(path)
  try:
    yield tmp
    if overwrite:
      os.replace(tmp, path)
    else:
      _link_no_replace(tmp, path)
  finally:
    if os.path.lexists(tmp):
      tmp.unlink()


def _link_no_replace(tmp: pathlib.Path, path: pathlib.Path) -> None:
  try:
    os.link(tmp, path)
  except FileExistsError:
    raise FileExistsError(f'{path} appeared while it was being written; it '
                          'was not replaced (pass --overwrite to replace)'
                          ) from None
  except OSError as e:
    if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV,
                       errno.EMLINK):
      raise
    if os.path.lexists(path):
      raise FileExistsError(f'{path} appeared while it was being written; '
                            'it was not replaced') from None
    os.replace(tmp, path)


def check_output_directory(path: str | os.PathLike[str], *,
                           overwrite: bool) -> pathlib.Path:
  """Checks that `path` may become an output directory; returns it absolute.

  Args:
    path: the directory to write.
    overwrite: whether an existing non-empty directory may be replaced.

  Returns:
    The absolute path.

  Raises:
    FileExistsError: `path` is a symbolic link (replacing it would replace
      the link, not what it points to), exists and is not a directory, or
      is a non-empty directory and `overwrite` is False.
  """
  path = pathlib.Path(path).absolute()
  if path.is_symlink():
    raise FileExistsError(f'{path} is a symbolic link; give the directory it '
                          'points to, or another path')
  if path.exists() and not path.is_dir():
    raise FileExistsError(f'{path} exists and is not a directory')
  if path.is_dir() and any(path.iterdir()) and not overwrite:
    raise FileExistsError(
        f'{path} already exists and is not empty (pass --overwrite to replace)')
  return path


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike[str], *, overwrite: bool = False
) -> Iterator[pathlib.Path]:
  """Yields a scratch directory that becomes `path` only if the block succeeds.

  The final step cannot destroy what it did not check: without `overwrite`
  it is a plain rename, which the operating system refuses when `path` has
  become a non-empty directory, a file or a link meanwhile; with
  `overwrite`, `path` is checked again, moved aside, replaced, and only then
  deleted (moved back if the replacement fails). The scratch directory is
  removed on every failure.

  Args:
    path: final directory (`check_output_directory` rules).
    overwrite: replace an existing non-empty `path`; otherwise refuse.

  Yields:
    The (empty) scratch directory to fill.

  Raises:
    FileExistsError: see `check_output_directory`; also when `path` changes
      that way while the block runs.
  """
  path = check_output_directory(path, overwrite=overwrite)
  path.parent.mkdir(parents=True, exist_ok=True)
  scratch = scratch_name(path)
  scratch.mkdir()
  try:
    yield scratch
    _commit_directory(scratch, path, overwrite)
  finally:
    if os.path.lexists(scratch):
      shutil.rmtree(scratch, ignore_errors=True)


def _commit_directory(scratch: pathlib.Path, path: pathlib.Path,
                      overwrite: bool) -> None:
  appeared = (f'{path} appeared or changed while it was being written; it '
              'was not replaced')
  if not overwrite:
    try:
      os.rename(scratch, path)  # replaces an empty directory, nothing else
    except OSError as e:
      if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR,
                     errno.EISDIR):
        raise FileExistsError(appeared + ' (pass --overwrite to replace)'
                              ) from None
      raise
    return
  old = None
  if os.path.lexists(path):
    if path.is_symlink() or not path.is_dir():
      raise FileExistsError(appeared)
    old = path.parent / f'.{path.name}.old-{uuid.uuid4().hex[:8]}'
    os.rename(path, old)
  try:
    os.rename(scratch, path)
  except OSError as e:
    if old is not None:
      try:
        os.rename(old, path)
      except OSError:
        raise FileExistsError(f'{appeared}; the previous contents are in '
                              f'{old}') from None
    if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR,
                   errno.EISDIR):
      raise FileExistsError(appeared) from None
    raise
  if old is not None:
    shutil.rmtree(old, ignore_errors=True)


def sha256_file(path: str | os.PathLike[str]) -> str:
  """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def tree_sha256(tree: Any) -> str:
  """Hex sha256 of a pytree's leaves (dtype, shape and bytes, in order)."""
  import jax  # pylint: disable=g-import-not-at-top
  digest = hashlib.sha256()
  for leaf in jax.tree.leaves(tree):
    a = np.asarray(leaf)
    digest.update(str((a.dtype, a.shape)).encode())
    digest.update(np.ascontiguousarray(a).tobytes())
  return digest.hexdigest()
