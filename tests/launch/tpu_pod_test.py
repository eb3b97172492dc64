"""docs/pod.md's commands, run as printed, on an emulated pod.

A fake `gcloud` on PATH (tests/launch/fake_gcloud.py) runs each worker as a
separate process in its own home directory, the workers run with
jax.distributed (gloo, two CPU devices each), and the bucket is a local
Cloud Storage emulator. The command lines come from docs/pod.md sections 2
to 6; the test changes them by the rule of `_substitutions` and nothing
else (appending only step counts and checkpoint intervals small enough to
kill a run mid-way), so the page and the test cannot drift apart.

The chain: the slice is created through a queued resource (Spot); the
inputs are uploaded by the page's one command; SwAV is preempted after its
third checkpoint and `resume` recreates the slice and resumes both workers
from the same step, ending where one uninterrupted process with four
devices ends; the one-shot heads train; `evaluate` writes one `eval/`
equal to one process's; `generate`, stopped with `stop` and rerun, leaves a
dataset that plain tfds reads from the bucket, every seed exactly once;
`status`, `logs`, `fetch` and `delete` do what the page says. Along the
way: the setup stops the run the launcher started before on a worker but
not a process whose command line merely looks like ours, and a start that
gcloud runs twice (its retry after an ssh failure) starts one run.
"""

import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.launch import documented
from tests.launch import gcs_emulator

pytestmark = pytest.mark.slow

WORKERS = 2
FAKE = pathlib.Path(__file__).with_name('fake_gcloud.py')
BUCKET = 'pod-bucket'
METHOD = 'ours'  # the page's
NUM_SAMPLES = 960


def _substitutions(inputs: dict[str, pathlib.Path]) -> dict[str, str]:
  """The rule: what the test replaces in the page's commands (each must
  occur there): the bucket, the config, the three inputs and the sizes."""
  return {
      'gs://my-bucket': f'gs://{BUCKET}',
      'configs/ffhq256.py': 'configs/tiny.py',
      '.venv/bin/stylegan-seg convert --src=ffhq.pkl --out=':
          f'cp -r {inputs["generator"]} ',
      'workdirs/ffhq256/labels': str(inputs['labels']),
      'data/labelled_samples/ffhq/1.0.0': str(inputs['test_set']),
      '--num_samples=1000000': f'--num_samples={NUM_SAMPLES}',
      '--config.batch_size=16': '--config.batch_size=8',
  }


def _pod(tmp_path: pathlib.Path, port: int, storage: dict[str, str],
         home: pathlib.Path) -> dict[str, str]:
  """The environment of the launching machine: the fake gcloud on PATH,
  HOME (its ssh key and agent are the test's), logs outside the checkout,
  and what the fake pod gives its workers."""
  root = tmp_path / 'pod'
  root.mkdir()
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  gcloud = bin_dir / 'gcloud'
  gcloud.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
  gcloud.chmod(0o755)
  env = {k: v for k, v in os.environ.items()
         if k not in ('PYTHONPATH', 'XLA_FLAGS', 'JAX_PLATFORMS',
                      'SSH_AUTH_SOCK', 'SSH_AGENT_PID')}
  env.update(storage)
  env.update(PATH=f'{bin_dir}:{env["PATH"]}', HOME=str(home),
             FAKE_POD_ROOT=str(root), FAKE_POD_WORKERS=str(WORKERS),
             FAKE_POD_PORT=str(port), FAKE_POD_VENV=str(ROOT / '.venv'),
             FAKE_POD_ENV=json.dumps({
                 'XLA_FLAGS': '--xla_force_host_platform_device_count=2',
                 'JAX_PLATFORMS': 'cpu', **storage}),
             ACCELERATOR='cpu', LOG_DIR=str(tmp_path / 'logs'),
             POLL_SECONDS='1')
  return env


def _ssh_agent(home: pathlib.Path) -> tuple[dict[str, str], int]:
  """gcloud's key in HOME and a running agent holding it: (env, pid)."""
  key = home / '.ssh' / 'google_compute_engine'
  key.parent.mkdir(parents=True)
  subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f',
                  str(key)], check=True)
  out = subprocess.run(['ssh-agent', '-s'], capture_output=True, text=True,
                       check=True).stdout
  env = dict(re.findall(r'(SSH_AUTH_SOCK|SSH_AGENT_PID)=([^;]+);', out))
  subprocess.run(['ssh-add', '-q', str(key)], env={**os.environ, **env},
                 check=True, capture_output=True)
  return env, int(env['SSH_AGENT_PID'])


