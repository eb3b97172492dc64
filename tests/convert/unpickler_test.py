"""The gated unpickler lets through what torch, NVIDIA and numpy write.

The refusals are in hostile_test.py; these files are legitimate, built by
hand (hostile_files.py, no torch).
"""

import numpy as np
import pytest

from stylegan_seg_jax.convert import readers
from tests.convert import hostile_files as hf
from tests.convert.hostile_files import Call
from tests.convert.hostile_files import Global
from tests.convert.hostile_files import numpy_array
from tests.convert.hostile_files import numpy_dtype


@pytest.mark.fast
def test_legitimate_structures_still_read(tmp_path):
  """The gates let through what torch, NVIDIA and numpy pickles contain."""
  w = np.arange(12, dtype=np.float32).reshape(3, 4)
  legacy = tmp_path / 'legacy.pt'
  legacy.write_bytes(hf.legacy_stream(
      {'g_ema': {'w': hf.contiguous('0', w), 't': hf.tensor('0', 12, 1, (4, 2),
                                                            (1, 4))}},
      {'0': w.ravel()}))
  got = readers.read_checkpoint_file(legacy)['g_ema']
  np.testing.assert_array_equal(got['w'], w)
  np.testing.assert_array_equal(got['t'], w.ravel()[1:][
      np.add.outer(np.arange(4), 4 * np.arange(2))])
  nvidia = tmp_path / 'nvidia.pkl'
  scalar = Call(Global('numpy.core.multiarray', 'scalar'), numpy_dtype('f4'),
                np.float32(2.5).tobytes())
  nvidia.write_bytes(hf.dumps({
      'G_ema': hf.persistent_module('Generator', {
          '_parameters': {'p': hf.embedded_storage(w.ravel())},
          '_buffers': {}, '_modules': {}, '_init_kwargs': {'c_dim': 0}}),
      'array': numpy_array(
          numpy_dtype('f4', (3, '>', None, None, None, -1, -1, 0)), (3, 4),
          w.astype('>f4').tobytes()),
      'scalar': scalar}, protocol=4))
  obj = readers.read_checkpoint_file(nvidia)
  np.testing.assert_array_equal(obj['G_ema'].named_tensors()['p'], w.ravel())
  # Python 3.7 wrote NVIDIA pickles at protocol 3: sets as builtins.set.
  old = tmp_path / 'protocol3.pkl'
  old.write_bytes(hf.dumps({'G_ema': hf.persistent_module('Generator', {
      '_parameters': {'p': hf.embedded_storage(w.ravel()),
                      'q': hf.embedded_storage(w.ravel())},
      '_non_persistent_buffers_set': {'q'}})}, protocol=3))
  assert b'builtins\nset' in old.read_bytes()
  assert set(readers.read_checkpoint_file(old)['G_ema'].named_tensors()) == {
      'p'}
  np.testing.assert_array_equal(obj['array'], w)
  assert obj['scalar'] == np.float32(2.5)


@pytest.mark.fast
def test_embedded_storages_read_in_every_file_kind(tmp_path):
  """`_load_from_bytes` reads at the top of any file, never nested."""
  w = np.arange(4, dtype=np.float32)
  files = {
      'plain.pkl': hf.dumps({'s': hf.embedded_storage(w)}),
      'zip.pt': hf.torch_zip({'s': hf.embedded_storage(w)}, {}),
      'legacy.pt': hf.legacy_stream({'s': hf.embedded_storage(w)}, {}),
  }
  for name, data in files.items():
    (tmp_path / name).write_bytes(data)
    got = readers.read_checkpoint_file(tmp_path / name)['s']
    np.testing.assert_array_equal(got, w, err_msg=name)
