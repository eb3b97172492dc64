"""launch/tpu_pod.sh end to end on an emulated pod: a fake `gcloud` on PATH
runs each worker as a separate process in its own home directory, and the
workers train with jax.distributed (gloo, two CPU devices each).

The pod's result equals one process with as many devices. Also: the
launcher frees the workers without killing anything but the run
it started before (its pid file; a process whose command line merely looks
like ours survives, and so does the launcher itself), and a missing input
stops it before any worker is touched.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

WORKERS = 2
FAKE = pathlib.Path(__file__).with_name('fake_gcloud.py')


def _pod(tmp_path: pathlib.Path, port: int) -> dict[str, str]:
  """The environment that puts the fake gcloud on PATH for a new pod."""
  root = tmp_path / 'pod'
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  gcloud = bin_dir / 'gcloud'
  gcloud.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
  gcloud.chmod(0o755)
  for i in range(WORKERS):
    code = root / f'worker_{i}' / 'stylegan_seg_jax'
    code.mkdir(parents=True)
    # The workers reuse this checkout's environment (nothing to download).
    (code / '.venv').symlink_to(ROOT / '.venv')
  env = {k: v for k, v in os.environ.items()
         if k not in ('PYTHONPATH', 'XLA_FLAGS', 'JAX_PLATFORMS')}
  env.update(PATH=f'{bin_dir}:{env["PATH"]}', FAKE_POD_ROOT=str(root),
             FAKE_POD_WORKERS=str(WORKERS), FAKE_POD_PORT=str(port),
             FAKE_POD_ENV=json.dumps({
                 'XLA_FLAGS': '--xla_force_host_platform_device_count=2',
                 'JAX_PLATFORMS': 'cpu'}),
             ACCELERATOR='cpu', LOG_DIR=str(tmp_path / 'logs'))
  return env


def _calls(tmp_path):
  path = tmp_path / 'pod' / 'calls.jsonl'
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines()]


def _sleeper(argv0: str) -> subprocess.Popen:
  """A process whose command line starts with `argv0`."""
  return subprocess.Popen(['bash', '-c', f'exec -a "{argv0}" sleep 300'])


def test_the_launcher_trains_on_an_emulated_pod(tmp_path):
  env = _pod(tmp_path, 12433)
  # A run left over on worker 0, which the launcher started before, and a
  # stranger whose command line looks like ours.
  stale = _sleeper('python -m stylegan_seg_jax.train --stale')
  stranger = _sleeper('python -m stylegan_seg_jax.train --not-ours')
  (tmp_path / 'pod' / 'worker_0' / 'stylegan_seg_jax' / '.run.pid'
   ).write_text(str(stale.pid))
  workdir = tmp_path / 'run'
  try:
    proc = subprocess.run(
        ['bash', 'launch/tpu_pod.sh', 'fake-pod', 'zone-a', 'train',
         '--config=configs/tiny.py', f'--workdir={workdir}',
         '--config.num_steps=2', '--config.checkpoint_every=2'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    logs = tmp_path / 'logs'
    shown = {p.name: p.read_text()[-1500:] for p in logs.glob('*.log')}
    assert proc.returncode == 0, (proc.stderr, shown)
    assert stale.wait(timeout=10) is not None  # stopped by the setup
    assert stranger.poll() is None  # no pattern kill
  finally:
    for p in (stale, stranger):
      if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
  calls = _calls(tmp_path)
  option = lambda call, key: [a for a in call if a.startswith(f'--{key}=')]
  # describe, copy, then ONE setup call on every worker, which returned
  # before the runs (one ssh per worker) started.
  assert [c[3] for c in calls] == ['describe', 'scp', 'ssh', 'ssh', 'ssh']
  assert option(calls[1], 'worker') == option(calls[2], 'worker') == [
      '--worker=all']
  assert 'pod_worker.sh setup' in option(calls[2], 'command')[0]
  assert sorted(option(c, 'worker')[0] for c in calls[3:]) == [
      '--worker=0', '--worker=1']
  assert all('pod_worker.sh run train' in option(c, 'command')[0]
             for c in calls[3:])
  summaries = []
  for i in range(WORKERS):
    text = (logs / f'worker_{i}.log').read_text()
    summaries.append(json.loads([x for x in text.splitlines()
                                 if x.startswith('{')][-1]))
  assert [s['process'] for s in summaries] == [0, 1]
  assert summaries[0]['step'] == summaries[1]['step'] == 2
  assert summaries[0]['param_abs_sum'] == summaries[1]['param_abs_sum']
  steps = [json.loads(x)['step'] for x in
           (workdir / 'swav' / 'metrics.jsonl').read_text().splitlines()]
  assert steps == [1, 2]
  # The pod's two processes x two devices train as one process with four.
  single = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax.train',
       '--config=configs/tiny.py', f'--workdir={tmp_path / "one"}',
       '--config.num_steps=2'], cwd=ROOT, capture_output=True, text=True,
      env=subprocess_env(
          XLA_FLAGS='--xla_force_host_platform_device_count=4'))
  assert single.returncode == 0, single.stderr[-2000:]
  one = json.loads([x for x in single.stdout.splitlines()
                    if x.startswith('{')][-1])
  np.testing.assert_allclose(summaries[0]['param_abs_sum'],
                             one['param_abs_sum'], rtol=1e-5)
  np.testing.assert_allclose(summaries[0]['loss'], one['loss'], rtol=1e-4)
  # Each worker's run recorded its pid for the next launch.
  for i in range(WORKERS):
    pid = (tmp_path / 'pod' / f'worker_{i}' / 'stylegan_seg_jax' /
           '.run.pid').read_text().strip()
    assert pid.isdigit()


def test_a_missing_input_stops_the_launcher_before_any_worker(tmp_path):
  env = _pod(tmp_path, 12434)
  t0 = time.monotonic()
  proc = subprocess.run(
      ['bash', 'launch/tpu_pod.sh', 'fake-pod', 'zone-a', 'train',
       '--config=configs/tiny.py', f'--workdir={tmp_path / "run"}',
       f'--config.generator_dir={tmp_path / "missing"}'],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 1
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith('train: error: --config.generator_dir=')
  assert 'does not exist' in last
  assert _calls(tmp_path) == []
  assert time.monotonic() - t0 < 60