def _calls(tmp_path):
  path = tmp_path / 'pod' / 'calls.jsonl'
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines()]


def _sleeper(argv0: str) -> subprocess.Popen:
  """A process whose command line starts with `argv0`."""
  return subprocess.Popen(['bash', '-c', f'exec -a "{argv0}" sleep 300'])


def _run(env, script, **kwargs):
  return documented.run(env, script, logs=pathlib.Path(env['LOG_DIR']),
                        **kwargs)


def _summaries(env):
  """Each worker's last JSON line (its tool's summary)."""
  out = []
  for i in range(WORKERS):
    text = (pathlib.Path(env['LOG_DIR']) / f'worker_{i}.log').read_text()
    out.append(json.loads([x for x in text.splitlines()
                           if x.startswith('{')][-1]))
  return out


def _wait_for(proc, ready, what):
  deadline = time.monotonic() + 400
  while not ready():
    assert proc.poll() is None, (what, 'ended early', proc.communicate())
    assert time.monotonic() < deadline, what
    time.sleep(0.1)


def _tool_pids(tmp_path) -> list[int]:
  return [int((tmp_path / 'pod' / f'worker_{i}' / 'stylegan_seg_jax' /
               '.run.pid').read_text().split()[0]) for i in range(WORKERS)]


def _identity(pid: int, start_time: str | None = None) -> str:
  """What pod_worker.sh records of a process: its pid and start time."""
  stat = pathlib.Path(f'/proc/{pid}/stat').read_text()
  return f'{pid} {start_time or stat.rsplit(")", 1)[1].split()[19]}\n'



def _preempt(tmp_path) -> None:
  """What a preemption does: the slice's state, and every process of its
  workers gone at once (the supervisor first, so no exit status is
  written)."""
  path = tmp_path / 'pod' / 'slice.json'
  s = json.loads(path.read_text())
  path.write_text(json.dumps({**s, 'state': 'PREEMPTED'}))
  for pid in _tool_pids(tmp_path):
    parent = int(pathlib.Path(f'/proc/{pid}/stat').read_text().rsplit(
        ')', 1)[1].split()[1])
    for p in (parent, pid):
      try:
        os.kill(p, signal.SIGKILL)
      except ProcessLookupError:
        pass


def _one_process(module, flags):
  proc = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax', module, *flags], cwd=ROOT,
      capture_output=True, text=True, env=subprocess_env(
          XLA_FLAGS='--xla_force_host_platform_device_count=4'))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout


def test_the_documented_pod_commands_on_an_emulated_pod(tmp_path, monkeypatch):
  inputs = documented.stand_ins(tmp_path)
  doc = documented.command_lines('pod.md', _substitutions(inputs), '23456')
  home = tmp_path / 'home'
  agent_env, agent = _ssh_agent(home)
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
    env = {**_pod(tmp_path, 12433, storage, home), **agent_env}
    try:
      _chain(tmp_path, env, doc, bucket, committed, tfds)
    finally:
      os.kill(agent, signal.SIGTERM)


