"""Paths (local or in a bucket), writes that never leave half a file, hashes.

Every path a run reads or writes goes through `as_path`: a local path is a
`pathlib.Path`, a URL such as `gs://bucket/run` an `etils.epath.Path` (served
by fsspec; `gcsfs` for `gs://`). Both offer the same methods (`/`, `exists`,
`is_dir`, `read_text`, `open`, `iterdir`, ...).

`atomic_file` and `atomic_directory` hand out a scratch path and move it
onto the target only when the block succeeds; on any exception the scratch
path is removed and the target is untouched.

* Locally the scratch path lies beside the target (same filesystem) and the
  final step is a rename. Scratch names start with `.<name>.tmp-`, so a
  reader that lists a directory can skip them.
* For a URL the scratch path is a local temporary file or directory. A file
  is then uploaded as one object, which the store creates only when the
  upload completes (objects are written once, never appended to). A
  directory is uploaded to a scratch prefix `.<name>.tmp-...` beside the
  target and copied into place inside the store, the files that mark it
  complete last; a previous directory is first copied aside
  (`.<name>.old-...`) and deleted only after the new one is complete (moved
  back if the copy fails).
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import errno
import hashlib
import os
import pathlib
import shutil
import tempfile
from typing import Any, TypeAlias
import uuid

import numpy as np

from stylegan_seg_jax.runtime.messages import quote

__all__ = ['SCHEMES', 'UnsupportedURLError', 'AnyPath', 'is_url', 'as_path',
           'check_url', 'require_local', 'file_size', 'remove_tree',
           'copy_tree', 'atomic_file', 'atomic_directory',
           'check_output_directory', 'scratch_name', 'sha256_file',
           'tree_sha256']

# A local path or a URL path (`etils.epath.Path`, e.g. gs://bucket/dir).
AnyPath: TypeAlias = Any
# The object stores whose filesystem is pinned (gcsfs).
SCHEMES = ('gs',)


class UnsupportedURLError(ValueError):
  """A URL of a store this package does not reach (only `gs://`)."""


def is_url(path: str | os.PathLike[str]) -> bool:
  """Whether `path` names an object store location (`scheme://...`)."""
  return '://' in os.fspath(path)


def as_path(path: str | os.PathLike[str], *, absolute: bool = False
            ) -> AnyPath:
  """`path` as a `pathlib.Path` (local) or an `etils.epath.Path` (a URL).

  Args:
    path: a local path or a URL such as `gs://bucket/run`.
    absolute: make a local path absolute (URLs already are).
  """
  if is_url(path):
    check_url(path)
    from etils import epath  # pylint: disable=g-import-not-at-top
    return epath.Path(os.fspath(path))
  path = pathlib.Path(path)
  return path.absolute() if absolute else path


def check_url(path: str | os.PathLike[str]) -> None:
  """Refuses a URL whose scheme is not one of `SCHEMES`.

  Raises:
    UnsupportedURLError: e.g. `gcs://...`, `s3://...` or `file://...`.
  """
  text = os.fspath(path)
  scheme = text.split('://', 1)[0]
  if is_url(text) and scheme not in SCHEMES:
    raise UnsupportedURLError(
        f'{quote(text)}: only gs:// URLs are supported (not '
        f'{quote(scheme + "://", 24)}); a local path has no "://"')


def require_local(path: str | os.PathLike[str], what: str) -> pathlib.Path:
  """`path` as a local `pathlib.Path`; a URL is refused with one line.

  Raises:
    ValueError: `path` is a URL.
  """
  if is_url(path):
    shown = os.fspath(path)
    shown = shown if len(shown) <= 80 else shown[:77] + '...'
    raise ValueError(f'{what} must be a local path, not {shown!r} (copy it '
                     'from the bucket first)')
  return pathlib.Path(path)


def _store(path: str | os.PathLike[str]) -> tuple[Any, str]:
  """(fsspec filesystem, path inside it) of a URL."""
  import fsspec  # pylint: disable=g-import-not-at-top
  return fsspec.core.url_to_fs(os.fspath(path))


def _no_listing_cache() -> None:
  """Turns off listing caches of fsspec's object-store filesystems.

  Several processes write one bucket: a cached listing would hide the
  objects the others wrote (a finished shard, a checkpoint). Runs at import,
  before epath, orbax or tfds create a filesystem.
  """
  try:
    import fsspec.config  # pylint: disable=g-import-not-at-top
  except ImportError:
    return
  for protocol in ('gcs', 'gs', 's3'):
    fsspec.config.conf.setdefault(protocol, {}).setdefault(
        'use_listings_cache', False)


_no_listing_cache()


def file_size(path: str | os.PathLike[str]) -> int:
  """Size in bytes of a local file or an object."""
  if is_url(path):
    fs, p = _store(path)
    return int(fs.size(p))
  return os.path.getsize(path)


def remove_tree(path: str | os.PathLike[str]) -> None:
  """Deletes a directory (local) or every object under a prefix (URL)."""
  if is_url(path):
    fs, p = _store(path)
    if fs.exists(p):
      fs.rm(p, recursive=True)
  elif os.path.isdir(path):
    shutil.rmtree(path)


def copy_tree(src: str | os.PathLike[str], dst: AnyPath, *,
              last: tuple[str, ...] = ()) -> None:
  """Copies the files under local directory `src` into `dst` (local or URL).

  `dst` is created if needed; files already there with other names stay.

  Args:
    src: a local directory.
    dst: the directory (local) or prefix (URL) to copy into.
    last: relative paths copied after all others (a file whose presence
      marks the copy complete).
  """
  src = pathlib.Path(src)
  order = sorted((p for p in src.rglob('*') if p.is_file()),
                 key=lambda p: (p.relative_to(src).as_posix() in last,
                                p.relative_to(src).as_posix()))
  for f in order:
    rel = f.relative_to(src).as_posix()
    if is_url(dst):
      _upload(f, as_path(dst) / rel)
    else:
      target = pathlib.Path(dst) / rel
      target.parent.mkdir(parents=True, exist_ok=True)
      shutil.copyfile(f, target)


def _upload(local: pathlib.Path, url: AnyPath) -> None:
  """Uploads one local file as the object `url` (created whole or not)."""
  fs, p = _store(url)
  fs.put_file(os.fspath(local), p)


def _move_prefix(fs: Any, src: str, dst: str, *,
                 last: tuple[str, ...] = ()) -> None:
  """Copies every object under `src` to `dst`, then deletes `src`.

  Both are inside the one store. The order makes an interrupted copy look
  incomplete to every reader: deeper objects first (an orbax checkpoint's
  data before the files beside it), each `commit_success.txt` after its
  siblings, and the relative paths in `last` (e.g. `generator.json`,
  `metrics.json`) at the very end.
  """
  src, dst = src.rstrip('/'), dst.rstrip('/')

  def order(obj: str) -> tuple[bool, int, bool, str]:
    rel = obj[len(src) + 1:]
    return (rel in last, -rel.count('/'),
            rel.rsplit('/', 1)[-1] == 'commit_success.txt', rel)

  for obj in sorted(fs.find(src), key=order):
    fs.copy(obj, dst + obj[len(src):])
  fs.rm(src, recursive=True)


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
  if is_url(path):
    with _atomic_object(as_path(path), overwrite) as tmp:
      yield tmp
    return
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


@contextlib.contextmanager
def _atomic_object(url: AnyPath, overwrite: bool) -> Iterator[pathlib.Path]:
  """`atomic_file` for a URL: a local scratch file, uploaded on success.

  Without `overwrite` the existence check is repeated just before the
  upload (object stores offer no link; a writer racing in that window wins).
  """
  if url.is_dir():
    raise IsADirectoryError(f'{url} is a directory')
  if not overwrite and url.exists():
    raise FileExistsError(f'{url} already exists (pass --overwrite to '
                          'replace)')
  with tempfile.TemporaryDirectory(prefix='stylegan_seg_jax-') as scratch:
    tmp = pathlib.Path(scratch) / url.name
    yield tmp
    if not overwrite and url.exists():
      raise FileExistsError(f'{url} appeared while it was being written; it '
                            'was not replaced')
    _upload(tmp, url)


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
  if is_url(path):
    url = as_path(path)
    if url.is_file():
      raise FileExistsError(f'{url} exists and is not a directory')
    if url.is_dir() and any(url.iterdir()) and not overwrite:
      raise FileExistsError(f'{url} already exists and is not empty (pass '
                            '--overwrite to replace)')
    return url
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
    path: str | os.PathLike[str], *, overwrite: bool = False,
    last: tuple[str, ...] = ()
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
    last: in a bucket, relative paths copied into place after all others:
      the files whose presence tells a reader the directory is complete
      (locally the rename makes it appear whole anyway).

  Yields:
    The (empty) scratch directory to fill.

  Raises:
    FileExistsError: see `check_output_directory`; also when `path` changes
      that way while the block runs.
  """
  path = check_output_directory(path, overwrite=overwrite)
  if is_url(path):
    with tempfile.TemporaryDirectory(prefix='stylegan_seg_jax-') as local:
      scratch = pathlib.Path(local) / path.name
      scratch.mkdir()
      yield scratch
      _commit_prefix(scratch, path, overwrite, last)
    return
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


