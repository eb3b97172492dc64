"""launch/tpu_pod.sh end to end on an emulated pod: a fake `gcloud` on PATH
runs each worker as a separate process in its own home directory, the
workers run with jax.distributed (gloo, two CPU devices each), and the
workdir is a bucket of a local Cloud Storage emulator (`gs://...`).

The whole chain runs through the launcher as docs/pod.md gives it: SwAV,
killed on both workers mid-run and resumed by both from the same
checkpoint, ends where one uninterrupted process with four devices ends;
the one-shot stage trains; `evaluate` writes one `eval/` equal to one
process's; `generate`, killed and rerun, leaves a dataset that plain tfds
reads from the bucket, every seed exactly once. Also: the launcher frees
the workers without killing anything but the run it started before (its
pid file; a process whose command line merely looks like ours survives, and
so does the launcher itself), and a missing input stops it before any
worker is touched.
"""

import io
import json
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.launch import gcs_emulator

pytestmark = pytest.mark.slow

WORKERS = 2
FAKE = pathlib.Path(__file__).with_name('fake_gcloud.py')
BUCKET = 'pod-bucket'
METHODS = 'ours,datasetgan'


def _documented_calls() -> list[tuple[str, list[str]]]:
  """The launcher calls of docs/pod.md section 2: (module, the flags after
  `$FLAGS`), in order."""
  text = (ROOT / 'docs' / 'pod.md').read_text()
  block = text.split('## 2. One command per stage', 1)[1]
  block = block.split('```bash\n', 1)[1].split('```', 1)[0]
  calls = []
  for line in block.replace('\\\n', ' ').splitlines():
    words = shlex.split(line, comments=True)
    if words[:2] == ['bash', 'launch/tpu_pod.sh']:
      assert words[5] == '$FLAGS', line
      calls.append((words[4], words[6:]))
  return calls


def _as_tested(flags: list[str], values: dict[str, str]) -> list[str]:
  """`flags` with the values of the flags named in `values` replaced (each
  must be there)."""
  keys = [flag[2:].split('=', 1)[0] for flag in flags]
  assert set(values) <= set(keys), (flags, values)
  return [f'--{key}={values[key]}' if key in values else flag
          for key, flag in zip(keys, flags)]


def _pod(tmp_path: pathlib.Path, port: int,
         storage: dict[str, str] | None = None) -> dict[str, str]:
  """The environment that puts the fake gcloud on PATH for a new pod
  (`storage`: the bucket emulator's, for the launcher and every worker)."""
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
  env.update(storage or {})
  env.update(PATH=f'{bin_dir}:{env["PATH"]}', FAKE_POD_ROOT=str(root),
             FAKE_POD_WORKERS=str(WORKERS), FAKE_POD_PORT=str(port),
             FAKE_POD_ENV=json.dumps({
                 'XLA_FLAGS': '--xla_force_host_platform_device_count=2',
                 'JAX_PLATFORMS': 'cpu', **(storage or {})}),
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


def _launch(env, module, flags, *, wait=True):
  cmd = ['bash', 'launch/tpu_pod.sh', 'fake-pod', 'zone-a', module, *flags]
  if not wait:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
  proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=600)
  logs = pathlib.Path(env['LOG_DIR'])
  shown = {p.name: p.read_text()[-2000:] for p in logs.glob('*.log')}
  assert proc.returncode == 0, (module, proc.stderr[-2000:], shown)
  return proc


def _summaries(env):
  """Each worker's last JSON line (its tool's summary)."""
  out = []
  for i in range(WORKERS):
    text = (pathlib.Path(env['LOG_DIR']) / f'worker_{i}.log').read_text()
    out.append(json.loads([x for x in text.splitlines()
                           if x.startswith('{')][-1]))
  return out


def _kill_when(tmp_path, proc, ready, what):
  """SIGKILLs every worker's tool (their pid files) once `ready()`; the
  launcher must then report the failure."""
  deadline = time.monotonic() + 300
  while not ready():
    assert proc.poll() is None, (what, 'ended before the kill',
                                 proc.communicate())
    assert time.monotonic() < deadline, what
    time.sleep(0.1)
  for i in range(WORKERS):
    pid = int((tmp_path / 'pod' / f'worker_{i}' / 'stylegan_seg_jax' /
               '.run.pid').read_text())
    try:
      os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
      pass
  proc.communicate(timeout=120)
  assert proc.returncode == 1, what


def _one_process(module, flags):
  proc = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax', module, *flags], cwd=ROOT,
      capture_output=True, text=True, env=subprocess_env(
          XLA_FLAGS='--xla_force_host_platform_device_count=4'))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout


def test_the_whole_chain_on_an_emulated_pod_with_a_bucket_workdir(
    tmp_path, monkeypatch):
  with gcs_emulator.running(12440, BUCKET) as storage:
    for key, value in storage.items():
      monkeypatch.setenv(key, value)
    import fsspec  # pylint: disable=g-import-not-at-top
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    bucket = fsspec.filesystem('gs', skip_instance_cache=True,
                               use_listings_cache=False)
    committed = lambda prefix: sorted(
        int(p.split('/')[-2]) for p in bucket.glob(
            f'{BUCKET}/{prefix}/*/commit_success.txt'))
    env = _pod(tmp_path, 12433, storage)
    run = f'gs://{BUCKET}/run'
    common = ['--config=configs/tiny.py', f'--workdir={run}']

    # 1. SwAV on the pod, killed on both workers after its third checkpoint.
    # A run left over on worker 0, which the launcher started before, and a
    # stranger whose command line looks like ours.
    stale = _sleeper('python -m stylegan_seg_jax train --stale')
    stranger = _sleeper('python -m stylegan_seg_jax train --not-ours')
    (tmp_path / 'pod' / 'worker_0' / 'stylegan_seg_jax' / '.run.pid'
     ).write_text(str(stale.pid))
    # The calls docs/pod.md gives, with the tiny config's sizes.
    doc = _documented_calls()
    assert [module for module, _ in doc] == [
        'train', 'train', 'evaluate', 'generate']
    swav = [*common, *_as_tested(doc[0][1], {'config.batch_size': '8'}),
            '--config.num_steps=10', '--config.checkpoint_every=1']
    try:
      proc = _launch(env, 'train', swav, wait=False)
      _kill_when(tmp_path, proc,
                 lambda: max(committed('run/swav/checkpoints'), default=0) >= 3,
                 'swav')
      assert stale.wait(timeout=10) is not None  # stopped by the setup
      assert stranger.poll() is None  # no pattern kill
    finally:
      for p in (stale, stranger):
        if p.poll() is None:
          p.send_signal(signal.SIGKILL)
          p.wait()
    saved = max(committed('run/swav/checkpoints'))
    assert 3 <= saved < 10, saved
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

    # Relaunched: both workers resume from the same (newest) checkpoint
    # and end where one uninterrupted process with four devices ends.
    _launch(env, 'train', swav)
    a, b = _summaries(env)
    assert [a['process'], b['process']] == [0, 1]
    assert a['resumed_from'] == b['resumed_from'] >= saved
    assert a['step'] == b['step'] == 10
    assert a['param_abs_sum'] == b['param_abs_sum']
    one = json.loads(_one_process('train', [
        '--config=configs/tiny.py', f'--workdir={tmp_path / "one"}',
        '--config.stage=swav', '--config.num_steps=10']).splitlines()[-1])
    np.testing.assert_allclose(a['param_abs_sum'], one['param_abs_sum'],
                               rtol=1e-5)
    np.testing.assert_allclose(a['loss'], one['loss'], rtol=1e-4)
    steps = [json.loads(x)['step'] for x in bucket.cat_file(
        f'{BUCKET}/run/swav/metrics.jsonl').decode().splitlines()]
    # (Rows after the last flush before the kill are lost; the rerun's are
    # all there.)
    first = a['resumed_from'] + 1
    assert steps[-(11 - first):] == list(range(first, 11)), steps

    # 2. The one-shot heads, 3. the evaluation, in the bucket.
    steps = '--config.oneshot.num_steps=6'
    tested = lambda i: _as_tested(
        doc[i][1], {'config.oneshot.methods': METHODS})
    _launch(env, 'train', [*common, *tested(1), steps])
    assert committed('run/oneshot/ours/checkpoints')[-1] == 6
    _launch(env, 'evaluate', [*common, *tested(2), steps])
    pod_eval = json.loads(bucket.cat_file(f'{BUCKET}/run/eval/metrics.json'))
    assert not bucket.glob(f'{BUCKET}/run/.eval.*')  # no scratch left
    local = tmp_path / 'downloaded'
    for obj in bucket.find(f'{BUCKET}/run'):  # (one by one: the emulator
      target = local / obj[len(f'{BUCKET}/run/'):]  # stalls on parallel gets)
      target.parent.mkdir(parents=True, exist_ok=True)
      target.write_bytes(bucket.cat_file(obj))
    shutil.rmtree(local / 'eval')  # the reference writes its own
    local_eval = local / 'eval' / 'metrics.json'
    _one_process('evaluate', ['--config=configs/tiny.py', *tested(2), steps,
                              f'--workdir={local}'])
    ref = json.loads(local_eval.read_text())
    assert pod_eval['processes'] == 2 and ref['processes'] == 1
    assert pod_eval['devices'] == ref['devices'] == 4
    for name in METHODS.split(','):
      for key, value in ref['methods'][name].items():
        if key not in ('images_per_s', 'seconds'):
          assert pod_eval['methods'][name][key] == value, (name, key)
      with bucket.open(f'{BUCKET}/run/eval/{name}_predictions.npz') as f:
        pa = dict(np.load(io.BytesIO(f.read())))
      pb = np.load(local / 'eval' / f'{name}_predictions.npz')
      for key in pb.files:
        np.testing.assert_array_equal(pa[key], pb[key])

    # 4. The dataset, killed once two shards are in the bucket, rerun.
    out = f'gs://{BUCKET}/dataset'
    gen = [*common, *_as_tested(doc[3][1], {
        'config.oneshot.methods': METHODS, 'num_samples': '480', 'out': out}),
           steps, '--config.generate.shard_size=24',
           '--config.generate.batch_size=8']
    shards = lambda: bucket.glob(f'{BUCKET}/dataset/*.array_record-*')
    proc = _launch(env, 'generate', gen, wait=False)
    _kill_when(tmp_path, proc, lambda: len(shards()) >= 2, 'generate')
    assert 2 <= len(shards()) < 20
    _launch(env, 'generate', gen)
    source = tfds.builder_from_directory(out).as_data_source('train')
    seeds = sorted(int(source[i]['seed']) for i in range(len(source)))
    assert seeds == list(range(480))


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
