"""Bad input to convert_weights.py: one-line error, exit != 0, nothing written.

Every test runs the CLI in a subprocess.
"""

import os
import pickle
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.references import torch_models as refs

pytestmark = pytest.mark.slow


def _run(*args, cwd=None):
  return subprocess.run(
      [sys.executable, str(ROOT / 'convert_weights.py'), *args],
      capture_output=True, text=True, cwd=cwd,
      env=subprocess_env())


def _assert_clean_failure(proc, out_dir, pattern):
  assert proc.returncode != 0, proc.stdout + proc.stderr
  lines = [line for line in proc.stderr.splitlines() if line.strip()]
  assert lines and lines[-1].startswith('convert: error: '), proc.stderr
  assert 'Traceback' not in proc.stderr, proc.stderr
  assert pattern in lines[-1], lines[-1]
  assert not out_dir.exists()
  leftovers = [p.name for p in out_dir.parent.iterdir()
               if p.name.startswith('.' + out_dir.name)]
  assert not leftovers


@pytest.fixture(scope='module')
def rosinality_state():
  g = refs.rosinality_generator(size=8, style_dim=16, n_mlp=2, seed=4)
  return g.state_dict()


@pytest.fixture(scope='module')
def good_pt(tmp_path_factory, rosinality_state):
  path = tmp_path_factory.mktemp('good') / 'g.pt'
  torch.save({'g_ema': rosinality_state, 'latent_avg': torch.zeros(16)}, path)
  return path


def _edited_state(state, drop=None, add=None, reshape=None):
  state = dict(state)
  if drop:
    del state[drop]
  if add:
    state[add] = torch.zeros(3)
  if reshape:
    state[reshape] = torch.zeros(state[reshape].numel() + 1)
  return state


@pytest.mark.parametrize('edit,pattern', [
    (dict(drop='convs.1.activate.bias'),
     "missing tensor 'convs.1.activate.bias'"),
    (dict(add='convs.1.extra'), "unexpected tensors ['convs.1.extra']"),
    (dict(reshape='convs.1.activate.bias'), "shape mismatch: rosinality tensor "
     "'convs.1.activate.bias'"),
])
def test_tensor_set_problems(tmp_path, rosinality_state, edit, pattern):
  src = tmp_path / 'bad.pt'
  torch.save({'g_ema': _edited_state(rosinality_state, **edit)}, src)
  out = tmp_path / 'out'
  _assert_clean_failure(_run(f'--src={src}', f'--out={out}'), out, pattern)


@pytest.mark.parametrize('cut', [0.5, 0.95])
def test_truncated_files(tmp_path, good_pt, cut):
  data = good_pt.read_bytes()
  src = tmp_path / 'truncated.pt'
  src.write_bytes(data[:int(len(data) * cut)])
  out = tmp_path / 'out'
  _assert_clean_failure(_run(f'--src={src}', f'--out={out}'), out,
                        'truncated or corrupt')


def test_truncated_nvidia_pickle(tmp_path):
  g = refs.nvidia_generator(resolution=8, seed=2)
  full = tmp_path / 'full.pkl'
  refs.write_nvidia_pkl(full, g)
  src = tmp_path / 'cut.pkl'
  src.write_bytes(full.read_bytes()[:len(full.read_bytes()) * 2 // 3])
  out = tmp_path / 'out'
  _assert_clean_failure(_run(f'--src={src}', f'--out={out}'), out,
                        'truncated or corrupt')


@pytest.mark.parametrize('kind', ['pt', 'pkl'])
def test_corrupted_bytes(tmp_path, good_pt, kind):
  if kind == 'pt':
    data = bytearray(good_pt.read_bytes())
  else:
    full = tmp_path / 'full.pkl'
    refs.write_nvidia_pkl(full, refs.nvidia_generator(resolution=8, seed=2))
    data = bytearray(full.read_bytes())
  # A zip archive has CRCs over its data; a plain pickle has none, so its
  # structure (the opcodes right after the header) is damaged instead.
  start = len(data) // 3 if kind == 'pt' else 2
  for i in range(start, start + 64):
    data[i] ^= 0x5A
  src = tmp_path / f'corrupt.{kind}'
  src.write_bytes(bytes(data))
  out = tmp_path / 'out'
  _assert_clean_failure(_run(f'--src={src}', f'--out={out}'), out,
                        'corrupt')


def test_unknown_formats(tmp_path):
  out = tmp_path / 'out'
  text = tmp_path / 'notes.txt'
  text.write_text('not a checkpoint')
  _assert_clean_failure(_run(f'--src={text}', f'--out={out}'), out,
                        'not a pickle or torch checkpoint')
  other = tmp_path / 'other.pkl'
  other.write_bytes(pickle.dumps({'weights': [1, 2, 3]}))
  _assert_clean_failure(_run(f'--src={other}', f'--out={out}'), out,
                        'unknown checkpoint format')


def test_format_mismatch(tmp_path, good_pt):
  out = tmp_path / 'out'
  _assert_clean_failure(_run(f'--src={good_pt}', f'--out={out}',
                             '--format=nvidia'), out,
                        'is a rosinality checkpoint, not nvidia')


def test_resolution_above_checkpoint(tmp_path, good_pt):
  out = tmp_path / 'out'
  _assert_clean_failure(_run(f'--src={good_pt}', f'--out={out}',
                             '--resolution=16'), out,
                        "requested resolution 16 is above the checkpoint's 8")


def test_missing_source(tmp_path):
  out = tmp_path / 'out'
  _assert_clean_failure(_run(f'--src={tmp_path / "nope.pt"}', f'--out={out}'),
                        out, 'no such checkpoint file')


def test_malicious_pickle_is_not_executed(tmp_path):
  marker = tmp_path / 'pwned'

  class Evil:
    def __reduce__(self):
      return (os.system, (f'touch {marker}',))

  src = tmp_path / 'evil.pkl'
  src.write_bytes(pickle.dumps({'G_ema': Evil()}))
  out = tmp_path / 'out'
  _assert_clean_failure(_run(f'--src={src}', f'--out={out}'), out,
                        'disallowed global')
  assert not marker.exists()


def test_existing_output_is_kept(tmp_path, good_pt):
  out = tmp_path / 'out'
  out.mkdir()
  (out / 'results.txt').write_text('precious')
  proc = _run(f'--src={good_pt}', f'--out={out}')
  assert proc.returncode != 0
  assert 'already exists' in proc.stderr.splitlines()[-1]
  assert (out / 'results.txt').read_text() == 'precious'
  assert sorted(p.name for p in out.iterdir()) == ['results.txt']
  proc = _run(f'--src={good_pt}', f'--out={out}', '--overwrite')
  assert proc.returncode == 0, proc.stderr
  assert sorted(p.name for p in out.iterdir()) == ['generator.json',
                                                   'variables']