def _commit_prefix(scratch: pathlib.Path, url: AnyPath, overwrite: bool,
                   last: tuple[str, ...]) -> None:
  """Replaces the objects under `url` with the directory `scratch`.

  Uploads `scratch` beside `url`, moves the old `url` aside, copies the
  upload into place (`last` at the end) and only then deletes the old one.
  If the copy into place fails, the partial copy is removed and the old
  contents are moved back; when that fails too, the error names where they
  are. The upload prefix is removed in every case.
  """
  fs, target = _store(url)
  tag = uuid.uuid4().hex[:8]
  staging = as_path(url).parent / f'.{url.name}.tmp-{tag}'
  _, staging_path = _store(staging)
  appeared = (f'{url} appeared or changed while it was being written; it '
              'was not replaced')
  old = None
  try:
    copy_tree(scratch, staging)
    if fs.isfile(target):
      raise FileExistsError(appeared)
    if fs.isdir(target) and fs.find(target):
      if not overwrite:
        raise FileExistsError(appeared + ' (pass --overwrite to replace)')
      _, old = _store(as_path(url).parent / f'.{url.name}.old-{tag}')
      _move_prefix(fs, target, old)
    if fs.find(staging_path):
      try:
        _move_prefix(fs, staging_path, target, last=last)
      except Exception as e:
        failed = f'{url}: copying the new contents into place failed ({e})'
        try:
          if fs.exists(target):
            fs.rm(target, recursive=True)
          if old is not None:
            _move_prefix(fs, old, target)
        except Exception:  # pylint: disable=broad-except
          raise OSError(failed + (
              f'; the previous contents are in {old}' if old is not None
              else f'; remove what was copied to {url}')) from None
        raise OSError(failed + ('; the previous contents are back in place'
                                if old is not None else '')) from None
  finally:
    try:
      if fs.exists(staging_path):
        fs.rm(staging_path, recursive=True)
    except Exception:  # pylint: disable=broad-except
      pass  # best effort; a failure above is the one to report
  if old is not None:
    fs.rm(old, recursive=True)


def sha256_file(path: str | os.PathLike[str]) -> str:
  """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
  digest = hashlib.sha256()
  with as_path(path).open('rb') as f:
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