def _chain(tmp_path, env, doc, bucket, committed, tfds):
  work = tmp_path / 'pod'
  # 2. The slice, on Spot capacity, through a queued resource.
  [create] = doc['2']
  _run({**env, 'SPOT': '1'}, create)
  calls = _calls(tmp_path)
  assert calls[0][:4] == ['compute', 'tpus', 'queued-resources', 'create']
  assert '--spot' in calls[0] and '--accelerator-type=v4-32' in calls[0]
  assert '--runtime-version=tpu-ubuntu2204-base' in calls[0]

  # 3. The inputs, by the page's one upload command.
  _run(env, '\n'.join(doc['3']))
  for obj in ('generators/ffhq/generator.json', 'labels/ffhq/example.npz',
              'test_sets/ffhq/dataset_info.json'):
    assert bucket.exists(f'{BUCKET}/{obj}'), obj

  # 4. The stages. SwAV is preempted after its third checkpoint. A run left
  # over on worker 0, which the launcher started before, and a stranger
  # whose command line looks like ours.
  setup, *launches = doc['4']
  setup = [line for line in [*doc['3'], setup] if line.startswith(
      ('B=', 'FLAGS='))]
  assert [line.split()[4] for line in launches] == [
      'train', 'train', 'evaluate', 'generate']
  flags = documented.flag_list(env, setup)
  run = f'gs://{BUCKET}/runs/ffhq256'
  assert f'--workdir={run}' in flags
  script = lambda line, *extra: '\n'.join([*setup, ' '.join([line, *extra])])
  stale = _sleeper('python -m stylegan_seg_jax train --stale')
  stranger = _sleeper('python -m stylegan_seg_jax train --not-ours')
  (work / 'worker_0' / 'stylegan_seg_jax' / '.run.pid').write_text(
      _identity(stale.pid))
  swav = script(launches[0], '--config.num_steps=10',
                '--config.checkpoint_every=1')
  try:
    proc = _run(env, swav, wait=False)
    _wait_for(proc, lambda: max(committed('runs/ffhq256/swav/checkpoints'),
                                default=0) >= 3, 'swav')
    assert stale.wait(timeout=10) is not None  # stopped by the setup
    assert stranger.poll() is None  # no pattern kill
  finally:
    for p in (stale, stranger):
      if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
  _preempt(tmp_path)
  out, err = proc.communicate(timeout=120)
  assert proc.returncode == 1, (out, err)
  assert 'is PREEMPTED' in err and 'resume' in err.strip().splitlines()[-1]
  saved = max(committed('runs/ffhq256/swav/checkpoints'))
  assert 3 <= saved < 10, saved
  calls = _calls(tmp_path)
  verbs = [c[3] for c in calls if c[:3] == ['compute', 'tpus', 'tpu-vm']]
  option = lambda call, key: [a for a in call if a.startswith(f'--{key}=')]
  ssh = [c for c in calls if c[3:4] == ['ssh']]
  # describe, copy, then ONE setup call on every worker, invoked before the
  # per-worker starts.
  assert verbs[:5] == ['describe', 'scp', 'ssh', 'ssh', 'ssh'], verbs
  assert option(ssh[0], 'worker') == ['--worker=all']
  assert 'pod_worker.sh setup' in option(ssh[0], 'command')[0]
  assert sorted(option(c, 'worker')[0] for c in ssh[1:3]) == [
      '--worker=0', '--worker=1']
  assert all('pod_worker.sh start' in option(c, 'command')[0]
             for c in ssh[1:3])

  # 5. resume: the slice is recreated and set up again; both workers resume
  # from the same (newest) checkpoint and end where one uninterrupted
  # process with four devices ends. Every start is run twice by the fake
  # gcloud from here on (its retry): one run per worker regardless.
  env = {**env, 'FAKE_POD_RETRY_START': '1'}
  status, logs, stop, resume = doc['5']
  proc = _run(env, resume)
  assert 'already started here' in proc.stdout
  queued = [c[3] for c in _calls(tmp_path)
            if c[:3] == ['compute', 'tpus', 'queued-resources']]
  assert queued[-5:] == ['describe', 'delete', 'create', 'describe',
                         'describe'], queued  # WAITING, then ACTIVE
  a, b = _summaries(env)
  assert [a['process'], b['process']] == [0, 1]
  assert a['resumed_from'] == b['resumed_from'] >= saved
  assert a['step'] == b['step'] == 10
  assert a['param_abs_sum'] == b['param_abs_sum']
  one = json.loads(_one_process('train', [
      *flags, f'--workdir={tmp_path / "one"}', '--config.stage=swav',
      '--config.batch_size=8', '--config.num_steps=10']).splitlines()[-1])
  np.testing.assert_allclose(a['param_abs_sum'], one['param_abs_sum'],
                             rtol=1e-5)
  np.testing.assert_allclose(a['loss'], one['loss'], rtol=1e-4)

  # The one-shot heads and the evaluation, in the bucket.
  steps = '--config.oneshot.num_steps=6'
  _run(env, script(launches[1], steps))
  assert committed('runs/ffhq256/oneshot/ours/checkpoints')[-1] == 6
  _run(env, script(launches[2], steps))
  pod_eval = json.loads(bucket.cat_file(f'{BUCKET}/runs/ffhq256/eval/'
                                        'metrics.json'))
  assert not bucket.glob(f'{BUCKET}/runs/ffhq256/.eval.*')  # no scratch
  local = tmp_path / 'downloaded'
  for obj in bucket.find(f'{BUCKET}/runs/ffhq256'):  # (one by one: the
    target = local / obj[len(f'{BUCKET}/runs/ffhq256/'):]  # emulator stalls
    target.parent.mkdir(parents=True, exist_ok=True)  # on parallel gets)
    target.write_bytes(bucket.cat_file(obj))
  shutil.rmtree(local / 'eval')  # the reference writes its own
  _one_process('evaluate', [*flags, f'--workdir={local}',
                            f'--config.oneshot.methods={METHOD}', steps])
  ref = json.loads((local / 'eval' / 'metrics.json').read_text())
  assert pod_eval['processes'] == 2 and ref['processes'] == 1
  assert pod_eval['devices'] == ref['devices'] == 4
  for name in [METHOD]:
    for key, value in ref['methods'][name].items():
      if key not in ('images_per_s', 'seconds'):
        assert pod_eval['methods'][name][key] == value, (name, key)
    with bucket.open(f'{BUCKET}/runs/ffhq256/eval/{name}_predictions.npz'
                     ) as f:
      pa = dict(np.load(io.BytesIO(f.read())))
    pb = np.load(local / 'eval' / f'{name}_predictions.npz')
    for key in pb.files:
      np.testing.assert_array_equal(pa[key], pb[key])

  # The dataset, stopped with `stop` once two shards are in the bucket,
  # then rerun.
  gen = script(launches[3], steps, '--config.generate.shard_size=8',
               '--config.generate.batch_size=8')
  shards = lambda: bucket.glob(
      f'{BUCKET}/datasets/ffhq_1m/*.array_record-*')
  proc = _run(env, gen, wait=False)
  _wait_for(proc, lambda: len(shards()) >= 2, 'generate')
  _run(env, stop)
  out, err = proc.communicate(timeout=120)
  assert proc.returncode == 1, (out, err)
  assert 'worker 0 failed' in err
  assert 2 <= len(shards()) < NUM_SAMPLES // 8
  _run(env, gen)
  source = tfds.builder_from_directory(
      f'gs://{BUCKET}/datasets/ffhq_1m').as_data_source('train')
  seeds = sorted(int(source[i]['seed']) for i in range(len(source)))
  assert seeds == list(range(NUM_SAMPLES))
  shown = _run(env, status).stdout.splitlines()
  assert [re.sub(r'run=\S+ ', '', x) for x in shown] == [
      f'worker={i} state=exited code=0' for i in range(WORKERS)]
  tails = _run(env, logs).stdout
  assert tails.count(f'"out": "gs://{BUCKET}/datasets/ffhq_1m"') == WORKERS
  assert '"complete": true' in tails  # worker 0's, which writes the metadata
  # One run per launch on each worker since the slice was recreated
  # (resumed SwAV, heads, evaluation, generation twice), despite the
  # doubled starts.
  for i in range(WORKERS):
    text = (work / f'worker_{i}' / 'stylegan_seg_jax' / 'logs' / 'run.log'
            ).read_text()
    assert text.count(f'on worker {i}: ') == 5, text[-3000:]

  # 6. Results and teardown.
  fetch, delete = doc['6']
  _run(env, '\n'.join([*setup, fetch]))
  fetched = tmp_path / 'home' / 'pod_results' / 'eval' / 'metrics.json'
  assert json.loads(fetched.read_text()) == pod_eval
  _run(env, delete)
  assert not (work / 'slice.json').exists()


