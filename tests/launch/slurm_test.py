"""docs/slurm.md's commands, run as printed, on an emulated SLURM job.

Stand-ins for `sbatch --wait` and `srun` (tests/launch/fake_slurm.py) run
the job script and start one process per task on this machine with the
environment SLURM gives a job step; jax's own SLURM detection joins them
(gloo collectives, two CPU devices each). The command lines come from
docs/slurm.md section 3, changed by the rule of `_substitutions` and
nothing else (the job's size on sbatch's command line; appended step
counts and checkpoint intervals).
"""

import json
import os
import pathlib
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

pytestmark = pytest.mark.slow

FAKE = pathlib.Path(__file__).with_name('fake_slurm.py')
TASKS = 2
NUM_SAMPLES = 96


def _substitutions(shared: pathlib.Path) -> dict[str, str]:
  """The rule: the shared directory, the config, the sizes, the job."""
  return {
      '/shared/stylegan_seg': str(shared),
      'configs/ffhq256.py': 'configs/tiny.py',
      '--config.batch_size=16': '--config.batch_size=8',
      '--num_samples=1000000': f'--num_samples={NUM_SAMPLES}',
      'sbatch --wait launch/slurm.sbatch':
          f'sbatch --wait --nodes=1 --ntasks-per-node={TASKS} '
          'launch/slurm.sbatch',
  }


def _cluster(tmp_path: pathlib.Path) -> dict[str, str]:
  root = tmp_path / 'slurm'
  root.mkdir()
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  for verb in ('sbatch', 'srun'):
    (bin_dir / verb).write_text(
        f'#!/bin/sh\nexec {sys.executable} {FAKE} {verb} "$@"\n')
    (bin_dir / verb).chmod(0o755)
  env = {k: v for k, v in os.environ.items()
         if k not in ('PYTHONPATH', 'XLA_FLAGS', 'JAX_PLATFORMS')}
  env.update(PATH=f'{bin_dir}:{env["PATH"]}', FAKE_SLURM_ROOT=str(root),
             FAKE_SLURM_JOB_ID=str(7000 + os.getpid() % 1000),
             FAKE_SLURM_ENV=json.dumps({
                 'XLA_FLAGS': '--xla_force_host_platform_device_count=2',
                 'JAX_PLATFORMS': 'cpu'}))
  return env


def _summaries(stdout: str) -> list[dict]:
  rows = [json.loads(x) for x in stdout.splitlines() if x.startswith('{')]
  return sorted(rows, key=lambda r: r['process'])


def test_the_documented_slurm_jobs_on_an_emulated_cluster(tmp_path):
  shared = tmp_path / 'shared'
  inputs = documented.stand_ins(tmp_path)
  for name, src in (('generators', inputs['generator']),
                    ('labels', inputs['labels']),
                    ('test_sets', inputs['test_set'])):
    shutil.copytree(src, shared / name / 'ffhq')
  lines = documented.command_lines('slurm.md', _substitutions(shared),
                                   '3')['3']
  setup = [line for line in lines if line.startswith(('W=', 'FLAGS='))]
  jobs = [line for line in lines if line.startswith('sbatch')]
  assert len(setup) + len(jobs) == len(lines), lines
  assert [line.split()[5] for line in jobs] == [
      'train', 'train', 'evaluate', 'generate']
  env = _cluster(tmp_path)
  script = lambda line, *extra: '\n'.join([*setup, ' '.join([line, *extra])])
  flags = documented.flag_list(env, setup)
  run = shared / 'runs' / 'ffhq256'
  checkpoints = lambda: sorted(
      int(p.parent.name) for p in (run / 'swav' / 'checkpoints').glob(
          '*/commit_success.txt'))

  # SwAV, one process killed after the third checkpoint: the job fails at
  # once (srun ends the other task).
  swav = script(jobs[0], '--config.num_steps=10',
                '--config.checkpoint_every=1')
  proc = documented.run(env, swav, wait=False)
  deadline = time.monotonic() + 300
  while max(checkpoints(), default=0) < 3:
    assert proc.poll() is None, proc.communicate()
    assert time.monotonic() < deadline
    time.sleep(0.1)
  pid = int((tmp_path / 'slurm' / 'task_1.pid').read_text())
  os.kill(pid, signal.SIGKILL)
  t0 = time.monotonic()
  out, err = proc.communicate(timeout=120)
  assert proc.returncode != 0, (out, err)
  assert time.monotonic() - t0 < 60  # not a collective's timeout
  saved = max(checkpoints())
  assert 3 <= saved < 10, saved

  # Submitted again: both processes resume from the same checkpoint and end
  # where one uninterrupted process with four devices ends.
  a, b = _summaries(documented.run(env, swav).stdout)
  assert [a['process'], b['process']] == [0, 1]
  assert a['resumed_from'] == b['resumed_from'] >= saved
  assert a['step'] == b['step'] == 10
  assert a['param_abs_sum'] == b['param_abs_sum']
  one = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax', 'train', *flags,
       f'--workdir={tmp_path / "one"}', '--config.stage=swav',
       '--config.batch_size=8', '--config.num_steps=10'], cwd=ROOT,
      capture_output=True, text=True, env=subprocess_env(
          XLA_FLAGS='--xla_force_host_platform_device_count=4'))
  assert one.returncode == 0, one.stderr[-3000:]
  ref = json.loads(one.stdout.splitlines()[-1])
  np.testing.assert_allclose(a['param_abs_sum'], ref['param_abs_sum'],
                             rtol=1e-5)

  # The head, the evaluation and the dataset as jobs.
  steps = '--config.oneshot.num_steps=6'
  documented.run(env, script(jobs[1], steps))
  documented.run(env, script(jobs[2], steps))
  metrics = json.loads((run / 'eval' / 'metrics.json').read_text())
  assert metrics['processes'] == TASKS and metrics['devices'] == 2 * TASKS
  documented.run(env, script(jobs[3], steps, '--config.generate.shard_size=24'))
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  source = tfds.builder_from_directory(
      str(shared / 'datasets' / 'ffhq_1m')).as_data_source('train')
  assert sorted(int(source[i]['seed']) for i in range(len(source))) == list(
      range(NUM_SAMPLES))


def test_a_task_outside_srun_is_refused(tmp_path):
  env = {k: v for k, v in os.environ.items() if not k.startswith('SLURM_')}
  proc = subprocess.run(['bash', 'launch/slurm.sh', 'task', 'train'],
                        cwd=ROOT, env=env, capture_output=True, text=True)
  assert proc.returncode == 2
  assert proc.stderr.startswith('slurm: error: SLURM_JOB_ID is not set')


def test_a_relative_workdir_is_refused_in_a_job(tmp_path):
  env = _cluster(tmp_path)
  proc = documented.run(
      env, f'sbatch --wait --nodes=1 --ntasks-per-node={TASKS} '
      'launch/slurm.sbatch train --config=configs/tiny.py --workdir=runs/x',
      status=1)
  lines = proc.stderr.strip().splitlines()
  assert any(line.startswith("train: error: --workdir='runs/x' is a "
                             'relative local path in a multi-host run')
             for line in lines), lines
  assert not (ROOT / 'runs').exists()
