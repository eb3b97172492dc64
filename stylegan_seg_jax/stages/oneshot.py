"""The one-shot stage: fit each method's head on ONE labelled generated image.

The same trainer for every method (docs/method.md §5): pixel cross-entropy,
Adam (lr 1e-3, betas 0.9 / 0.99, eps 1e-8), `oneshot.num_steps` (200)
full-image steps on the single example, no augmentation. The frozen
generator runs once on the example; the head input (SwAV embedding, raw
features or cluster maps) is computed once and reused by every step.

State per method: `OneShotState` (head variables, optimiser state and the
method's frozen inputs, so that a checkpoint is self-contained), saved under
`WORKDIR/oneshot/<method>/checkpoints`. `train` runs the stage for every
configured method; `restore` rebuilds a trained method for evaluation and
dataset generation.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import json
import pathlib
from typing import Any

from flax import struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.eval import evaluator
from stylegan_seg_jax.method import segmenters
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import loop
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import simclr as simclr_stage
from stylegan_seg_jax.stages import swav as swav_stage

__all__ = ['OneShotState', 'make_optimizer', 'Prepared', 'prepare',
           'example_input', 'examples_input', 'init_state',
           'init_key', 'make_train_step', 'fit', 'restore',
           'method_dir', 'evaluate', 'train', 'STAGE_DIR']

# The stage's directory under the workdir (one sub-directory per method).
STAGE_DIR = 'oneshot'


@struct.dataclass
class OneShotState:
  """Trainable head state plus the method's frozen inputs."""

  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  frozen: Any


def method_dir(workdir: str | pathlib.Path, name: str) -> pathlib.Path:
  """`WORKDIR/oneshot/<method>`: the method's checkpoints and metrics."""
  return files.as_path(workdir) / STAGE_DIR / name


def make_optimizer(
    config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Adam as torch.optim.Adam (L2 weight decay added to the gradient)."""
  o = config.oneshot
  adam = optax.adam(o.lr, b1=o.b1, b2=o.b2, eps=1e-8)
  if o.weight_decay:
    return optax.chain(optax.add_decayed_weights(o.weight_decay), adam)
  return adam


def _swav_frozen(config, workdir, gen, abstract_only: bool = False):
  """(SwAV model, its trained head restored from the workdir).

  With `abstract_only`, the head's shapes (a one-shot checkpoint carries its
  own copy of the head it was trained on).
  """
  model = swav_stage.SwAVModel(config, gen.config)
  tx = swav_stage.make_optimizer(config)
  abstract = jax.eval_shape(
      lambda: swav_stage.init_state(model, tx, jax.random.key(0)))
  if abstract_only:
    return model, {'params': abstract.params['head'],
                   'batch_stats': abstract.batch_stats}
  restored = checkpointing.restore_latest(
      files.as_path(workdir) / swav_stage.STAGE_DIR / 'checkpoints', abstract)
  if restored is None:
    raise ValueError(f"method 'ours' needs a trained SwAV stage in {workdir} "
                     "(run the training binary with --config.stage=swav first)")
  state = restored[1]
  return model, {'params': state.params['head'],
                 'batch_stats': state.batch_stats}


class Prepared:
  """A method ready to train or evaluate: its segmenter and frozen inputs."""

  def __init__(self, segmenter: segmenters.Segmenter, frozen: Any):
    """Pairs `segmenter` with its frozen inputs `frozen`."""
    self.segmenter = segmenter
    self.frozen = frozen


def prepare(name: str, config: ml_collections.ConfigDict, workdir: str,
            gen: stylegan2.Generator, num_classes: int,
            example=None, abstract: bool = False) -> Prepared:
  """Builds method `name` and its frozen inputs.

  Args:
    name: one of `segmenters.METHODS`.
    config: experiment config.
    workdir: run directory (the SwAV and SimCLR stages live there).
    gen: the frozen generator.
    num_classes: C.
    example: the one-shot example (`hfc_kmeans` clusters its latent).
    abstract: build only the shapes of the frozen inputs (for restoring).

  Returns:
    The prepared method.
  """
  swav_model = simclr_model = None
  frozen: Any = {}
  if name == 'ours':
    swav_model, frozen = _swav_frozen(config, workdir, gen, abstract)
  elif name == 'hfc_simclr':
    simclr_model, frozen = simclr_stage.restore_frozen(config, workdir, gen,
                                                       abstract)
  seg = segmenters.build(name, config, gen.config, num_classes, swav_model,
                         simclr_model)
  if name == 'hfc_kmeans':
    if example is None:
      w = jnp.zeros((gen.config.w_dim,))
      psi = 1.0
    else:
      w, psi = jnp.asarray(example.w), example.psi
    fit = lambda: {'centres': segmenters.fit_hfc_centres(
        gen, w, psi, config, jax.random.key(config.seed))}
    frozen = jax.eval_shape(fit) if abstract else fit()
  return Prepared(seg, frozen)


def example_input(prepared: Prepared, gen: stylegan2.Generator,
                  example) -> Any:
  """The head input of the one-shot example (one generator pass)."""
  return examples_input(prepared, gen, [example])[0]


def _plus_latents(gen: stylegan2.Generator, examples) -> np.ndarray:
  """Truncated W+ latents [N, num_ws, w_dim] of labelled examples."""
  num_ws = gen.config.num_ws
  rows = []
  for e in examples:
    w = np.asarray(e.w, np.float32)
    w = np.broadcast_to(w, (num_ws, w.shape[-1])) if w.ndim == 1 else (
        w[:num_ws])
    rows.append(np.asarray(gen.truncate(w[None], e.psi))[0])
  return np.stack(rows)


def examples_input(prepared: Prepared, gen: stylegan2.Generator,
                   examples) -> tuple[Any, jax.Array]:
  """(head input, int32 labels [N, R, R]) of N labelled examples.

  One generator pass over the examples stacked on the batch axis (each
  truncated with its own psi); the head input is made once from it. With
  one example this is the paper's one-shot input; with several, every
  training step sees all of them (few-shot).
  """
  if not examples:
    raise ValueError('no labelled example to train on')
  _, feats = gen.synthesis(jnp.asarray(_plus_latents(gen, examples)))
  x = jax.jit(prepared.segmenter.make_input)(prepared.frozen, feats)
  labels = jnp.asarray(np.stack([e.mask for e in examples]), jnp.int32)
  return x, labels


def init_state(prepared: Prepared, tx: optax.GradientTransformation,
               x: Any, key: jax.Array) -> OneShotState:
  """A fresh head state for head input x, and the optimizer's state."""
  variables = prepared.segmenter.init(key, x)
  return OneShotState(step=jnp.zeros((), jnp.int32),
                      params=variables['params'],
                      batch_stats=variables['batch_stats'],
                      opt_state=tx.init(variables['params']),
                      frozen=prepared.frozen)