def _check_only_env(tmp_path: pathlib.Path) -> dict[str, str]:
  env = _pod(tmp_path, 12434, {}, tmp_path / 'home')
  return {**env, 'WORKERS': '2'}


def _refused(env, *flags, status=1) -> str:
  t0 = time.monotonic()
  proc = subprocess.run(
      ['bash', 'launch/tpu_pod.sh', 'fake-pod', 'zone-a', 'train',
       '--config=configs/tiny.py', *flags],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
  assert proc.returncode == status, proc.stderr
  assert time.monotonic() - t0 < 60
  return proc.stderr.strip().splitlines()[-1]


def test_a_missing_input_stops_the_launcher_before_any_worker(tmp_path):
  env = _check_only_env(tmp_path)
  last = _refused(env, f'--workdir={tmp_path / "run"}',
                  f'--config.generator_dir={tmp_path / "missing"}')
  assert last.startswith('train: error: --config.generator_dir=')
  assert 'does not exist' in last
  assert _calls(tmp_path) == []


def test_a_relative_path_stops_the_launcher_before_any_worker(tmp_path):
  env = _check_only_env(tmp_path)
  last = _refused(env, f'--workdir={tmp_path / "run"}',
                  '--config.data.test_set=data/labelled_samples/x/1.0.0')
  assert last.startswith("train: error: --config.data.test_set='data/")
  assert 'relative local path in a multi-host run' in last
  assert _refused(env, '--workdir=runs/x').startswith(
      "train: error: --workdir='runs/x' is a relative local path")
  assert _calls(tmp_path) == []


def test_a_key_missing_from_the_ssh_agent_stops_the_launcher(tmp_path):
  env = _check_only_env(tmp_path)
  home = tmp_path / 'home'
  key = home / '.ssh' / 'google_compute_engine'
  key.parent.mkdir(parents=True)
  subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f',
                  str(key)], check=True)
  last = _refused(env, f'--workdir={tmp_path / "run"}')
  assert last.startswith('tpu_pod: error: the ssh key')
  assert f'ssh-add {key}' in last
  assert _calls(tmp_path) == []  # WORKERS is set: not even a describe
  key.unlink()
  key.with_suffix('.pub').unlink()
  assert 'no ssh key' in _refused(env, f'--workdir={tmp_path / "run"}')


