"""The run of a data-parallel stage: replicated state, one step per device.

The SwAV and SimCLR stages share it. A stage provides a per-device step
`step(state, gen_vars, rng_data) -> (state, metrics)` (its device's share of
the global batch, `pmean`s over `parallel.AXIS`) and a fresh state; `train`
checks the config and the stage directory, then `run` restores the newest
checkpoint, places the state and the frozen generator on every device
(`shard_map` over the global mesh, or the `pmap` adapter), and drives the
shared training loop.
"""

from __future__ import annotations

from collections.abc import Callable
import pathlib
from typing import Any

import jax
import ml_collections
import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import loop
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import config as config_lib

__all__ = ['device_count', 'run', 'train']


def device_count(config: ml_collections.ConfigDict) -> int:
  """The devices the step runs on; checks `config.batch_size` divides.

  Raises:
    config_lib.ConfigError: the global batch does not split evenly.
  """
  num_devices = parallel.make_mesh().size
  if config.batch_size % num_devices:
    raise config_lib.ConfigError(
        f'batch_size {config.batch_size} is not divisible by the '
        f'{num_devices} devices: set --config.batch_size to a multiple of '
        f'{num_devices}')
  return num_devices


def _host(tree: Any) -> Any:
  return jax.tree.map(lambda x: np.asarray(jax.device_get(x)), tree)


def run(config: ml_collections.ConfigDict, stage_dir: pathlib.Path,
        desc: str, gen: stylegan2.Generator, state: Any,
        step_fn: Callable[..., Any], *, num_steps: int,
        seed_offset: int = 1) -> dict[str, Any]:
  """Trains (or resumes) a data-parallel stage to `num_steps`.

  Args:
    config: experiment config (`parallel`, `seed`, `log_every`,
      `checkpoint_every`).
    stage_dir: the stage's (prepared) directory.
    desc: progress and error label.
    gen: the frozen generator.
    state: a fresh state (its `step` field counts steps).
    step_fn: the per-device step.
    num_steps: the last step.
    seed_offset: folded into `config.seed` for the data key.

  Returns:
    {'step', 'metrics' (last step), 'state' (host copy), 'resumed_from'
    (the checkpoint's step the run continued from, 0 for a fresh start)}.

  Raises:
    config_lib.ConfigError: an unknown or single-host-only `parallel`.
    FloatingPointError: a non-finite loss or gradient.
  """
  mesh = parallel.make_mesh()
  if config.parallel == 'shard_map':
    step = parallel.shard_step(step_fn, mesh)
    put = lambda tree: parallel.replicate(tree, mesh)
    get = _host
  elif config.parallel == 'pmap':
    if jax.process_count() > 1:
      raise config_lib.ConfigError(
          "parallel='pmap' is single-host; use 'shard_map'")
    step = parallel.pmap_step(step_fn)
    put = parallel.pmap_replicate
    get = lambda tree: _host(jax.tree.map(lambda x: x[0], tree))
  else:
    raise config_lib.ConfigError(
        f"parallel must be 'shard_map' or 'pmap', got {config.parallel!r}")
  ckpt = checkpointing.CheckpointManager(stage_dir / 'checkpoints')
  try:
    restored = ckpt.restore_latest(state)
    if restored is not None:
      state = restored[1]
    data_rng = jax.random.fold_in(jax.random.key(config.seed), seed_offset)
    gen_vars = put(gen.variables)
    rng = put(jax.random.key_data(data_rng))
    dev_state, last = loop.train_loop(
        stage_dir, desc, put(state), lambda s: step(s, gen_vars, rng), get,
        num_steps=num_steps, log_every=config.log_every,
        checkpoint_every=config.checkpoint_every, ckpt=ckpt,
        start=int(state.step))
  finally:
    ckpt.close()
  final = get(dev_state)
  return {'step': int(final.step), 'metrics': last, 'state': final,
          'resumed_from': 0 if restored is None else int(restored[0])}


def train(config: ml_collections.ConfigDict, workdir: str, stage: str,
          gen: stylegan2.Generator,
          build: Callable[[int], tuple[Any, Callable[..., Any]]], *,
          num_steps: int, seed_offset: int = 1,
          restart: bool = False) -> dict[str, Any]:
  """Trains (or resumes) data-parallel stage `stage` in `WORKDIR/<stage>/`.

  Args:
    config: experiment config.
    workdir: run directory.
    stage: the stage's name (`config_lib.STAGES`), also its directory.
    gen: the frozen generator.
    build: `build(num_devices) -> (fresh state, per-device step)`; a
      ValueError it raises is a config that cannot run.
    num_steps: the last step.
    seed_offset: folded into `config.seed` for the data key.
    restart: delete the stage's previous training first (otherwise a stage
      trained with other settings is refused).

  Returns:
    {'step', 'metrics' (last step), 'state' (host copy), 'resumed_from'
    (the checkpoint's step the run continued from, 0 for a fresh start)}.

  Raises:
    config_lib.ConfigError: the config cannot run, or the stage was trained
      with other settings (before any training).
    FloatingPointError: a non-finite loss or gradient.
  """
  num_devices = device_count(config)
  try:
    state, step_fn = build(num_devices)
  except ValueError as e:
    raise config_lib.ConfigError(str(e)) from None
  stage_dir = config_lib.prepare_stage_dir(
      config, stage, files.as_path(workdir) / stage, restart=restart)
  return run(config, stage_dir, stage, gen, state, step_fn,
             num_steps=num_steps, seed_offset=seed_offset)