def init_key(config: ml_collections.ConfigDict, name: str) -> jax.Array:
  """The key a method's head is initialised from.

  One per method, from the config's seed.
  """
  return jax.random.fold_in(jax.random.key(config.seed),
                            segmenters.METHODS.index(name))


def make_train_step(segmenter: segmenters.Segmenter,
                    tx: optax.GradientTransformation):
  """Jitted `step(state, x, labels) -> (state, metrics)`."""

  def step(state: OneShotState, x, labels):
    (loss, stats), grads = jax.value_and_grad(
        segmenter.loss, has_aux=True)(state.params, state.batch_stats, x,
                                      labels)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    pred, _ = segmenter.predict({'params': state.params,
                                 'batch_stats': stats}, x)
    metrics = {'loss': loss, 'grad_norm': optax.tree.norm(grads),
               'pixel_acc': jnp.mean(pred == labels)}
    # flax's `state.replace`, which the type checker cannot see.
    return dataclasses.replace(
        state, step=state.step + 1, params=params, batch_stats=stats,
        opt_state=opt_state), metrics

  return jax.jit(step, donate_argnums=(0,))


def fit(state: OneShotState, step: Any, x: Any,
        labels: jax.Array, num_steps: int,
        progress: Callable[[int, dict[str, float]], Any] | None = None
        ) -> OneShotState:
  """Runs `num_steps` training steps in memory (no checkpoints, no logs).

  The stage's steps without its loop: what the interactive labeller runs.
  Every step is the stage's own (`make_train_step`), so a head fitted here
  equals one the stage trains from the same state and examples.

  Args:
    state: the starting state (donated; it carries the frozen inputs).
    step: from `make_train_step` (reuse it: it is compiled once per input
      shape).
    x: the head input, from `examples_input`.
    labels: the labels, from `examples_input`.
    num_steps: steps to run.
    progress: called after each step with (steps done, host metrics of
      that step); raise from it to stop early.

  Returns:
    The trained state.

  Raises:
    FloatingPointError: a non-finite loss or gradient.
  """
  for done in range(1, num_steps + 1):
    state, metrics = step(state, x, labels)
    host = {k: float(v) for k, v in jax.device_get(metrics).items()}
    if not all(np.isfinite(v) for v in host.values()):
      raise FloatingPointError(f'non-finite training metrics at step {done}: '
                               f'{host}')
    if progress is not None:
      progress(done, host)
  return state


def restore(name: str, config: ml_collections.ConfigDict, workdir: str,
            gen: stylegan2.Generator, num_classes: int
            ) -> tuple[Prepared, OneShotState]:
  """The newest trained state of method `name` in the workdir.

  Raises:
    ValueError: the method has not been trained there.
  """
  prepared = prepare(name, config, workdir, gen, num_classes, abstract=True)
  tx = make_optimizer(config)
  feats = [jax.ShapeDtypeStruct((1, r, r, c), jnp.float32)
           for r, c in gen.config.feature_shapes()]

  def fresh(frozen, feats):
    p = Prepared(prepared.segmenter, frozen)
    x = prepared.segmenter.make_input(frozen, feats)
    return init_state(p, tx, x, jax.random.key(0))
  abstract = jax.eval_shape(fresh, prepared.frozen, feats)
  restored = checkpointing.restore_latest(
      method_dir(workdir, name) / 'checkpoints', abstract)
  if restored is None:
    raise ValueError(f'method {name!r} has no checkpoint in {workdir} (train '
                     'it with --config.stage=oneshot, or choose the methods '
                     'with --config.oneshot.methods=a,b)')
  state = restored[1]
  prepared.frozen = state.frozen
  return prepared, state


