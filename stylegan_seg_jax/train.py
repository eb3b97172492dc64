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
from stylegan_seg_jax import evaluation
from stylegan_seg_jax import experiment_data
from stylegan_seg_jax import generator as gen_lib
from stylegan_seg_jax import metric_writer
from stylegan_seg_jax import oneshot_stage
from stylegan_seg_jax import parallel
from stylegan_seg_jax import segmenters
from stylegan_seg_jax import swav_stage

__all__ = ['ConfigError', 'load_generator', 'train_and_evaluate']

STAGES = ('swav', 'oneshot')


class ConfigError(ValueError):
  """The config cannot run (missing checkpoint, bad layers, bad batch)."""


def load_generator(config: ml_collections.ConfigDict) -> gen_lib.Generator:
  """The frozen generator named by `config.generator_dir` ('toy' = shipped)."""
  try:
    return gen_lib.load(config.generator_dir,
                        resolution=config.get('resolution'))
  except FileNotFoundError:
    raise ConfigError(f'generator checkpoint {config.generator_dir} not found '
                      '(expected a directory written by convert_weights.py)'
                      ) from None
  except ValueError as e:
    raise ConfigError(f'generator {config.generator_dir}: {e}') from None


def _host(tree: Any) -> Any:
  return jax.tree.map(lambda x: np.asarray(jax.device_get(x)), tree)


def _loop(stage_dir: pathlib.Path, desc: str, state: Any, run_step,
          to_host, num_steps: int, log_every: int, checkpoint_every: int,
          ckpt: checkpoint.CheckpointManager, start: int,
          on_step=None) -> tuple[Any, dict[str, float]]:
  """The training loop every stage shares.

  `run_step(state) -> (state, metrics)`; a non-finite loss or gradient norm
  raises before anything is saved; metrics go to TensorBoard events and
  `metrics.jsonl`; `on_step(step, host_state) -> dict` may add metrics
  (periodic evaluation).
  """
  writer = metric_writer.MetricWriter(stage_dir)
  bar = tqdm.tqdm(total=num_steps, initial=start, unit='step', desc=desc,
                  dynamic_ncols=True, disable=jax.process_index() != 0)
  last: dict[str, float] = {}
  t0 = time.time()
  try:
    for step in range(start, num_steps):
      state, metrics = run_step(state)
      done = step + 1
      metrics = {k: float(v) for k, v in to_host(metrics).items()}
      bad = [k for k in ('loss', 'grad_norm') if not np.isfinite(metrics[k])]
      if bad:
        raise FloatingPointError(
            f'{desc}: non-finite {" and ".join(bad)} at step {done} '
            f'({metrics}); stopped, last good checkpoint kept')
      last = metrics
      if on_step is not None:
        metrics = {**metrics, **on_step(done, state)}
      if done % log_every == 0 or done == num_steps:
        writer.write(done, {**metrics, 'steps_per_s': (done - start) /
                            max(time.time() - t0, 1e-9)})
      bar.set_postfix(loss=f'{metrics["loss"]:.4f}')
      bar.update(1)
      if done % checkpoint_every == 0 or done == num_steps:
        ckpt.save(done, to_host(state))
  finally:
    bar.close()
    writer.close()
  return state, last


def _train_swav(config: ml_collections.ConfigDict, workdir: str,
                gen: gen_lib.Generator) -> dict[str, Any]:
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

  stage_dir = pathlib.Path(workdir) / 'swav'
  stage_dir.mkdir(parents=True, exist_ok=True)
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
  try:
    dev_state, last = _loop(
        stage_dir, 'swav', put(state), lambda s: run(s, gen_vars, rng), get,
        config.num_steps, config.log_every, config.checkpoint_every, ckpt,
        start)
  finally:
    ckpt.close()
  final = get(dev_state)
  return {'step': int(final.step), 'metrics': last, 'state': final}


