"""Atomic writes leave the target untouched on failure; hashes are sha256."""

import hashlib

import numpy as np
import pytest

from stylegan_seg_jax.runtime import files

pytestmark = pytest.mark.fast


def _entries(directory):
  return sorted(p.name for p in directory.iterdir())


def test_atomic_file_replaces_only_on_success(tmp_path):
  target = tmp_path / 'sub' / 'a.txt'
  with files.atomic_file(target) as tmp:
    assert tmp.parent == target.parent and tmp.name.startswith('.a.txt.tmp-')
    assert not target.exists()
    tmp.write_text('one')
  assert target.read_text() == 'one'
  with pytest.raises(RuntimeError):
    with files.atomic_file(target) as tmp:
      tmp.write_text('half')
      raise RuntimeError('killed')
  assert target.read_text() == 'one' and _entries(target.parent) == ['a.txt']
  with pytest.raises(FileExistsError, match='already exists'):
    with files.atomic_file(target, overwrite=False):
      pass
  with pytest.raises(IsADirectoryError):
    with files.atomic_file(tmp_path):
      pass


def check_refuses_and_keeps(target, listing):
  """`atomic_directory` refuses the non-empty `target` without `overwrite`,
  and a failure inside its block leaves `listing()` as it was."""
  before = listing()
  with pytest.raises(FileExistsError, match='not empty'):
    with files.atomic_directory(target):
      pass
  with pytest.raises(RuntimeError):
    with files.atomic_directory(target, overwrite=True) as tmp:
      (tmp / 'new.txt').write_text('new')
      raise RuntimeError('killed')
  assert listing() == before


def test_atomic_directory_replaces_only_on_success(tmp_path):
  target = tmp_path / 'out'
  with files.atomic_directory(target) as tmp:
    (tmp / 'x').write_text('1')
  assert (target / 'x').read_text() == '1'
  check_refuses_and_keeps(target, lambda: (_entries(target),
                                           _entries(tmp_path)))
  assert _entries(target) == ['x'] and _entries(tmp_path) == ['out']
  with files.atomic_directory(target, overwrite=True) as tmp:
    (tmp / 'y').write_text('2')
  assert _entries(target) == ['y'] and _entries(tmp_path) == ['out']


def test_hashes(tmp_path):
  path = tmp_path / 'f'
  data = bytes(range(256)) * 5000  # several 1 MiB chunks... and a tail
  path.write_bytes(data)
  assert files.sha256_file(path) == hashlib.sha256(data).hexdigest()
  a = {'w': np.ones((2, 3), np.float32), 'b': np.zeros(3, np.float32)}
  b = {'w': np.ones((3, 2), np.float32), 'b': np.zeros(3, np.float32)}
  assert files.tree_sha256(a) == files.tree_sha256(dict(a))
  assert files.tree_sha256(a) != files.tree_sha256(b)  # same bytes, shape
