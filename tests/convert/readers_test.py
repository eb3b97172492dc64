"""The torch-free readers give bit-identical tensors to torch's own loaders."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from stylegan_seg_jax.convert import bounds
from stylegan_seg_jax.convert import readers
from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.references import torch_models as refs

# Runs in a fresh interpreter in which torch, TensorFlow and the NVIDIA code
# cannot be imported at all, reads a checkpoint and saves its tensors.
_BLOCKED_READER = textwrap.dedent('''
    import importlib.abc, sys
    BLOCKED = ('torch', 'torch_utils', 'dnnlib', 'training', 'legacy',
               'tensorflow', 'draggan')
    class Block(importlib.abc.MetaPathFinder):
      def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
          raise ImportError('blocked: ' + name)
    sys.meta_path.insert(0, Block())
    import numpy as np
    from stylegan_seg_jax.convert import readers
    src, fmt, out = sys.argv[1:4]
    obj = readers.read_checkpoint_file(src)
    if fmt == 'nvidia':
      tensors = obj['G_ema'].named_tensors()
      tensors['__init_kwargs__'] = np.array(repr(sorted(
          obj['G_ema'].state['_init_kwargs'].items())))
    else:
      tensors = dict(obj['g_ema'])
    np.savez(out, **tensors)
    assert not any(m.split('.')[0] in BLOCKED for m in sys.modules)
''')


def _read_blocked(src, fmt, tmp_path):
  out = tmp_path / 'tensors.npz'
  subprocess.run([sys.executable, '-c', _BLOCKED_READER, str(src), fmt,
                  str(out)], check=True, cwd=ROOT,
                 env=subprocess_env())
  return dict(np.load(out))


@pytest.mark.slow
def test_nvidia_pickle_read_without_torch(tmp_path):
  g = refs.nvidia_generator(resolution=16, seed=1)
  src = tmp_path / 'g.pkl'
  refs.write_nvidia_pkl(src, g)
  got = _read_blocked(src, 'nvidia', tmp_path)
  assert 'synthesis.b16.conv0.noise_const' in got
  want = {k: v.numpy() for k, v in g.state_dict().items()}
  assert set(want) == set(got) - {'__init_kwargs__'}
  for k, v in want.items():
    assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
    np.testing.assert_array_equal(got[k], v, err_msg=k)
  assert "'img_resolution', 16" in str(got['__init_kwargs__'])


@pytest.mark.slow
@pytest.mark.parametrize('zip_format', [True, False])
def test_rosinality_pt_read_without_torch(tmp_path, zip_format):
  g = refs.rosinality_generator(size=8, style_dim=16, n_mlp=2, seed=2)
  src = tmp_path / 'g.pt'
  torch.save({'g_ema': g.state_dict()}, src,
             _use_new_zipfile_serialization=zip_format)
  got = _read_blocked(src, 'rosinality', tmp_path)
  want = torch.load(src, weights_only=True)['g_ema']
  assert set(got) == set(want)
  for k, v in want.items():
    np.testing.assert_array_equal(got[k], v.numpy(), err_msg=k)


@pytest.mark.fast
def test_strided_and_half_tensors(tmp_path):
  """Non-contiguous views, offsets and other dtypes rebuild like torch."""
  base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
  data = {'t': base.t(), 'slice': base[2:4, 3:], 'half': base.half(),
          'long': torch.arange(5), 'scalar': torch.tensor(3.5)}
  for zip_format in (True, False):
    src = tmp_path / f'x{zip_format}.pt'
    torch.save(data, src, _use_new_zipfile_serialization=zip_format)
    got = readers.read_checkpoint_file(src)
    for k, v in data.items():
      assert got[k].dtype == v.numpy().dtype, k
      np.testing.assert_array_equal(got[k], v.numpy(), err_msg=k)


class _Evil:
  def __reduce__(self):
    return (os.system, ('echo pwned',))


@pytest.mark.fast
def test_arbitrary_globals_are_refused(tmp_path):
  src = tmp_path / 'evil.pkl'
  with open(src, 'wb') as f:
    pickle.dump({'G_ema': _Evil()}, f)
  with pytest.raises(bounds.CheckpointReadError,
                     match='disallowed global (posix|os).system'):
    readers.read_checkpoint_file(src)
