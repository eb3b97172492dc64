"""What an experiment config names: its stages and its generator.

An experiment config (`configs/*.py`, one schema: `configs/common.py`)
selects the stages to run (`config.stage`, a tuple of `STAGES`) and the
frozen generator (`config.generator_dir`: a converted-generator directory,
or 'toy:NAME' for a toy domain's shipped generator, `domains`). A config
that cannot run raises `ConfigError` before any work, which the binaries
report in one line.

Each stage directory (each one-shot method's too) records the settings it
was trained with (`settings.json`: the config fields that shape what it
learns, not how long it runs or how often it logs). Rerunning a stage that
has checkpoints with other settings is refused, naming the fields that
differ (`check_stage_dir`), unless the stage is restarted
(`prepare_stage_dir(..., restart=True)`, the training binary's
`--overwrite`), which deletes that stage's checkpoints and logs.
"""

from __future__ import annotations

from collections.abc import Iterable
import json
import os
import pathlib
from typing import Any

from absl import logging
import ml_collections

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.method import segmenters
from stylegan_seg_jax.runtime import errors
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.runtime.messages import quote
from stylegan_seg_jax.stylegan2 import storage as generator_storage

__all__ = ['ConfigError', 'STAGES', 'stages_of', 'methods_of',
           'load_generator', 'load_generator_dir', 'record_config',
           'stage_settings', 'check_stage_dir', 'prepare_stage_dir',
           'check_inputs', 'sample_psi', 'names_of', 'CONFIG_FILE',
           'SETTINGS_FILE']

# Stages in the order they run when several are given.
STAGES = ('toy_generator', 'swav', 'simclr', 'oneshot',
          'downstream')
# The config a run was started with, in the workdir.
CONFIG_FILE = 'config.json'
# The settings a stage was trained with, in its directory.
SETTINGS_FILE = 'settings.json'

# The config sections and fields that shape what each stage learns. A
# section ('swav') stands for its fields except `_FREE_FIELDS`; a field
# named in full ('num_steps') is always recorded.
_STAGE_SECTIONS = {
    'toy_generator': ('seed', 'toy_generator'),
    'swav': ('generator_dir', 'resolution', 'seed', 'batch_size', 'swav',
             'views', 'optim'),
    'simclr': ('generator_dir', 'resolution', 'seed', 'batch_size', 'simclr',
               'views', 'baselines.interpolation'),
    # Every one-shot method; `_METHOD_SECTIONS` adds the method's own.
    'oneshot': ('generator_dir', 'resolution', 'seed', 'oneshot',
                'data.oneshot'),
    'downstream': ('seed', 'downstream'),
}
# What the downstream network's training images depend on when they are
# the config's labelled example(s).
_DOWNSTREAM_ONESHOT = ('generator_dir', 'resolution', 'data.oneshot',
                       'views.psi', 'generate.psi')
# What each one-shot method's input and head depend on, beyond the common
# settings: the trained stage it reads (whose length then counts too: a
# longer SwAV run gives 'ours' another input) or the baseline's settings.
_METHOD_SECTIONS = {
    'ours': ('batch_size', 'num_steps', 'swav', 'views', 'optim'),
    'repurposegan': ('baselines.repurposegan_head', 'baselines.interpolation'),
    'datasetgan': ('baselines.interpolation',),
    'datasetgan_ensemble': ('baselines.interpolation',
                            'baselines.datasetgan_members'),
    'hfc_kmeans': ('views.strength', 'views.double_truncation',
                   'baselines.hfc_blocks', 'baselines.hfc_clusters',
                   'baselines.hfc_samples', 'baselines.hfc_head',
                   'baselines.kmeans_iters', 'baselines.kmeans_inits',
                   'baselines.kmeans_tol'),
    'hfc_simclr': ('batch_size', 'simclr', 'simclr.num_steps', 'views',
                   'baselines.interpolation', 'baselines.simclr_head'),
}
# Our head's settings, recorded for 'ours' only.
_OURS_ONLY = frozenset({'oneshot.head', 'oneshot.reference_logits'})
# Fields inside those sections that change how long or how a stage runs,
# not what it learns: a rerun may change them (and so continue training).
_FREE_FIELDS = frozenset({
    'swav.chunk_size', 'simclr.num_steps', 'oneshot.methods',
    'oneshot.num_steps', 'oneshot.checkpoint_every', 'oneshot.eval_every',
    'toy_generator.num_steps', 'toy_generator.eval_every',
    'toy_generator.eval_samples', 'toy_generator.checkpoint_every',
    'downstream.test_sets', 'downstream.checkpoint_every',
    'downstream.eval_every', 'downstream.eval_batch_size',
})


