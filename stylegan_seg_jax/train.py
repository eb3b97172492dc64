"""Training binary and loop, shared by the stages (`config.stage`).

  python -m stylegan_seg_jax.train --config=configs/toy_swav.py --workdir=DIR
  python -m stylegan_seg_jax.train --config=configs/ffhq256.py \
      --config.generator_dir=ffhq --workdir=gs://bucket/run --distributed

The workdir is the only state: `config.json`, `<stage>/checkpoints/` (orbax;
a rerun of the same command resumes from the newest checkpoint, and orbax
writes each checkpoint to a temporary directory renamed when complete, so a
killed run never leaves a corrupt one), TensorBoard events and
`metrics.jsonl` under `<stage>/`. A non-finite loss or gradient stops the run
before anything is saved, so the last checkpoint is the last good state.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from stylegan_seg_jax import checkpoint
from stylegan_seg_jax import generator as gen_lib
from stylegan_seg_jax import metric_writer
from stylegan_seg_jax import parallel
from stylegan_seg_jax import swav_stage

__all__ = ['ConfigError', 'load_generator', 'train_and_evaluate']

STAGES = ('swav',)


class ConfigError(ValueError):
  """The config cannot run (missing checkpoint, bad layers, bad batch)."""


def load_generator(config: ml_collections.ConfigDict) -> gen_lib.Generator:
  """The frozen generator named by `config.generator_dir` ('toy' = shipped)."""
  src = config.generator_dir
  if src == 'toy':
    from stylegan_seg_jax import toy  # pylint: disable=g-import-not-at-top
    src = toy.GENERATOR_DIR
  path = pathlib.Path(src)
  if not (path / gen_lib.CONFIG_FILE).is_file():
    raise ConfigError(f'generator checkpoint {src} not found (expected a '
                      'directory written by convert_weights.py)')
  try:
    return gen_lib.load(path, resolution=config.get('resolution'))
  except ValueError as e:
    raise ConfigError(f'generator {src}: {e}') from None


def _host(tree: Any) -> Any:
  return jax.tree.map(lambda x: np.asarray(jax.device_get(x)), tree)


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> dict[str, Any]:
  """Runs (or resumes) the configured stage to `config.num_steps`.

  Args:
    config: experiment config (configs/*.py).
    workdir: output directory.

  Returns:
    {'step', 'metrics' (last logged), 'state' (host copy)}.

  Raises:
    ConfigError: invalid config, before any training.
    FloatingPointError: a non-finite loss or gradient.
  """
  if config.stage not in STAGES:
    raise ConfigError(f'unknown stage {config.stage!r}; one of {STAGES}')
  gen = load_generator(config)
  mesh = parallel.make_mesh()
  num_devices = mesh.size
  if config.batch_size % num_devices:
    raise ConfigError(f'batch_size {config.batch_size} is not divisible by '
                      f'the {num_devices} devices')
  try:
    model = swav_stage.SwAVModel(config, gen.config)
    tx = swav_stage.make_optimizer(config)
    step_fn = swav_stage.make_step(model, gen, config, tx, num_devices)
  except ValueError as e:
    raise ConfigError(str(e)) from None

  stage_dir = pathlib.Path(workdir) / config.stage
  stage_dir.mkdir(parents=True, exist_ok=True)
  if jax.process_index() == 0:
    (pathlib.Path(workdir) / 'config.json').write_text(
        config.to_json_best_effort(indent=2))
  state = swav_stage.init_state(model, tx, jax.random.key(config.seed))
  ckpt = checkpoint.CheckpointManager(stage_dir / 'checkpoints')
  restored = ckpt.restore_latest(state)
  if restored is not None:
    state = restored[1]
  start = int(state.step)
  data_rng = jax.random.fold_in(jax.random.key(config.seed), 1)

  if config.parallel == 'shard_map':
    run = parallel.shard_step(step_fn, mesh)
    put = lambda tree: parallel.replicate(tree, mesh)
    get = _host
  elif config.parallel == 'pmap':
    if jax.process_count() > 1:
      raise ConfigError("parallel='pmap' is single-host; use 'shard_map'")
    run = parallel.pmap_step(step_fn)
    put = parallel.pmap_replicate
    get = lambda tree: _host(jax.tree.map(lambda x: x[0], tree))
  else:
    raise ConfigError(f"parallel must be 'shard_map' or 'pmap', got "
                      f'{config.parallel!r}')

  gen_vars = put(gen.params)
  rng = put(jax.random.key_data(data_rng))
  dev_state = put(state)
  writer = metric_writer.MetricWriter(stage_dir)
  bar = tqdm.tqdm(total=config.num_steps, initial=start, unit='step',
                  desc=config.stage, dynamic_ncols=True,
                  disable=jax.process_index() != 0)
  last: dict[str, float] = {}
  t0 = time.time()
  try:
    for step in range(start, config.num_steps):
      dev_state, metrics = run(dev_state, gen_vars, rng)
      done = step + 1
      metrics = {k: float(v) for k, v in get(metrics).items()}
      bad = [k for k in ('loss', 'grad_norm') if not np.isfinite(metrics[k])]
      if bad:
        raise FloatingPointError(
            f'non-finite {" and ".join(bad)} at step {done} '
            f'({metrics}); stopped, last good checkpoint kept')
      last = metrics
      if done % config.log_every == 0 or done == config.num_steps:
        writer.write(done, {**metrics, 'steps_per_s': (done - start) /
                            max(time.time() - t0, 1e-9)})
      bar.set_postfix(loss=f'{metrics["loss"]:.4f}')
      bar.update(1)
      if done % config.checkpoint_every == 0 or done == config.num_steps:
        ckpt.save(done, get(dev_state))
  finally:
    bar.close()
    writer.close()
    ckpt.close()
  final = get(dev_state)
  return {'step': int(final.step), 'metrics': last, 'state': final}


def main(argv: list[str]) -> None:
  del argv
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)
  try:
    result = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except (ConfigError, FloatingPointError) as e:
    print(f'train: error: {e}', file=sys.stderr)
    sys.exit(1)
  params = result['state'].params
  checksum = float(sum(np.sum(np.abs(x)) for x in jax.tree.leaves(params)))
  print(json.dumps({'process': jax.process_index(), 'step': result['step'],
                    **result['metrics'], 'param_abs_sum': checksum}))


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  _CONFIG = config_flags.DEFINE_config_file(
      'config', None, 'Experiment config file (configs/*.py).',
      lock_config=True)
  _WORKDIR = flags.DEFINE_string('workdir', None, 'Output directory.')
  _DISTRIBUTED = flags.DEFINE_bool(
      'distributed', False, 'Call jax.distributed.initialize() first '
      f'(also enabled by {parallel.DISTRIBUTED_ENV}=1).')
  _COORDINATOR = flags.DEFINE_string(
      'coordinator_address', None, 'Multi-host: process 0 host:port '
      '(auto-detected on Cloud TPU).')
  _NUM_PROCESSES = flags.DEFINE_integer('num_processes', None,
                                        'Multi-host: number of processes.')
  _PROCESS_ID = flags.DEFINE_integer('process_id', None,
                                     'Multi-host: this process.')
  flags.mark_flags_as_required(['config', 'workdir'])

  def _main(argv):
    parallel.maybe_initialize_distributed(
        _DISTRIBUTED.value, coordinator_address=_COORDINATOR.value,
        num_processes=_NUM_PROCESSES.value, process_id=_PROCESS_ID.value)
    main(argv)
  app.run(_main)
