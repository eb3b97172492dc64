"""Runs a config's training stages in a workdir: the training binary's library.

    result = runner.train_and_evaluate(config, workdir)

The workdir is the only state: `config.json`, then one directory per stage
(`toy_generator/`, `swav/`, `simclr/`, `oneshot/<method>/`, `downstream/`)
with orbax
checkpoints (a rerun of the same command resumes from the newest checkpoint
of each stage), TensorBoard events and `metrics.jsonl`. A non-finite loss
or gradient stops the run before anything is saved, so the last checkpoint
is the last good state.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import ml_collections
import numpy as np

from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import downstream
from stylegan_seg_jax.stages import oneshot
from stylegan_seg_jax.stages import simclr
from stylegan_seg_jax.stages import swav

__all__ = ['train_and_evaluate', 'summary']


def _stage_dirs(config: ml_collections.ConfigDict, workdir: str,
                stage: str) -> list[tuple[pathlib.Path, str | None]]:
  """(directory, one-shot method or None) of each part of a stage."""
  root = files.as_path(workdir)
  if stage == 'toy_generator':
    from stylegan_seg_jax.domains import generator_training  # pylint: disable=g-import-not-at-top
    return [(root / generator_training.STAGE_DIR, None)]
  if stage == 'oneshot':
    return [(oneshot.method_dir(root, m), m)
            for m in config_lib.methods_of(config)]
  return [(root / {'swav': swav.STAGE_DIR, 'simclr': simclr.STAGE_DIR,
                   'downstream': downstream.STAGE_DIR}[stage], None)]


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       restart: bool = False) -> dict[str, Any]:
  """Runs (or resumes) the configured stages to completion, in order.

  Every stage's directory is checked against the config before anything
  is written or trained (`config_lib.check_stage_dir`).

  Args:
    config: experiment config (configs/*.py); `config.stage` names the
      stages (`config_lib.STAGES`).
    workdir: run directory.
    restart: delete the previous training of the stages `config.stage`
      names and train them again (a stage brought in as a dependency is
      kept); otherwise a stage trained with other settings is refused.

  Returns:
    The last stage's result: {'step', 'metrics' (last logged)}, plus
    'state' (host copy) for the SwAV and SimCLR stages, 'fidelity' for
    the toy generator and 'network_dir' for the downstream network.

  Raises:
    config_lib.ConfigError: an invalid config, a stage trained with other
      settings, or the toy generator in a multi-process run (before
      anything is written).
    FloatingPointError: a non-finite loss or gradient.
  """
  stages = config_lib.stages_of(config)
  listed = config_lib.stages_of(config, dependencies=False)
  if 'toy_generator' in stages and jax.process_count() > 1:
    # One small model on one device: several hosts would only race to
    # write the same checkpoints and generator.
    raise config_lib.ConfigError(
        'the toy_generator stage trains on one host: run it without '
        f'--distributed (this run has {jax.process_count()} processes)')
  restarting = {s for s in stages if restart and s in listed}
  for stage in stages:
    if stage not in restarting:
      for stage_dir, method in _stage_dirs(config, workdir, stage):
        config_lib.check_stage_dir(config, stage, stage_dir, method)
  files.as_path(workdir).mkdir(parents=True, exist_ok=True)
  config_lib.record_config(config, workdir)
  result: dict[str, Any] = {}
  gen = None
  for stage in stages:
    again = stage in restarting
    if stage == 'toy_generator':
      from stylegan_seg_jax.domains import generator_training  # pylint: disable=g-import-not-at-top
      (stage_dir, _), = _stage_dirs(config, workdir, stage)
      config_lib.prepare_stage_dir(config, stage, stage_dir, restart=again)
      result = generator_training.train(config, workdir)
      continue
    if stage == 'downstream':
      result = downstream.train(config, workdir, restart=again)
      continue
    gen = gen or config_lib.load_generator(config)
    if stage == 'swav':
      result = swav.train(config, workdir, gen, restart=again)
    elif stage == 'simclr':
      result = simclr.train(config, workdir, gen, restart=again)
    else:
      result = oneshot.train(config, workdir, gen, restart=again)
  return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
  """The JSON line the training binary prints for a run's result."""
  out = {'process': jax.process_index(), 'step': result['step'],
         **result['metrics']}
  if 'resumed_from' in result:
    out['resumed_from'] = result['resumed_from']
  if 'state' in result:
    out['param_abs_sum'] = float(sum(
        np.sum(np.abs(x)) for x in jax.tree.leaves(result['state'].params)))
  if 'fidelity' in result:
    out['psnr_db'] = result['fidelity']['psnr_db']
    out['generator_dir'] = result['generator_dir']
  if 'network_dir' in result:
    out['network_dir'] = result['network_dir']
  return out
