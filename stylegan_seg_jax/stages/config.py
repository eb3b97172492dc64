"""What an experiment config names: its stages and its generator.

An experiment config (`configs/*.py`, one schema: `configs/common.py`)
selects the stages to run (`config.stage`, a tuple of `STAGES`) and the
frozen generator (`config.generator_dir`: a converted-generator directory,
or 'toy' for the shipped toy generator). A config that cannot run raises
`ConfigError` before any work, which the binaries report in one line.
"""

from __future__ import annotations

from collections.abc import Iterable
import os
import pathlib

import jax
import ml_collections

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax import toy
from stylegan_seg_jax.runtime import cli
from stylegan_seg_jax.runtime import files

__all__ = ['ConfigError', 'STAGES', 'TOY_GENERATOR', 'stages_of',
           'load_generator', 'load_generator_dir', 'record_config',
           'CONFIG_FILE']

# Stages in the order they run when several are given.
STAGES = ('toy_generator', 'swav', 'oneshot')
# `generator_dir` value naming the shipped toy generator.
TOY_GENERATOR = 'toy'
# The config a run was started with, in the workdir.
CONFIG_FILE = 'config.json'


class ConfigError(cli.UserError, ValueError):
  """The config cannot run (missing generator, bad layers, bad batch, ...)."""


def stages_of(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The config's stages, validated, in `STAGES` order.

  `config.stage` is a tuple of stage names; on the command line
  `--config.stage=swav,oneshot` (one comma-separated string) is accepted
  too.

  Raises:
    ConfigError: an unknown or missing stage.
  """
  value = config.stage
  items: Iterable[str] = (value,) if isinstance(value, str) else value
  names = [s.strip() for item in items for s in str(item).split(',')
           if s.strip()]
  unknown = [s for s in names if s not in STAGES]
  if unknown or not names:
    raise ConfigError(f'unknown stage(s) {unknown or names!r} in '
                      f'config.stage={value!r}; choose from {STAGES}')
  return tuple(s for s in STAGES if s in names)


def load_generator_dir(name: str | os.PathLike[str],
                       resolution: int | None = None) -> stylegan2.Generator:
  """The generator named `name` ('toy' or a converted-generator directory).

  Raises:
    ConfigError: no such generator, or a resolution it cannot run at.
  """
  try:
    if os.fspath(name) == TOY_GENERATOR:
      return toy.load_generator(resolution)
    return stylegan2.load(name, resolution)
  except FileNotFoundError:
    raise ConfigError(f'generator checkpoint {os.fspath(name)!r} not found '
                      '(expected a directory written by convert_weights.py)'
                      ) from None
  except ValueError as e:
    raise ConfigError(f'generator {os.fspath(name)!r}: {e}') from None


def load_generator(config: ml_collections.ConfigDict) -> stylegan2.Generator:
  """The frozen generator of `config.generator_dir` at `config.resolution`."""
  return load_generator_dir(config.generator_dir, config.get('resolution'))


def record_config(config: ml_collections.ConfigDict,
                  workdir: str | os.PathLike[str]) -> pathlib.Path:
  """Writes WORKDIR/config.json (process 0, atomically); returns its path."""
  path = pathlib.Path(workdir) / CONFIG_FILE
  if jax.process_index() == 0:
    with files.atomic_file(path) as tmp:
      tmp.write_text(config.to_json_best_effort(indent=2))
  return path
