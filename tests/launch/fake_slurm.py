"""Stand-ins for SLURM's `sbatch --wait` and `srun` on one machine.

  sbatch --wait [--OPTION=VALUE ...] SCRIPT [ARGS...]
  srun --kill-on-bad-exit=1 COMMAND [ARGS...]

`sbatch` reads the script's `#SBATCH --OPTION=VALUE` lines, lets options
given before the script override them (as SLURM does), sets the job's
environment (SLURM_JOB_ID: FAKE_SLURM_JOB_ID, the next id on each call;
SLURM_SUBMIT_DIR: the current directory; SLURM_JOB_NUM_NODES,
SLURM_NTASKS_PER_NODE, SLURM_NTASKS, SLURM_JOB_NODELIST=localhost) and
runs the script with bash, waiting for it and returning its status (what
`--wait` does). Only one node is emulated: `--nodes` must be 1.

`srun` starts SLURM_NTASKS copies of COMMAND at once, each with what a
job step gives its task (SLURM_STEP_NODELIST, SLURM_STEP_NUM_NODES,
SLURM_STEP_NUM_TASKS, SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID) plus
FAKE_SLURM_ENV (a JSON object, e.g. the CPU device count per process), and
writes each task's pid to FAKE_SLURM_ROOT/task_I.pid. With
--kill-on-bad-exit=1, the first task that ends with a non-zero status
makes it terminate the others (SIGTERM, then SIGKILL after 10 s). Every
call is appended to FAKE_SLURM_ROOT/calls.jsonl.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import time

_SIZE = {'nodes': '1', 'ntasks-per-node': '1'}


def _fail(message: str) -> None:
  print(f'fake slurm: {message}', file=sys.stderr)
  sys.exit(2)


def _sbatch(root: pathlib.Path, args: list[str]) -> int:
  options = {}
  while args and args[0].startswith('--'):
    key, eq, value = args.pop(0)[2:].partition('=')
    options[key] = value if eq else ''
  if 'wait' not in options or not args:
    _fail('supported: sbatch --wait [--OPTION=VALUE ...] SCRIPT ARGS; '
          f'got {args}')
  script, *script_args = args
  directives = dict(_SIZE)
  for line in pathlib.Path(script).read_text().splitlines():
    m = re.match(r'#SBATCH\s+--([\w-]+)(?:=(\S+))?', line)
    if m:
      directives[m.group(1)] = m.group(2) or ''
  directives.update({k: v for k, v in options.items() if k != 'wait'})
  if directives['nodes'] != '1':
    _fail(f'one node is emulated, got --nodes={directives["nodes"]}')
  counter = root / 'job_id'
  job = int(counter.read_text()) + 1 if counter.exists() else int(
      os.environ.get('FAKE_SLURM_JOB_ID', '1000'))
  counter.write_text(str(job))
  per_node = directives['ntasks-per-node']
  env = {**os.environ, 'SLURM_JOB_ID': str(job),
         'SLURM_SUBMIT_DIR': os.getcwd(), 'SLURM_JOB_NUM_NODES': '1',
         'SLURM_NTASKS_PER_NODE': per_node, 'SLURM_NTASKS': per_node,
         'SLURM_JOB_NODELIST': 'localhost'}
  return subprocess.run(['bash', script, *script_args], env=env).returncode


def _srun(root: pathlib.Path, args: list[str]) -> int:
  kill_on_bad_exit = False
  while args and args[0].startswith('--'):
    option = args.pop(0)
    if option == '--kill-on-bad-exit=1':
      kill_on_bad_exit = True
    else:
      _fail(f'unsupported srun option {option!r}')
  if 'SLURM_JOB_ID' not in os.environ or not args:
    _fail('srun runs inside a job: srun [--kill-on-bad-exit=1] COMMAND')
  n = int(os.environ['SLURM_NTASKS'])
  extra = json.loads(os.environ.get('FAKE_SLURM_ENV', '{}'))
  procs = []
  for i in range(n):
    env = {**os.environ, **extra, 'SLURM_STEP_NODELIST': 'localhost',
           'SLURM_STEP_NUM_NODES': '1', 'SLURM_STEP_NUM_TASKS': str(n),
           'SLURM_PROCID': str(i), 'SLURM_LOCALID': str(i),
           'SLURM_NODEID': '0'}
    procs.append(subprocess.Popen(args, env=env))
    (root / f'task_{i}.pid').write_text(str(procs[-1].pid))
  codes: list[int | None] = [None] * n
  while any(c is None for c in codes):
    for i, p in enumerate(procs):
      if codes[i] is None:
        codes[i] = p.poll()
    bad = [c for c in codes if c not in (None, 0)]
    if bad and kill_on_bad_exit:
      for p in procs:
        if p.poll() is None:
          p.terminate()
      deadline = time.monotonic() + 10
      for p in procs:
        try:
          p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
          p.kill()
          p.wait()
      codes = [p.returncode for p in procs]
      break
    time.sleep(0.1)
  bad = [c for c in codes if c]
  return (abs(bad[0]) if bad[0] < 0 else bad[0]) if bad else 0


def main(argv: list[str]) -> None:
  root = pathlib.Path(os.environ['FAKE_SLURM_ROOT'])
  verb, args = argv[0], argv[1:]
  with open(root / 'calls.jsonl', 'a') as f:
    f.write(json.dumps([verb, *args]) + '\n')
  if verb == 'sbatch':
    sys.exit(_sbatch(root, args))
  if verb == 'srun':
    sys.exit(_srun(root, args))
  _fail(f'unsupported command {verb!r}')


if __name__ == '__main__':
  main(sys.argv[1:])
