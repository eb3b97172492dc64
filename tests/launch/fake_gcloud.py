"""A stand-in for `gcloud` that runs a TPU slice (a pod) on this host.

Implements the calls launch/tpu_pod.sh and docs/pod.md make, with the real
commands' argument shapes (anything else fails with status 2):

  gcloud compute tpus queued-resources create NAME --node-id=NAME
      --accelerator-type=T --runtime-version=R --async [--spot]
      [--internal-ips] [--service-account=S --scopes=...] --zone=Z
  gcloud compute tpus queued-resources describe NAME --zone=Z
      --format='value(state.state)'
  gcloud compute tpus queued-resources delete NAME --zone=Z --force --quiet
  gcloud compute tpus tpu-vm describe NAME --zone=Z --format=F
      (F: value(networkEndpoints.len()) or value(state))
  gcloud compute tpus tpu-vm delete NAME --zone=Z --quiet
  gcloud [alpha] compute tpus tpu-vm scp SRC NAME:DEST --zone=Z --worker=W
  gcloud [alpha] compute tpus tpu-vm ssh NAME --zone=Z --worker=W
      --command=CMD  (alpha: with --tunnel-through-iap)
  gcloud storage cp -r SRC... DEST   (local <-> gs://, through gcsfs)

The slice is FAKE_POD_ROOT/slice.json (its state: READY, PREEMPTED; absent
when deleted) and one directory FAKE_POD_ROOT/worker_I per worker, used as
its home ('~'). A slice created through the queued resource gets fresh
worker directories (a new machine's disks), with FAKE_POD_VENV linked as
the checkout's .venv (the workers reuse this checkout's environment: there
is nothing to download). `ssh` runs CMD there with `bash -c` as a separate
process (all workers at once for --worker=all), in an environment that
says what a pod's metadata would: JAX_COORDINATOR_ADDRESS (worker 0, port
FAKE_POD_PORT), JAX_NUM_PROCESSES, JAX_PROCESS_ID, plus FAKE_POD_ENV (a JSON
object, e.g. XLA_FLAGS for the CPU devices of each worker); `ssh` and
`scp` to a slice that is not READY fail with status 1, as gcloud's state
check does, and --internal-ip with --tunnel-through-iap is refused. With
FAKE_POD_RETRY_START=1 a command that starts the tool is run twice, as
gcloud does when ssh exits 255 after the command ran. Every call is
appended to FAKE_POD_ROOT/calls.jsonl.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

TPU = ['compute', 'tpus', 'tpu-vm']
QUEUED = ['compute', 'tpus', 'queued-resources']
FLAGS = {'async', 'spot', 'internal-ips', 'internal-ip', 'force', 'quiet',
         'tunnel-through-iap'}


def _fail(message: str, status: int = 2) -> None:
  print(f'fake gcloud: {message}', file=sys.stderr)
  sys.exit(status)


def _options(args: list[str], allowed: set[str]):
  """(positional arguments, {option: value}) of `--key=value` options and
  the boolean flags in FLAGS."""
  positional, options = [], {}
  for a in args:
    if a.startswith('--'):
      key, eq, value = a[2:].partition('=')
      if key not in allowed or (not eq and key not in FLAGS):
        _fail(f'unsupported option {a!r}')
      options[key] = value if eq else True
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


def _slice(root: pathlib.Path) -> dict | None:
  path = root / 'slice.json'
  return json.loads(path.read_text()) if path.exists() else None


def _set_slice(root: pathlib.Path, value: dict | None) -> None:
  path = root / 'slice.json'
  if value is None:
    path.unlink(missing_ok=True)
  else:
    path.write_text(json.dumps(value))


def _create(root: pathlib.Path, n: int, name: str, opts: dict) -> None:
  """A new slice: fresh worker disks, then ACTIVE after one describe."""
  if _slice(root) is not None:
    _fail(f'{name} already exists', 1)
  for i in range(n):
    shutil.rmtree(_home(root, i), ignore_errors=True)
    code = _home(root, i) / 'stylegan_seg_jax'
    code.mkdir(parents=True)
    (code / '.venv').symlink_to(os.environ['FAKE_POD_VENV'])
  _set_slice(root, {'name': name, 'state': 'READY', 'queued': True,
                    'describes': 0, 'options': opts})


def _queued(root: pathlib.Path, n: int, rest: list[str]) -> None:
  verb, rest = rest[0], rest[1:]
  if verb == 'create':
    pos, opts = _options(rest, {
        'zone', 'project', 'node-id', 'accelerator-type', 'runtime-version',
        'async', 'spot', 'internal-ips', 'service-account', 'scopes'})
    if (len(pos) != 1 or opts.get('node-id') != pos[0] or 'async' not in opts
        or not opts.get('accelerator-type')
        or not opts.get('runtime-version')
        or ('service-account' in opts) != ('scopes' in opts)):
      _fail(f'unsupported queued-resources create {rest!r}')
    _create(root, n, pos[0], opts)
  elif verb == 'describe':
    pos, opts = _options(rest, {'zone', 'project', 'format'})
    if len(pos) != 1 or opts.get('format') != 'value(state.state)':
      _fail(f'unsupported queued-resources describe {rest!r}')
    s = _slice(root)
    if s is None or not s['queued']:
      _fail(f'NOT_FOUND: queued resource {pos[0]}', 1)
    s['describes'] += 1
    _set_slice(root, s)
    if s['state'] == 'PREEMPTED':
      print('SUSPENDED')
    else:  # waits once in the queue
      print('WAITING_FOR_RESOURCES' if s['describes'] == 1 else 'ACTIVE')
  elif verb == 'delete':
    pos, opts = _options(rest, {'zone', 'project', 'force', 'quiet'})
    if len(pos) != 1 or 'force' not in opts or 'quiet' not in opts:
      _fail(f'unsupported queued-resources delete {rest!r}')
    _set_slice(root, None)
  else:
    _fail(f'unsupported queued-resources verb {verb!r}')


def _storage(rest: list[str]) -> None:
  """`storage cp -r SRC... DEST`: a directory into a container (a bucket
  path ending in '/' or an existing local directory) keeps its name."""
  if rest[:1] != ['cp'] or not set(rest[1:2]) & {'-r', '--recursive'}:
    _fail(f'unsupported storage command {rest!r}')
  import fsspec  # pylint: disable=g-import-not-at-top
  *sources, dest = rest[2:]
  if not sources:
    _fail('storage cp: nothing to copy')
  gs = fsspec.filesystem('gs', skip_instance_cache=True,
                         use_listings_cache=False)
  for src in sources:
    into = dest.endswith('/') or (
        '://' not in dest and pathlib.Path(dest).is_dir())
    base = src.rstrip('/').rsplit('/', 1)[-1]
    target = dest.rstrip('/') + '/' + base if into else dest.rstrip('/')
    if src.startswith('gs://') and not dest.startswith('gs://'):
      for obj in gs.find(src[5:]):
        out = pathlib.Path(target) / obj[len(src[5:].rstrip('/')) + 1:]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(gs.cat_file(obj))
    elif dest.startswith('gs://') and '://' not in src:
      path = pathlib.Path(src)
      files = [path] if path.is_file() else sorted(
          p for p in path.rglob('*') if p.is_file())
      for f in files:
        rel = f.name if path.is_file() else f.relative_to(path).as_posix()
        gs.pipe_file(f'{target[5:]}/{rel}' if path.is_dir() else target[5:],
                     f.read_bytes())
    else:
      _fail(f'unsupported storage cp {src!r} -> {dest!r}')


def main(argv: list[str]) -> None:
  root = pathlib.Path(os.environ['FAKE_POD_ROOT'])
  n = int(os.environ['FAKE_POD_WORKERS'])
  with open(root / 'calls.jsonl', 'a') as f:
    f.write(json.dumps(argv) + '\n')
  if argv[:1] == ['storage']:
    _storage(argv[1:])
    return
  if argv[:3] == QUEUED and len(argv) > 3:
    _queued(root, n, argv[3:])
    return
  alpha = argv[:1] == ['alpha']
  if alpha:
    argv = argv[1:]
  if argv[:3] != TPU or len(argv) < 4:
    _fail(f'unsupported command {argv!r}')
  verb, rest = argv[3], argv[4:]
  remote = {'zone', 'project', 'worker', 'internal-ip', 'ssh-key-file'} | (
      {'tunnel-through-iap'} if alpha else set())
  if verb == 'describe':
    pos, opts = _options(rest, {'zone', 'project', 'format'})
    s = _slice(root)
    if len(pos) != 1:
      _fail(f'unsupported describe {rest!r}')
    if s is None:
      _fail(f'NOT_FOUND: {pos[0]}', 1)
    if opts.get('format') == 'value(networkEndpoints.len())':
      print(n)
    elif opts.get('format') == 'value(state)':
      print(s['state'])
    else:
      _fail(f'unsupported describe {rest!r}')
    return
  if verb == 'delete':
    pos, opts = _options(rest, {'zone', 'project', 'quiet'})
    if len(pos) != 1 or 'quiet' not in opts:
      _fail(f'unsupported delete {rest!r}')
    _set_slice(root, None)
    return
  s = _slice(root)
  if '--internal-ip' in rest and '--tunnel-through-iap' in rest:
    _fail('argument --internal-ip: not allowed with --tunnel-through-iap')
  if verb in ('scp', 'ssh') and (s is None or s['state'] != 'READY'):
    _fail(f'the TPU is {s["state"] if s else "not found"}, not READY', 1)
  if verb == 'scp':
    pos, opts = _options(rest, remote)
    if len(pos) != 2 or ':' not in pos[1]:
      _fail(f'unsupported scp {rest!r}')
    dest = pos[1].split(':', 1)[1]
    for i in _workers(opts.get('worker', '0'), n):
      target = pathlib.Path(dest.replace('~', str(_home(root, i)), 1))
      shutil.copy(pos[0], target)
  elif verb == 'ssh':
    pos, opts = _options(rest, remote | {'command'})
    if len(pos) != 1 or 'command' not in opts:
      _fail(f'unsupported ssh {rest!r}')
    extra = json.loads(os.environ.get('FAKE_POD_ENV', '{}'))
    base = {k: v for k, v in os.environ.items()
            if not k.startswith('FAKE_POD') and k not in (
                'PYTHONPATH', 'VIRTUAL_ENV', 'JAX_PLATFORMS', 'XLA_FLAGS',
                'SSH_AUTH_SOCK')}
    times = 2 if (os.environ.get('FAKE_POD_RETRY_START') == '1'
                  and 'pod_worker.sh start' in opts['command']) else 1
    codes = []
    for _ in range(times):
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
