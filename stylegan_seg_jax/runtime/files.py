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
import hashlib
import os
import pathlib
import shutil
from typing import Any
import uuid

import numpy as np

__all__ = ['atomic_file', 'atomic_directory', 'scratch_name', 'sha256_file',
           'tree_sha256']


def scratch_name(path: pathlib.Path) -> pathlib.Path:
  """A fresh scratch path beside `path`: `.<name>.tmp-<8 hex digits>`."""
  return path.parent / f'.{path.name}.tmp-{uuid.uuid4().hex[:8]}'


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *,
                overwrite: bool = True) -> Iterator[pathlib.Path]:
  """Yields a scratch file path that replaces `path` if the block succeeds.

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
  if path.exists() and not overwrite:
    raise FileExistsError(f'{path} already exists (pass --overwrite to '
                          'replace)')
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = scratch_name(path)
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if tmp.exists():
      tmp.unlink()


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike[str], *, overwrite: bool = False
) -> Iterator[pathlib.Path]:
  """Yields a scratch directory that becomes `path` only if the block succeeds.

  Args:
    path: final directory.
    overwrite: replace an existing non-empty `path`; otherwise refuse.

  Yields:
    The (empty) scratch directory to fill.

  Raises:
    FileExistsError: `path` exists, is not empty and `overwrite` is False,
      or exists and is not a directory.
  """
  path = pathlib.Path(path).absolute()
  if path.exists() and not path.is_dir():
    raise FileExistsError(f'{path} exists and is not a directory')
  if path.is_dir() and any(path.iterdir()) and not overwrite:
    raise FileExistsError(
        f'{path} already exists and is not empty (pass --overwrite to replace)')
  path.parent.mkdir(parents=True, exist_ok=True)
  scratch = scratch_name(path)
  scratch.mkdir()
  try:
    yield scratch
  except BaseException:
    shutil.rmtree(scratch, ignore_errors=True)
    raise
  old = None
  if path.exists():
    old = path.parent / f'.{path.name}.old-{uuid.uuid4().hex[:8]}'
    path.rename(old)
  scratch.rename(path)
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
