"""The bootstrap every command shares: flags, multi-host start, errors, exits.

Each command (`stylegan-seg COMMAND`, see `commands`) is a thin module: it
defines its flags at import time (the shared ones through the helpers
below, so that a flag name means one thing everywhere), and its `run(argv)`
calls `run(main, name=..., argv=argv)`, which

1. parses the flags (a bad command line prints the usage and one error line
   and exits with status 2);
   (config files are loaded here, so a bad config or override is one too);
2. checks the positional arguments (a subcommand from `commands`, or a count
   of plain arguments);
3. with STYLEGAN_SEG_JAX_CHECK_ARGS=1, stops there and prints `args ok`
   (the README test checks every documented command this way);
4. starts multi-host JAX when the binary takes `--distributed` and it is
   asked for;
5. runs `main(argv)`; an expected error (`UserError`, or what the binary
   lists in `expected`) prints `NAME: error: <one line>` on stderr and exits
   with status 1; anything else is a bug and keeps its traceback.

Exit status: 0 success, 1 bad input or a failed run, 2 bad command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
import os
import pathlib
import sys
from typing import Any, NoReturn, TypeVar

from absl import app
from absl import flags
from absl import logging

from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime.errors import UsageError
from stylegan_seg_jax.runtime.errors import UserError
from stylegan_seg_jax.runtime.messages import one_line
from stylegan_seg_jax.runtime.messages import quote

__all__ = ['CHECK_INPUTS_ENV', 'config_flag', 'workdir_flag', 'workdirs_flag',
           'out_flag',
           'num_samples_flag', 'seed_flag', 'batch_size_flag',
           'overwrite_flag', 'given', 'check_config_inputs', 'warn', 'run',
           'CHECK_ARGS_ENV', 'EXIT_ERROR', 'EXIT_USAGE']

EXIT_ERROR = 1
EXIT_USAGE = 2
CHECK_ARGS_ENV = 'STYLEGAN_SEG_JAX_CHECK_ARGS'
# Set to 1: parse the command line, check that the inputs it names exist,
# print 'inputs ok' and stop; 'multihost': also refuse relative local paths
# (what launch/tpu_pod.sh runs before starting any worker).
CHECK_INPUTS_ENV = 'STYLEGAN_SEG_JAX_CHECK_INPUTS'


def warn(name: str, message: str) -> None:
  """`NAME: warning: message` on stderr."""
  print(f'{name}: warning: {one_line(message)}', file=sys.stderr, flush=True)


# Shared flags: defined once per process, whichever binary asks first, so a
# flag name means the same thing in every binary.
_HOLDERS: dict[str, Any] = {}


def _shared(name: str, define: Callable[[], Any]) -> Any:
  if name not in _HOLDERS:
    _HOLDERS[name] = define()
  return _HOLDERS[name]


def config_flag() -> Any:
  """--config: an experiment config file; --config.x=y overrides a field."""
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  return _shared('config', lambda: config_flags.DEFINE_config_file(
      'config', None, 'Experiment config file (configs/*.py); override any '
      'field with --config.FIELD=VALUE.', lock_config=True))


def workdir_flag() -> flags.FlagHolder[str]:
  """--workdir: the run directory, the only state of a run."""
  return _shared('workdir', lambda: flags.DEFINE_string(
      'workdir', None, 'Run directory (checkpoints, metrics, evaluations).'))


def workdirs_flag() -> flags.FlagHolder[list[str]]:
  """--workdir, once per run: the commands that read several runs (report).

  A process defines either this or `workdir_flag`, never both.
  """
  return _shared('workdir[]', lambda: flags.DEFINE_multi_string(
      'workdir', None, 'A run directory; give it once per run.'))


def out_flag() -> flags.FlagHolder[str]:
  """--out: always a directory the binary writes its results into."""
  return _shared('out', lambda: flags.DEFINE_string(
      'out', None, 'Output directory.'))


def num_samples_flag(default: int | None = None) -> flags.FlagHolder[int]:
  """--num_samples: how many samples (seeds) to make."""
  return _shared('num_samples', lambda: flags.DEFINE_integer(
      'num_samples', default, 'Number of samples (consecutive seeds).'))


def seed_flag(default: int | None = None) -> flags.FlagHolder[int]:
  """--seed: the z seed of the (first) sample."""
  return _shared('seed', lambda: flags.DEFINE_integer(
      'seed', default, 'z seed of the (first) sample: z = numpy.random.'
      'default_rng(seed).standard_normal(z_dim).'))


def batch_size_flag(default: int | None = None) -> flags.FlagHolder[int]:
  """--batch_size: images per device call."""
  return _shared('batch_size', lambda: flags.DEFINE_integer(
      'batch_size', default, 'Images per call.'))


def overwrite_flag() -> flags.FlagHolder[bool]:
  """--overwrite: replace what exists instead of refusing to.

  For `train`, what exists is the configured stages' previous training
  (deleted, then trained again); elsewhere an output file or directory.
  """
  return _shared('overwrite', lambda: flags.DEFINE_bool(
      'overwrite', False, 'Replace what exists instead of refusing to (train: '
      "delete the configured stages' previous training and train them "
      'again; elsewhere: an existing output).'))


T = TypeVar('T')


def given(holder: flags.FlagHolder[T | None]) -> T:
  """The value of a flag the command requires (named in `run(required=)`).

  Raises:
    UsageError: the flag was not given (when the command did not list it).
  """
  if holder.value is None:
    raise UsageError(f'--{holder.name} is required')
  return holder.value


def check_config_inputs(multihost: bool = False) -> None:
  """Checks that the inputs `--config` names exist, without reading them.

  What `train`, `evaluate` and `generate` run under CHECK_INPUTS_ENV
  (`launch/tpu_pod.sh`, before any worker starts), and every process of a
  multi-host run before its work.

  Args:
    multihost: also refuse relative local paths, in the config and in
      `--workdir` and `--out` (each host would resolve them in its own
      working directory).

  Raises:
    stages.config.ConfigError: the first missing input or, with
      `multihost`, relative path (one line).
  """
  from stylegan_seg_jax.stages import config as config_lib  # pylint: disable=g-import-not-at-top
  paths = {f'--{name}': _HOLDERS[name].value for name in ('workdir', 'out')
           if name in _HOLDERS}
  config_lib.check_inputs(config_flag().value, multihost=multihost,
                          paths=paths)


def _distributed_flags() -> Callable[[], bool]:
  distributed = _shared('distributed', lambda: flags.DEFINE_bool(
      'distributed', False, 'Call jax.distributed.initialize() first (also '
      'enabled by STYLEGAN_SEG_JAX_DISTRIBUTED=1).'))
  coordinator = _shared('coordinator_address', lambda: flags.DEFINE_string(
      'coordinator_address', None, 'Multi-host: process 0 host:port '
      '(auto-detected on Cloud TPU).'))
  num_processes = _shared('num_processes', lambda: flags.DEFINE_integer(
      'num_processes', None, 'Multi-host: number of processes.'))
  process_id = _shared('process_id', lambda: flags.DEFINE_integer(
      'process_id', None, 'Multi-host: this process.'))

  def initialize() -> bool:
    from stylegan_seg_jax.runtime import parallel  # pylint: disable=g-import-not-at-top
    return parallel.maybe_initialize_distributed(
        distributed.value, coordinator_address=coordinator.value,
        num_processes=num_processes.value, process_id=process_id.value)
  return initialize


def _multiprocess() -> bool:
  """Whether this (initialised) run has several processes.

  A multi-host run: pod workers, SLURM tasks.
  """
  import jax  # pylint: disable=g-import-not-at-top
  return jax.process_count() > 1


def _import_configs_beside(argv: Sequence[str]) -> None:
  """Lets a config file import its sibling modules (`from configs import x`).

  A config file inside a package (a folder with `__init__.py`, such as the
  repository's `configs/`) imports that package by name; `python -m` finds
  it only when run from its parent folder, an installed `stylegan-seg`
  never. The parent of that package goes first on `sys.path`.
  """
  for i, arg in enumerate(argv):
    if arg == '--config' and i + 1 < len(argv):
      value = argv[i + 1]
    elif arg.startswith('--config='):
      value = arg[len('--config='):]
    else:
      continue
    path = pathlib.Path(value.split(':', 1)[0]).resolve()
    if (path.parent / '__init__.py').is_file():
      root = str(path.parent.parent)
      if root not in sys.path:
        sys.path.insert(0, root)


def _usage_exit(name: str, usage: str | None, message: str) -> NoReturn:
  if usage:
    print(usage, file=sys.stderr)
  print(f'{name}: error: {one_line(message)}', file=sys.stderr, flush=True)
  sys.exit(EXIT_USAGE)


def _config_dict(value: Any) -> dict[str, Any] | None:
  """A config flag's fields as nested dicts (loading the file); else None."""
  to_dict = getattr(value, 'to_dict', None)  # loads a lazy config file
  fields = to_dict() if callable(to_dict) else None
  return fields if isinstance(fields, dict) else None


def _url_values(args: Sequence[str]) -> Iterator[tuple[str, str]]:
  """Where and what of every flag, config field and argument naming a URL."""
  for flag in flags.FLAGS:
    value = flags.FLAGS[flag].value
    fields = _config_dict(value)
    if fields is not None:
      stack = [(f'--{flag}', fields)]
      while stack:
        prefix, node = stack.pop()
        for key, item in node.items():
          if isinstance(item, dict):
            stack.append((f'{prefix}.{key}', item))
          elif isinstance(item, str) and '://' in item:
            yield f'{prefix}.{key}', item
    elif isinstance(value, str) and '://' in value:
      yield f'--{flag}', value
    elif isinstance(value, list):  # a flag given several times
      for item in value:
        if isinstance(item, str) and '://' in item:
          yield f'--{flag}', item
  for arg in args:
    if '://' in arg:
      yield 'argument', arg


def run(main: Callable[[list[str]], Any], *, name: str,
        argv: Sequence[str] | None = None,
        usage: str | None = None,
        commands: Sequence[str] | None = None,
        min_args: int = 0, max_args: int | None = 0,
        expected: tuple[type[BaseException], ...] = (),
        distributed: bool = False,
        required: Sequence[str] = (),
        local_paths: Sequence[str] = (),
        check_inputs: Callable[[bool], None] | None = None) -> None:
  """Parses flags, checks arguments, runs `main(argv)` and exits.

  Args:
    main: the binary's body; `argv[1:]` are the positional arguments (the
      subcommand first when `commands` is given).
    name: the command's name in messages (`NAME: error: ...`).
    argv: the command line, program name first (default: `sys.argv`).
    usage: printed before a usage error.
    commands: the subcommands; exactly one must be given.
    min_args: plain positional arguments required (without `commands`).
    max_args: plain positional arguments allowed (None: any number).
    expected: errors reported in one line with status 1, besides
      `UserError`.
    distributed: define --distributed, --coordinator_address,
      --num_processes, --process_id and initialise multi-host JAX when
      asked.
    required: flags that must be given.
    local_paths: path flags this tool reads or writes only on the local
      filesystem: a URL (`gs://...`) there is a usage error, instead of a
      directory named `gs:` in the current one.
    check_inputs: `check_inputs(multihost)` raises UserError (one line)
      when an input the command line names is missing (or, with
      `multihost`, a relative local path); run instead of `main` when
      CHECK_INPUTS_ENV is set, and before `main` in every process of a
      multi-process run.
  """
  initialize = _distributed_flags() if distributed else None

  def parse(argv: list[str]) -> list[str]:
    _import_configs_beside(argv)
    try:
      rest = flags.FLAGS(argv)
    except flags.Error as e:
      _usage_exit(name, usage, str(e))
    except (AttributeError, KeyError) as e:  # a --config.FIELD override
      _usage_exit(name, usage, f'unknown config field {e} in '
                  f'{[a for a in argv if a.startswith("--config.")]}')
    except Exception as e:  # pylint: disable=broad-except
      _usage_exit(name, usage, f'{type(e).__name__}: {e}')
    # Config files load lazily: load them now, so that a bad config file is
    # a bad command line too.
    for flag in flags.FLAGS:
      try:
        _config_dict(flags.FLAGS[flag].value)
      except Exception as e:  # pylint: disable=broad-except
        _usage_exit(name, usage, f'--{flag}: {e}')
    missing = [f for f in required if flags.FLAGS[f].value is None]
    if missing:
      _usage_exit(name, usage, f'--{missing[0]} is required')
    for flag in local_paths:
      value = flags.FLAGS[flag].value
      if isinstance(value, str) and '://' in value:
        _usage_exit(name, usage, f'--{flag} must be a local path, not '
                    f'{quote(value)} ({name} does not read or write buckets)')
    args = rest[1:]
    for where, value in _url_values(args):
      try:
        files.check_url(value)
      except files.UnsupportedURLError as e:
        _usage_exit(name, usage, f'{where}: {e}')
    if commands is not None:
      if len(args) != 1 or args[0] not in commands:
        got = f'{args[0]!r}' if args else 'none'
        _usage_exit(name, usage, f'expected one command of '
                    f'{", ".join(commands)}; got {got}'
                    + (f' and {args[1:]}' if len(args) > 1 else ''))
    elif len(args) < min_args or (max_args is not None
                                  and len(args) > max_args):
      _usage_exit(name, usage, f'unexpected arguments {args}' if args else
                  'missing arguments')
    return rest

  def body(argv: list[str]) -> None:
    if os.environ.get(CHECK_ARGS_ENV) == '1':
      print('args ok')
      return
    mode = os.environ.get(CHECK_INPUTS_ENV)
    if mode in ('1', 'multihost'):
      try:
        if check_inputs is not None:
          check_inputs(mode == 'multihost')
      except (UserError, *expected) as e:  # pylint: disable=catching-non-exception
        print(f'{name}: error: {one_line(e)}', file=sys.stderr, flush=True)
        sys.exit(EXIT_ERROR)
      print('inputs ok')
      return
    logging.set_verbosity(logging.WARNING)
    multihost = initialize is not None and initialize() and _multiprocess()
    try:
      if multihost and check_inputs is not None:
        check_inputs(True)
      status = main(argv)
    except UsageError as e:
      _usage_exit(name, usage, str(e))
    except (UserError, files.UnsupportedURLError, *expected) as e:  # pylint: disable=catching-non-exception
      print(f'{name}: error: {one_line(e)}', file=sys.stderr, flush=True)
      sys.exit(EXIT_ERROR)
    sys.exit(status or 0)

  app.run(body, argv=None if argv is None else list(argv),
          flags_parser=parse)
