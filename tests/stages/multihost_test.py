"""Evaluation and dataset generation with two processes (multi-host through
jax.distributed with gloo on CPU devices), against one process.

Two processes of two devices each run `evaluate` on a trained workdir: one
`eval/` is written, whose numbers and predictions equal those of one process
with four devices (the same per-device batches). Two processes run
`generate` into an empty directory at once: every seed lands exactly once.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.conftest import ROOT
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

_PORT = 12417
_METHODS = 'ours,datasetgan'


def _two_processes(module: str, flags: list[str], port: int):
  env = subprocess_env(
      XLA_FLAGS='--xla_force_host_platform_device_count=2')
  procs = [subprocess.Popen(
      [sys.executable, '-m', f'stylegan_seg_jax.{module}', *flags,
       '--distributed', f'--coordinator_address=127.0.0.1:{port}',
       '--num_processes=2', f'--process_id={i}'], cwd=ROOT, env=env,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)]
  outs = [p.communicate(timeout=600) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  return outs


def test_two_processes_evaluate_as_one_and_generate_every_seed_once(
    tiny_workdir, tmp_path):
  flags = ['--config=configs/tiny.py', '--config.oneshot.num_steps=12',
           f'--config.oneshot.methods={_METHODS}']
  multi, single = tmp_path / 'multi', tmp_path / 'single'
  for wd in (multi, single):
    shutil.copytree(tiny_workdir, wd, ignore=shutil.ignore_patterns('eval'))
  _two_processes('evaluate', [*flags, f'--workdir={multi}'], _PORT)
  one = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax.evaluate', *flags,
       f'--workdir={single}'], cwd=ROOT, capture_output=True, text=True,
      env=subprocess_env(
          XLA_FLAGS='--xla_force_host_platform_device_count=4'))
  assert one.returncode == 0, one.stderr[-3000:]
  a = json.loads((multi / 'eval' / 'metrics.json').read_text())
  b = json.loads((single / 'eval' / 'metrics.json').read_text())
  assert a['processes'] == 2 and b['processes'] == 1
  assert a['devices'] == b['devices'] == 4
  assert a['num_test'] == b['num_test'] == 16
  for name in _METHODS.split(','):
    for key, value in b['methods'][name].items():
      if key not in ('images_per_s', 'seconds'):
        assert a['methods'][name][key] == value, (name, key)
    pa = np.load(multi / 'eval' / f'{name}_predictions.npz')
    pb = np.load(single / 'eval' / f'{name}_predictions.npz')
    for key in pb.files:
      np.testing.assert_array_equal(pa[key], pb[key])
  assert not [p for p in multi.iterdir() if '.tmp-' in p.name]

  out = tmp_path / 'dataset'
  _two_processes('generate', [
      '--config=configs/tiny.py', f'--workdir={multi}', f'--out={out}',
      '--num_samples=24', '--config.generate.shard_size=4',
      '--config.generate.batch_size=4'], _PORT + 1)
  source = tfds.builder_from_directory(os.fspath(out)).as_data_source('train')
  seeds = sorted(int(source[i]['seed']) for i in range(len(source)))
  assert seeds == list(range(24))