def evaluate(prepared: Prepared, state: OneShotState, gen: stylegan2.Generator,
             test: experiment.TestSet, config: ml_collections.ConfigDict,
             progress=None) -> evaluator.MethodResult:
  """Scores a trained method on a test set.

  `evaluator.evaluate_method`, with the config's `eval` settings.
  """
  return evaluator.evaluate_method(
      prepared.segmenter,
      {'params': state.params, 'batch_stats': state.batch_stats},
      state.frozen, gen, test, config.eval.batch_size, progress,
      config.eval.bbox_bounds)


def _host(tree: Any) -> Any:
  return jax.tree.map(lambda x: np.asarray(jax.device_get(x)), tree)


def _train_method(name: str, config: ml_collections.ConfigDict, workdir: str,
                  gen: stylegan2.Generator,
                  examples: list[labelled_set.OneShotExample],
                  test: experiment.TestSet | None,
                  tx: optax.GradientTransformation,
                  restart: bool) -> dict[str, Any]:
  o = config.oneshot
  num_classes = len(examples[0].class_names)
  stage_dir = config_lib.prepare_stage_dir(
      config, 'oneshot', method_dir(workdir, name), restart=restart,
      method=name)
  ckpt = checkpointing.CheckpointManager(stage_dir / 'checkpoints')
  try:
    try:
      if ckpt.latest_step() is not None:
        prepared, state = restore(name, config, workdir, gen, num_classes)
      else:
        prepared = prepare(name, config, workdir, gen, num_classes,
                           examples[0])
        state = None
    except ValueError as e:
      raise config_lib.ConfigError(str(e)) from None
    x, labels = examples_input(prepared, gen, examples)
    if state is None:
      state = init_state(prepared, tx, x, init_key(config, name))
    step = make_train_step(prepared.segmenter, tx)

    def on_step(done: int, state: OneShotState) -> dict[str, float]:
      # No test set unless eval_every > 0 (`train`).
      if test is None or not o.eval_every or (
          done % o.eval_every and done != o.num_steps):
        return {}
      # The step donates its state: read the frozen inputs from it.
      current = Prepared(prepared.segmenter, state.frozen)
      result = evaluate(current, state, gen, test, config)

      def write() -> None:  # the same result in every process
        with files.atomic_file(stage_dir / 'eval.json') as tmp:
          tmp.write_text(json.dumps(
              {'step': done, 'metrics': result.metrics}, indent=2))

      parallel.on_process_0(write, f'writing {stage_dir / "eval.json"}')
      return {f'eval/{k}': v for k, v in result.metrics.items()
              if isinstance(v, float)}

    state, last = loop.train_loop(
        stage_dir, f'oneshot/{name}', state, lambda s: step(s, x, labels),
        _host, num_steps=o.num_steps, log_every=config.log_every,
        checkpoint_every=o.checkpoint_every, ckpt=ckpt,
        start=int(state.step), on_step=on_step)
  finally:
    ckpt.close()
  return {'step': int(state.step), 'metrics': last}


def train(config: ml_collections.ConfigDict, workdir: str,
          gen: stylegan2.Generator, *, restart: bool = False
          ) -> dict[str, Any]:
  """Trains (or resumes) every method of `config.oneshot.methods`.

  Args:
    config: experiment config (`oneshot`, `baselines`, `data`, `eval`).
    workdir: run directory ('ours' reads the SwAV stage from it).
    gen: the frozen generator.
    restart: delete each method's previous training first (otherwise a
      method trained with other settings is refused).

  Returns:
    {'step', 'metrics' ('<method>/<metric>' of each method's last step),
    'methods': {method: {'step', 'metrics'}}}.

  Raises:
    config_lib.ConfigError: unknown methods, a bad one-shot example or test
      set, or 'ours' without a trained SwAV stage (before training).
    FloatingPointError: a non-finite loss or gradient.
  """
  o = config.oneshot
  methods = config_lib.methods_of(config)
  try:
    examples = experiment.load_oneshot_examples(config, workdir, gen)
    test = (experiment.load_test_set(config, workdir)
            if o.eval_every > 0 else None)
  except ValueError as e:
    raise config_lib.ConfigError(str(e)) from None
  tx = make_optimizer(config)
  out = {name: _train_method(name, config, workdir, gen, examples, test, tx,
                             restart)
         for name in methods}
  return {'step': o.num_steps,
          'metrics': {f'{n}/{k}': v for n, r in out.items()
                      for k, v in r['metrics'].items()},
          'methods': out}