def test_setup_skips_a_release_candidate_python(tmp_path):
  # A Python that says it is 3.11.0rc1 (Ubuntu 22.04's apt python3.11).
  (tmp_path / 'sitecustomize.py').write_text(
      'import collections, sys\n'
      "V = collections.namedtuple('V', 'major minor micro releaselevel "
      "serial')\n"
      "sys.version_info = V(3, 11, 0, 'candidate', 1)\n")
  rc = tmp_path / 'python3.11rc'
  rc.write_text(f'#!/bin/sh\nPYTHONPATH={tmp_path} exec {sys.executable} '
                '"$@"\n')
  rc.chmod(0o755)
  find = lambda python: subprocess.run(
      ['bash', 'launch/pod_worker.sh', 'find-python'], cwd=ROOT,
      capture_output=True, text=True,
      env={**os.environ, 'PYTHON': str(python)}).stdout.strip()
  assert find(sys.executable) == sys.executable
  chosen = find(rc)
  assert chosen and chosen != str(rc)
  check = subprocess.run([chosen, '-c', 'import sys; print('
                          'sys.version_info.releaselevel)'],
                         capture_output=True, text=True).stdout.strip()
  assert check == 'final'


def test_internal_ip_iap_and_the_key_reach_every_ssh(tmp_path):
  root = tmp_path / 'pod'
  env = _check_only_env(tmp_path)
  (root / 'slice.json').write_text(json.dumps({
      'name': 'fake-pod', 'state': 'READY', 'queued': False,
      'describes': 0, 'options': {}}))
  for i in range(WORKERS):
    code = root / f'worker_{i}' / 'stylegan_seg_jax'
    code.mkdir(parents=True)
    (code / 'launch').symlink_to(ROOT / 'launch')
  key = str(tmp_path / 'key')
  for extra, want in (
      ({'INTERNAL_IP': '1'}, ['compute', '--internal-ip']),
      # (gcloud takes one or the other: the tunnel reaches internal IPs.)
      ({'INTERNAL_IP': '1', 'IAP': '1'}, ['alpha', '--tunnel-through-iap']),
      ({'SSH_KEY': key}, ['compute', f'--ssh-key-file={key}'])):
    (root / 'calls.jsonl').unlink(missing_ok=True)
    proc = subprocess.run(['bash', 'launch/tpu_pod.sh', 'fake-pod',
                           'zone-a', 'status'], cwd=ROOT,
                          env={**env, **extra}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        'worker=? run=none state=none'] * WORKERS
    [call] = _calls(tmp_path)
    assert call[0] == want[0] and 'ssh' in call, call
    flags = {a for a in call if a.startswith('--')} - {
        '--zone=zone-a', '--worker=all'}
    assert flags - {a for a in flags if a.startswith('--command=')} == set(
        want[1:]), call


def test_stop_kills_only_the_recorded_process(tmp_path):
  """A pid file whose pid now belongs to another process (same pid, other
  start time: the machine restarted) stops nothing; the recorded one is
  stopped."""
  code = tmp_path / 'stylegan_seg_jax'
  code.mkdir()
  (code / 'launch').symlink_to(ROOT / 'launch')
  ours = _sleeper('python -m stylegan_seg_jax train --ours')
  try:
    time.sleep(0.2)
    stop = lambda: subprocess.run(
        ['bash', 'launch/pod_worker.sh', 'stop'], cwd=code,
        capture_output=True, text=True, timeout=60)
    (code / '.run.pid').write_text(_identity(ours.pid, '1'))
    assert stop().returncode == 0
    assert ours.poll() is None
    (code / '.run.pid').write_text(_identity(ours.pid))
    assert 'stopping the previous run' in stop().stdout
    assert ours.wait(timeout=30) is not None
  finally:
    if ours.poll() is None:
      ours.kill()
