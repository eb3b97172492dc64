"""Tensors are views that stay inside their storage, or are refused."""

import numpy as np
import pytest

from stylegan_seg_jax.convert import arrays
from stylegan_seg_jax.convert import bounds


def _naive_view(storage, offset, size, stride):
  """Element by element, by index arithmetic; None if any index is outside."""
  out = np.zeros(size, storage.dtype)
  for index in np.ndindex(*size):
    flat = offset + sum(i * s for i, s in zip(index, stride))
    if not 0 <= flat < storage.size:
      return None
    out[index] = storage[flat]
  return out


@pytest.mark.fast
def test_tensor_views_match_index_arithmetic_or_are_refused():
  rng = np.random.default_rng(0)
  accepted = refused = 0
  for _ in range(3000):
    n = int(rng.integers(1, 30))
    storage = np.arange(n, dtype=np.float32) + 0.5
    ndim = int(rng.integers(0, 4))
    size = tuple(int(v) for v in rng.integers(0, 5, ndim))
    stride = tuple(int(v) for v in rng.integers(-3, 8, ndim))
    offset = int(rng.integers(-3, 32))
    if rng.random() < 0.05:
      stride = tuple(s * (1 << 59) for s in stride)
    want = _naive_view(storage, offset, size, stride)
    in_bounds = want is not None and (offset >= 0 or not np.prod(size))
    acceptable = (in_bounds and offset >= 0 and min(stride, default=0) >= 0
                  and np.prod(size) <= n)
    try:
      got = arrays.tensor_view(storage, offset, size, stride)
    except bounds.CheckpointReadError:
      assert not acceptable, (n, offset, size, stride)
      refused += 1
      continue
    assert want is not None, (n, offset, size, stride)
    np.testing.assert_array_equal(got, want)
    accepted += 1
  assert accepted > 500 and refused > 500
