"""A stand-in for `gcloud compute tpus tpu-vm` that runs a pod on this host.

Implements the calls launch/tpu_pod.sh makes, with the real command's
argument shapes (anything else fails with status 2):

  gcloud compute tpus tpu-vm describe NAME --zone=Z [--project=P] --format=F
  gcloud compute tpus tpu-vm scp SRC NAME:DEST --zone=Z --worker=all [...]
  gcloud compute tpus tpu-vm ssh NAME --zone=Z --worker=all|I --command=CMD

Each worker is a directory FAKE_POD_ROOT/worker_I used as its home ('~'),
and `ssh` runs CMD there with `bash -c` as a separate process (all workers
at once for --worker=all, like the real command), in an environment that
says what a pod's metadata would: JAX_COORDINATOR_ADDRESS (worker 0, port
FAKE_POD_PORT), JAX_NUM_PROCESSES, JAX_PROCESS_ID, plus FAKE_POD_ENV (a JSON
object, e.g. XLA_FLAGS for the CPU devices of each worker). Every call is
appended to FAKE_POD_ROOT/calls.jsonl.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

PREFIX = ['compute', 'tpus', 'tpu-vm']


def _fail(message: str) -> None:
  print(f'fake gcloud: {message}', file=sys.stderr)
  sys.exit(2)


def _options(args: list[str], allowed: set[str]):
  """(positional arguments, {option: value}) of `--key=value` options."""
  positional, options = [], {}
  for a in args:
    if a.startswith('--'):
      key, eq, value = a[2:].partition('=')
      if not eq or key not in allowed:
        _fail(f'unsupported option {a!r}')
      options[key] = value
    else:
      positional.append(a)
  if 'zone' not in options:
    _fail('--zone is required')
  return positional, options


def _workers(spec: str, n: int) -> list[int]:
  if spec == 'all':
    return list(range(n))
  if not spec.isdigit() or int(spec) >= n:
    _fail(f'bad --worker={spec!r} for {n} workers')
  return [int(spec)]


def _home(root: pathlib.Path, i: int) -> pathlib.Path:
  return root / f'worker_{i}'


def main(argv: list[str]) -> None:
  root = pathlib.Path(os.environ['FAKE_POD_ROOT'])
  n = int(os.environ['FAKE_POD_WORKERS'])
  with open(root / 'calls.jsonl', 'a') as f:
    f.write(json.dumps(argv) + '\n')
  if argv[:3] != PREFIX or len(argv) < 4:
    _fail(f'unsupported command {argv!r}')
  verb, rest = argv[3], argv[4:]
  if verb == 'describe':
    pos, opts = _options(rest, {'zone', 'project', 'format'})
    if len(pos) != 1 or opts.get('format') != 'value(networkEndpoints.len())':
      _fail(f'unsupported describe {rest!r}')
    print(n)
  elif verb == 'scp':
    pos, opts = _options(rest, {'zone', 'project', 'worker'})
    if len(pos) != 2 or ':' not in pos[1]:
      _fail(f'unsupported scp {rest!r}')
    dest = pos[1].split(':', 1)[1]
    for i in _workers(opts.get('worker', '0'), n):
      target = pathlib.Path(dest.replace('~', str(_home(root, i)), 1))
      shutil.copy(pos[0], target)
  elif verb == 'ssh':
    pos, opts = _options(rest, {'zone', 'project', 'worker', 'command'})
    if len(pos) != 1 or 'command' not in opts:
      _fail(f'unsupported ssh {rest!r}')
    extra = json.loads(os.environ.get('FAKE_POD_ENV', '{}'))
    base = {k: v for k, v in os.environ.items()
            if not k.startswith('FAKE_POD') and k not in (
                'PYTHONPATH', 'VIRTUAL_ENV', 'JAX_PLATFORMS', 'XLA_FLAGS')}
    procs = []
    for i in _workers(opts.get('worker', '0'), n):
      env = {**base, **extra, 'HOME': str(_home(root, i)),
             'JAX_COORDINATOR_ADDRESS':
                 f'127.0.0.1:{os.environ["FAKE_POD_PORT"]}',
             'JAX_NUM_PROCESSES': str(n), 'JAX_PROCESS_ID': str(i)}
      procs.append(subprocess.Popen(['bash', '-c', opts['command']],
                                    cwd=_home(root, i), env=env))
    codes = [p.wait() for p in procs]
    sys.exit(max(codes, key=abs) if any(codes) else 0)
  else:
    _fail(f'unsupported verb {verb!r}')


if __name__ == '__main__':
  main(sys.argv[1:])