class ConfigError(errors.UserError, ValueError):
  """The config cannot run (missing generator, bad layers, bad batch, ...)."""


def names_of(value: Any) -> list[str]:
  """Names of a tuple field; 'a,b' strings (command-line form) are split."""
  items: Iterable[str] = (value,) if isinstance(value, str) else value
  return [s.strip() for item in items for s in str(item).split(',')
          if s.strip()]


def methods_of(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """`config.oneshot.methods`, validated, in the order given.

  On the command line `--config.oneshot.methods=ours,hfc_kmeans` is
  accepted.

  Raises:
    ConfigError: an unknown or missing method.
  """
  value = config.oneshot.methods
  names = names_of(value)
  unknown = [m for m in names if m not in segmenters.METHODS]
  if unknown or not names:
    raise ConfigError(f'unknown method(s) {unknown or names!r} in '
                      f'oneshot.methods={value!r}; choose from '
                      f'{segmenters.METHODS}')
  return tuple(dict.fromkeys(names))


def stages_of(config: ml_collections.ConfigDict, *,
              dependencies: bool = True) -> tuple[str, ...]:
  """The config's stages, validated, in `STAGES` order.

  `config.stage` is a tuple of stage names; on the command line
  `--config.stage=swav,oneshot` (one comma-separated string) is accepted
  too. With `dependencies`, a 'oneshot' stage that trains the 'hfc_simclr'
  baseline brings in the 'simclr' stage it needs (cheap: the reference
  trains it for 100 single-image steps; an already trained stage is only
  checked).

  Raises:
    ConfigError: an unknown or missing stage, or an unknown method.
  """
  value = config.stage
  names = names_of(value)
  unknown = [s for s in names if s not in STAGES]
  if unknown or not names:
    raise ConfigError(f'unknown stage(s) {unknown or names!r} in '
                      f'config.stage={value!r}; choose from {STAGES}')
  if (dependencies and 'oneshot' in names
      and 'hfc_simclr' in methods_of(config)):
    names.append('simclr')
  return tuple(s for s in STAGES if s in names)


def load_generator_dir(name: str | os.PathLike[str],
                       resolution: int | None = None) -> stylegan2.Generator:
  """The generator named `name` ('toy:NAME' or a converted-generator dir).

  Raises:
    ConfigError: no such generator, or a resolution it cannot run at.
  """
  try:
    if domains.is_spec(os.fspath(name)):
      return domains.domain_of(os.fspath(name)).load_generator(resolution)
    return stylegan2.load(name, resolution)
  except domains.DomainError as e:
    raise ConfigError(f'generator_dir: {e}') from None
  except FileNotFoundError:
    raise ConfigError(f'generator checkpoint {os.fspath(name)!r} not found '
                      '(expected a directory written by stylegan-seg convert)'
                      ) from None
  except ValueError as e:
    raise ConfigError(f'generator {os.fspath(name)!r}: {e}') from None


def _exists(path: str) -> bool:
  """Whether a local or remote (gs://) path exists."""
  try:
    return files.as_path(path).exists()
  except Exception as e:  # pylint: disable=broad-except
    hint = ''
    if path.startswith('gs://') and any(
        word in str(e).lower() for word in ('anonymous', 'credentials')):
      hint = (' (no credentials for Cloud Storage here? run: gcloud auth '
              'application-default login)')
    raise ConfigError(f'cannot check {quote(path)}: {type(e).__name__}: '
                      f'{e}{hint}') from None


def check_inputs(config: ml_collections.ConfigDict, *,
                 multihost: bool = False,
                 paths: dict[str, str | None] | None = None) -> list[str]:
  """Checks that the inputs a config names exist, without reading them.

  The generator directory (unless a domain), `data.oneshot` when a path
  (a file, or a directory with `example.npz`), `data.test_set` when it
  is a directory, and for the downstream stage its training and test
  datasets when they are directories; local paths or gs:// URLs.

  Args:
    config: the experiment config.
    multihost: the run has (or will have) several processes on several
      hosts: a relative local path is refused, in the config's inputs and
      in `paths`, since each host would resolve it in its own working
      directory (on a pod, a fresh copy of the checkout without them).
    paths: other path flags of the command line (`{'--workdir': ...}`),
      checked for relative paths only.

  Returns:
    The paths checked.

  Raises:
    ConfigError: the first missing input, named with its config field, or
      with `multihost` the first relative local path.
  """
  wanted = []
  if not domains.is_spec(config.generator_dir):
    wanted.append(('generator_dir', os.fspath(config.generator_dir),
                   generator_storage.CONFIG_FILE))
  oneshot = str(config.data.oneshot)
  if not (oneshot.startswith(('index:', 'seed:'))
          or domains.is_spec(oneshot)):
    wanted.append(('data.oneshot', oneshot, None))
  test_set = str(config.data.test_set or '')
  if test_set and not domains.is_spec(test_set):
    wanted.append(('data.test_set', test_set, 'dataset_info.json'))
  if 'downstream' in stages_of(config, dependencies=False):
    train_set = str(config.downstream.train_set or '')
    if train_set and train_set != 'oneshot' and not domains.is_spec(
        train_set):
      wanted.append(('downstream.train_set', train_set, 'dataset_info.json'))
    for src in names_of(config.downstream.test_sets):
      if not domains.is_spec(src):
        wanted.append(('downstream.test_sets', src, 'dataset_info.json'))
  if multihost:
    named = [(f'--config.{field}', path) for field, path, _ in wanted]
    named += [(flag, path) for flag, path in (paths or {}).items() if path]
    for flag, path in named:
      if '://' not in path and not os.path.isabs(path):
        raise ConfigError(
            f'{flag}={quote(path)} is a relative local path in a multi-host '
            'run: every host would resolve it in its own working directory; '
            'give a gs:// URL (docs/pod.md) or an absolute path on a '
            'filesystem all hosts share')
  checked = []
  for field, path, inside in wanted:
    if field == 'data.oneshot' and not path.endswith('.npz'):
      inside = 'example.npz'  # a labels directory
    target = path.rstrip('/') + '/' + inside if inside else path
    if not _exists(target):
      raise ConfigError(f'--config.{field}={path!r}: {target} does not '
                        'exist (inputs must exist before the workers start)')
    checked.append(target)
  return checked


def sample_psi(config: ml_collections.ConfigDict) -> float:
  """The truncation generated samples are made with.

  `generate.psi` when set, else the views' `views.psi`: what dataset
  generation, labelling and the labeller all render with.
  """
  psi = config.generate.psi
  return float(config.views.psi if psi is None else psi)


def load_generator(config: ml_collections.ConfigDict) -> stylegan2.Generator:
  """The frozen generator of `config.generator_dir` at `config.resolution`."""
  return load_generator_dir(config.generator_dir, config.get('resolution'))


def record_config(config: ml_collections.ConfigDict,
                  workdir: str | os.PathLike[str]) -> pathlib.Path:
  """Writes WORKDIR/config.json (process 0, atomically); returns its path."""
  path = files.as_path(workdir) / CONFIG_FILE

  def write() -> None:
    with files.atomic_file(path) as tmp:
      tmp.write_text(config.to_json_best_effort(indent=2))

  parallel.on_process_0(write, f'writing {path}')
  return path


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
  if isinstance(value, dict):
    out = {}
    for k, v in value.items():
      out.update(_flatten(v, f'{prefix}.{k}' if prefix else str(k)))
    return out
  return {prefix: value}


def stage_settings(config: ml_collections.ConfigDict, stage: str,
                   method: str | None = None) -> dict[str, Any]:
  """The dotted config fields that shape what a stage learns.

  Args:
    config: experiment config.
    stage: one of `STAGES`.
    method: for 'oneshot', the method (one of `segmenters.METHODS`).

  Returns:
    {field: value}, JSON-normalised.
  """
  everything = _flatten(config.to_dict(), '')
  wanted = _STAGE_SECTIONS[stage]
  if stage == 'oneshot':
    if method is None:
      raise ValueError("stage 'oneshot' needs a method")
    wanted += _METHOD_SECTIONS[method]
    if str(config.data.oneshot).startswith(('index:', 'seed:')):
      wanted += ('data.test_set',)  # the example is read from it
  if stage == 'downstream' and config.downstream.train_set == 'oneshot':
    wanted += _DOWNSTREAM_ONESHOT
  if config.optim.schedule != 'constant' and (
      stage == 'swav' or method == 'ours'):
    wanted += ('num_steps',)  # the schedule's length
  picked = {}
  for k, v in everything.items():
    if k in wanted:
      picked[k] = v
    elif any(k.startswith(w + '.') for w in wanted) and k not in _FREE_FIELDS:
      if k not in _OURS_ONLY or method == 'ours':
        picked[k] = v
  return json.loads(json.dumps(picked, sort_keys=True, default=str))


# Fields added after settings were first recorded, with the behaviour runs
# recorded before them had: such a run matches a config that keeps it.
_ADDED_FIELDS = {'swav.layer_norm_init': False}
# Fields that may name a toy domain.
_DOMAIN_FIELDS = frozenset({'generator_dir', 'data.test_set', 'data.oneshot'})


def _canonical(settings: dict[str, Any]) -> dict[str, Any]:
  """Settings with the 0.3 domain spellings ('toy', 'toy_seed:N') rewritten.

  So a run recorded with them matches a config that names the same domain
  as 'toy:NAME'.
  """
  return {k: domains.canonical(v) if k in _DOMAIN_FIELDS else v
          for k, v in settings.items()}


def check_stage_dir(config: ml_collections.ConfigDict, stage: str,
                    stage_dir: str | os.PathLike[str],
                    method: str | None = None) -> None:
  """Refuses a stage directory trained with other settings.

  A directory with checkpoints but no `settings.json` (written by an
  earlier version) cannot be checked; a warning says so.

  Args:
    config: experiment config.
    stage: one of `STAGES`.
    stage_dir: the stage's directory (its `checkpoints/` marks training).
    method: for 'oneshot', the method.

  Raises:
    ConfigError: the directory holds checkpoints made with other settings
      (the differing fields are named).
  """
  directory = files.as_path(stage_dir)
  checkpoints = directory / 'checkpoints'
  if not (checkpoints.is_dir() and any(checkpoints.iterdir())):
    return
  record = directory / SETTINGS_FILE
  if not record.is_file():
    logging.warning('%s has checkpoints but no %s (trained by an earlier '
                    'version): its settings cannot be checked; resuming it',
                    directory, SETTINGS_FILE)
    return
  settings = _canonical(stage_settings(config, stage, method))
  old = _canonical(json.loads(record.read_text()))
  for k, value in _ADDED_FIELDS.items():  # recorded before the field existed
    if k in settings and k not in old:
      old[k] = value
  if 'toy_generator.domain' in settings and 'toy_generator.domain' not in old:
    old['toy_generator.domain'] = domains.default().name  # before plugins
  diff = sorted(k for k in set(old) | set(settings)
                if old.get(k) != settings.get(k))
  if diff:
    shown = ', '.join(f'{k}: {old.get(k)!r} -> {settings.get(k)!r}'
                      for k in diff[:4])
    more = f', and {len(diff) - 4} more' if len(diff) > 4 else ''
    raise ConfigError(
        f'{directory} was trained with other settings ({shown}{more}); use '
        'another --workdir, or --overwrite to train this stage again from '
        'scratch')


def prepare_stage_dir(config: ml_collections.ConfigDict, stage: str,
                      stage_dir: str | os.PathLike[str], *,
                      restart: bool = False,
                      method: str | None = None) -> pathlib.Path:
  """Creates a stage directory, or checks it was trained with these settings.

  Args:
    config: experiment config.
    stage: one of `STAGES`.
    stage_dir: the stage's directory (its `checkpoints/` marks training).
    restart: delete the directory's previous training first (process 0,
      the other processes wait).
    method: for 'oneshot', the method.

  Returns:
    The directory, holding `settings.json` with this config's settings.

  Raises:
    ConfigError: the directory holds checkpoints made with other settings
      (the differing fields are named); nothing is changed then.
  """
  directory = files.as_path(stage_dir)
  if restart:
    parallel.on_process_0(lambda: files.remove_tree(directory),
                          f'removing {directory}')
  check_stage_dir(config, stage, directory, method)
  directory.mkdir(parents=True, exist_ok=True)

  def write() -> None:
    with files.atomic_file(directory / SETTINGS_FILE) as tmp:
      tmp.write_text(json.dumps(stage_settings(config, stage, method),
                                indent=2, sort_keys=True))

  parallel.on_process_0(write, f'writing {directory / SETTINGS_FILE}')
  return directory