def _train_oneshot(config: ml_collections.ConfigDict, workdir: str,
                   gen: gen_lib.Generator) -> dict[str, Any]:
  """Trains every configured method's head on the one labelled example."""
  o = config.oneshot
  unknown = [m for m in o.methods if m not in segmenters.METHODS]
  if unknown or not o.methods:
    raise ConfigError(f'oneshot.methods {list(o.methods)}: unknown '
                      f'{unknown}; choose from {segmenters.METHODS}')
  try:
    example = experiment_data.load_oneshot(config, workdir, gen)
    test = (experiment_data.load_test_set(config, workdir)
            if o.eval_every > 0 else None)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  num_classes = len(example.class_names)
  labels = jnp.asarray(example.mask, jnp.int32)[None]
  tx = oneshot_stage.make_optimizer(config)
  out = {}
  for name in o.methods:
    stage_dir = oneshot_stage.method_dir(workdir, name)
    stage_dir.mkdir(parents=True, exist_ok=True)
    ckpt = checkpoint.CheckpointManager(stage_dir / 'checkpoints')
    try:
      try:
        if ckpt.latest_step() is not None:
          prepared, state = oneshot_stage.restore(name, config, workdir, gen,
                                                  num_classes)
        else:
          prepared = oneshot_stage.prepare(name, config, workdir, gen,
                                           num_classes, example)
          state = None
      except ValueError as e:
        raise ConfigError(str(e)) from None
      x = oneshot_stage.example_input(prepared, gen, example)
      if state is None:
        state = oneshot_stage.init_state(
            prepared, tx, x, jax.random.fold_in(jax.random.key(config.seed),
                                                segmenters.METHODS.index(name)))
      start = int(state.step)
      step = oneshot_stage.make_step(prepared.segmenter, tx)

      def on_step(done, state, prepared=prepared):
        if not o.eval_every or (done % o.eval_every and done != o.num_steps):
          return {}
        # The step donates its state: read the frozen inputs from it.
        current = oneshot_stage.Prepared(prepared.segmenter, state.frozen)
        result = evaluation.evaluate_method(current, state, gen, test,
                                            config.eval.batch_size)
        (stage_dir / 'eval.json').write_text(json.dumps(
            {'step': done, 'metrics': result.metrics}, indent=2))
        return {f'eval/{k}': v for k, v in result.metrics.items()
                if isinstance(v, float)}

      state, last = _loop(stage_dir, f'oneshot/{name}', state,
                          lambda s: step(s, x, labels), _host, o.num_steps,
                          config.log_every, o.checkpoint_every, ckpt, start,
                          on_step)
    finally:
      ckpt.close()
    out[name] = {'step': int(state.step), 'metrics': last}
  return {'step': o.num_steps, 'metrics': {
      f'{n}/{k}': v for n, r in out.items() for k, v in r['metrics'].items()},
          'methods': out}


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> dict[str, Any]:
  """Runs (or resumes) the configured stages to completion.

  Args:
    config: experiment config (configs/*.py); `config.stage` is 'swav',
      'oneshot', or 'swav,oneshot' (both, in order).
    workdir: output directory.

  Returns:
    {'step', 'metrics' (last logged)} of the last stage, and 'state' (host
    copy) for the SwAV stage.

  Raises:
    ConfigError: invalid config, before any training.
    FloatingPointError: a non-finite loss or gradient.
  """
  stages = [s.strip() for s in config.stage.split(',')]
  if not stages or any(s not in STAGES for s in stages):
    raise ConfigError(f'unknown stage {config.stage!r}; one of {STAGES} '
                      '(comma-separated for several)')
  gen = load_generator(config)
  pathlib.Path(workdir).mkdir(parents=True, exist_ok=True)
  if jax.process_index() == 0:
    (pathlib.Path(workdir) / 'config.json').write_text(
        config.to_json_best_effort(indent=2))
  result: dict[str, Any] = {}
  for stage in stages:
    if stage == 'swav':
      result = _train_swav(config, workdir, gen)
    else:
      if 'oneshot' not in config:
        raise ConfigError('this config has no one-shot settings '
                          '(configs/common.add_oneshot)')
      result = _train_oneshot(config, workdir, gen)
  return result


def main(argv: list[str]) -> None:
  del argv
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)
  try:
    result = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except (ConfigError, FloatingPointError) as e:
    print(f'train: error: {e}', file=sys.stderr)
    sys.exit(1)
  summary = {'process': jax.process_index(), 'step': result['step'],
             **result['metrics']}
  if 'state' in result:
    summary['param_abs_sum'] = float(sum(
        np.sum(np.abs(x)) for x in jax.tree.leaves(result['state'].params)))
  print(json.dumps(summary))


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  _CONFIG = config_flags.DEFINE_config_file(
      'config', None, 'Experiment config file (configs/*.py).',
      lock_config=True)
  _WORKDIR = flags.DEFINE_string('workdir', None, 'Output directory.')
  flags.mark_flags_as_required(['config', 'workdir'])
  _init_distributed = parallel.define_distributed_flags()

  def _main(argv):
    _init_distributed()
    main(argv)
  app.run(_main)
