"""The downstream stage: a segmentation network trained on labelled images.

    stylegan-seg train --config=configs/downstream.py --workdir=DIR \
        --config.downstream.train_set=DATASET

Trains `downstream.network.UNet` from scratch on `config.downstream.train_set`
(a dataset written by `generate`, the config's one labelled example, or a
toy domain's renderer-drawn images; `input_pipeline`), with on-device
augmentation, AdamW and a warmup-cosine schedule, in the one training loop:
`WORKDIR/downstream/` holds `checkpoints/` (a rerun resumes; the data
order of every step is fixed by the seed, so a resumed run trains on the
same batches), `metrics.jsonl`, TensorBoard events and `settings.json`. At
the end it exports `network/` (`network.json` and the parameters: what
`stylegan-seg predict` loads) and scores the network on every set of
`config.downstream.test_sets` (`evaluate`, shared with the evaluation
binary), written to `downstream/eval/`: `metrics.json`, `metrics.md` and an
overlay grid per set.
"""

from __future__ import annotations

from collections.abc import Sequence
import functools
import json
import pathlib
import re
from typing import Any, cast

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import ml_collections
import numpy as np
import optax

from stylegan_seg_jax import domains
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelling
from stylegan_seg_jax.downstream import exported
from stylegan_seg_jax.downstream import input_pipeline
from stylegan_seg_jax.downstream import network as network_lib
from stylegan_seg_jax.eval import evaluator
from stylegan_seg_jax.eval import metrics as metrics_lib
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import loop
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.runtime import pictures
from stylegan_seg_jax.stages import config as config_lib

__all__ = ['STAGE_DIR', 'EVAL_DIR', 'NETWORK_DIR', 'ONESHOT',
           'train_source', 'test_sets', 'set_label', 'make_optimizer',
           'train_step', 'evaluate', 'evaluate_workdir', 'train']

STAGE_DIR = 'downstream'
EVAL_DIR = 'eval'
NETWORK_DIR = 'network'
# `downstream.train_set` naming the config's labelled example(s).
ONESHOT = 'oneshot'


def train_source(config: ml_collections.ConfigDict,
                 workdir: str) -> input_pipeline.Source:
  """The training examples `config.downstream.train_set` names.

  Raises:
    config_lib.ConfigError: no or an unusable training set.
  """
  d = config.downstream
  spec = str(d.train_set or '')
  if not spec:
    raise config_lib.ConfigError(
        "downstream.train_set is not set: a dataset written by generate, "
        f"'{ONESHOT}' or 'toy:NAME:rendered'")
  try:
    if spec != ONESHOT and not domains.is_spec(spec):
      return input_pipeline.TfdsSource(spec, num_examples=d.num_train,
                                       drop_uncertain=d.drop_uncertain)
    if d.drop_uncertain:
      raise ValueError(f'downstream.drop_uncertain needs a generated '
                       f'dataset; {spec!r} stores no uncertainty')
    if spec == ONESHOT:
      gen = config_lib.load_generator(config)
      examples = experiment.load_oneshot_examples(config, workdir, gen)
      images = np.concatenate([labelling.render(gen, e.w[None], e.psi)
                               for e in examples])
      return experiment.ImageSet(
          images, np.stack([e.mask for e in examples]),
          examples[0].class_names,
          f'{len(examples)} labelled example(s) of data.oneshot='
          f'{config.data.oneshot!r}')
    domain, kind = domains.render_set_of(spec)
    if kind != 'rendered':
      raise ValueError(f'{spec!r}: train on the rendered images, '
                       f"'{domain.spec}:rendered'")
    if d.num_train <= 0:
      raise ValueError(f'{spec!r}: set downstream.num_train, the number of '
                       'rendered images to train on')
    seeds = list(domain.render_train_seeds[:d.num_train])
    images, masks = domain.rendered(seeds)
    return experiment.ImageSet(
        images, masks.astype(np.uint8), domain.class_names,
        f'{len(seeds)} images drawn by the {domain.spec} renderer')
  except (ValueError, domains.DomainError) as e:
    raise config_lib.ConfigError(f'downstream.train_set: {e}') from None


def set_label(src: str) -> str:
  """A short, file-safe name of a test set ('rendered', 'shifted', ...)."""
  if domains.is_spec(src):
    return str(src).rsplit(':', 1)[-1]
  parts = pathlib.PurePosixPath(str(src).rstrip('/')).parts
  name = parts[-1] if parts else 'test'
  if re.fullmatch(r'\d+\.\d+\.\d+', name) and len(parts) > 1:
    name = parts[-2]
  return re.sub(r'[^A-Za-z0-9_.-]', '_', name)[:64] or 'test'


def test_sets(config: ml_collections.ConfigDict, workdir: str,
              class_names: Sequence[str]
              ) -> list[tuple[str, experiment.ImageSet]]:
  """(label, images) of every set of `config.downstream.test_sets`.

  Raises:
    config_lib.ConfigError: a missing set, or classes that differ from the
      training set's.
  """
  out = []
  for src in config_lib.names_of(config.downstream.test_sets):
    try:
      image_set = experiment.load_image_set(src, workdir)
    except (ValueError, domains.DomainError) as e:
      raise config_lib.ConfigError(f'downstream.test_sets: {e}') from None
    if image_set.class_names != tuple(class_names):
      raise config_lib.ConfigError(
          f'downstream.test_sets: {src!r} has classes '
          f'{list(image_set.class_names)}, the training set '
          f'{list(class_names)}')
    out.append((set_label(src), image_set))
  labels = [label for label, _ in out]
  if len(set(labels)) != len(labels):
    raise config_lib.ConfigError(f'downstream.test_sets: two sets share a '
                                 f'name ({labels})')
  return out


def make_optimizer(
    config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """AdamW with linear warmup and cosine decay to zero."""
  d = config.downstream
  warmup = min(d.warmup_steps, d.num_steps // 10)
  schedule = optax.warmup_cosine_decay_schedule(0.0, d.lr, warmup,
                                                d.num_steps)
  return optax.adamw(schedule, weight_decay=d.weight_decay)


def _augmentation(config: ml_collections.ConfigDict
                  ) -> input_pipeline.Augmentation:
  a = config.downstream.augment
  return input_pipeline.Augmentation(
      flip=bool(a.flip), zoom=float(a.zoom), shift=float(a.shift),
      brightness=float(a.brightness), contrast=float(a.contrast),
      saturation=float(a.saturation), hue=float(a.hue))


@functools.partial(jax.jit, static_argnames=('module', 'tx', 'aug'),
                   donate_argnums=(0,))
def train_step(state: dict[str, Any], images: jax.Array, masks: jax.Array,
               rng: jax.Array, mirror: jax.Array, *,
               module: network_lib.UNet, tx: optax.GradientTransformation,
               aug: input_pipeline.Augmentation):
  """One step on an augmented batch.

  Args:
    state: {'params', 'opt_state', 'step'}; donated.
    images: [B, R, R, 3] uint8.
    masks: [B, R, R] uint8 class ids.
    rng: base key; folded with the step (a resumed run draws the same).
    mirror: [C] class id of each class's mirror image.
    module: the network.
    tx: the optimiser.
    aug: the augmentation.

  Returns:
    (new state, {'loss', 'grad_norm', 'pixel_accuracy'}).
  """
  key = jax.random.fold_in(rng, state['step'])
  x, y = input_pipeline.augment(key, images, masks, aug, mirror)

  def loss_fn(params):
    logits = cast(jax.Array, module.apply({'params': params}, x))
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, logits

  (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state['params'])
  updates, opt_state = tx.update(grads, state['opt_state'], state['params'])
  params = optax.apply_updates(state['params'], updates)
  acc = jnp.mean(jnp.argmax(logits, -1) == y)
  return ({'params': params, 'opt_state': opt_state,
           'step': state['step'] + 1},
          {'loss': loss, 'grad_norm': optax.tree.norm(grads),
           'pixel_accuracy': acc})


def evaluate(net: exported.Network, image_set: experiment.ImageSet,
             batch_size: int = 64) -> tuple[dict[str, Any], np.ndarray]:
  """(metrics of `metrics.MetricAccumulator`, predictions) on a test set."""
  pred = net.segment(image_set.images, batch_size)
  acc = metrics_lib.MetricAccumulator(len(net.class_names), net.class_names)
  acc.update(image_set.masks, pred)
  return acc.result(), pred


def _write_eval(out: pathlib.Path, net: exported.Network,
                results: list[tuple[str, experiment.ImageSet, dict[str, Any],
                                    np.ndarray]]) -> None:
  """Writes metrics.json, metrics.md and one overlay grid per set."""
  c = len(net.class_names)
  with files.atomic_directory(out, overwrite=True) as tmp:
    table = ['| test set | ' + ' | '.join(evaluator.TABLE_METRICS) + ' |',
             '|---|' + '---|' * len(evaluator.TABLE_METRICS)]
    for label, image_set, m, pred in results:
      table.append(f'| {label} | ' + ' | '.join(
          '-' if m.get(k) is None else f'{m[k]:.4f}'
          for k in evaluator.TABLE_METRICS) + ' |')
      k = min(8, len(pred))
      pictures.save_grid(
          tmp / f'{label}_overlay.png',
          [list(image_set.images[:k]),
           [pictures.overlay(image_set.images[i], pred[i], c)
            for i in range(k)],
           [pictures.overlay(image_set.images[i], image_set.masks[i], c)
            for i in range(k)]],
          scale=max(1, 128 // net.resolution),
          footer=pictures.legend(net.class_names))
    (tmp / 'metrics.md').write_text('\n'.join(table) + '\n')
    (tmp / evaluator.METRICS_FILE).write_text(json.dumps({
        'train_set': net.train_set,
        'sets': {label: {'source': s.source, 'metrics': m}
                 for label, s, m, _ in results}}, indent=2))


def evaluate_workdir(config: ml_collections.ConfigDict,
                     workdir: str) -> dict[str, dict[str, Any]]:
  """Scores the workdir's exported network on the configured test sets.

  Writes `WORKDIR/downstream/eval/` (process 0) and returns
  {set label: metrics}.

  Raises:
    config_lib.ConfigError: no trained network, or a bad test set.
  """
  stage_dir = files.as_path(workdir) / STAGE_DIR
  try:
    net = exported.load(stage_dir / NETWORK_DIR)
  except ValueError as e:
    raise config_lib.ConfigError(str(e)) from None
  sets = test_sets(config, workdir, net.class_names)
  if not sets:
    raise config_lib.ConfigError('downstream.test_sets is empty: nothing to '
                                 'score the network on')
  results = []
  for label, image_set in sets:
    if image_set.images.shape[1] != net.resolution:
      raise config_lib.ConfigError(
          f'downstream.test_sets: {label} images are '
          f'{image_set.images.shape[1]} px, the network was trained at '
          f'{net.resolution}')
    m, pred = evaluate(net, image_set, config.downstream.eval_batch_size)
    results.append((label, image_set, m, pred))
  parallel.on_process_0(
      lambda: _write_eval(stage_dir / EVAL_DIR, net, results),
      f'writing {stage_dir / EVAL_DIR}')
  return {label: m for label, _, m, _ in results}


def train(config: ml_collections.ConfigDict, workdir: str, *,
          restart: bool = False) -> dict[str, Any]:
  """Trains (or resumes) the downstream network, exports and scores it.

  Args:
    config: see configs/downstream.py (`config.downstream`, `seed`,
      `log_every`).
    workdir: run directory.
    restart: train again from scratch.

  Returns:
    {'step', 'metrics' (last step, plus '<set>/<metric>' of every test
    set), 'network_dir'}.

  Raises:
    config_lib.ConfigError: a bad training or test set, or a workdir
      trained with other settings.
  """
  d = config.downstream
  if jax.process_count() > 1:
    raise config_lib.ConfigError(
        'the downstream stage trains on one host: run it without '
        f'--distributed (this run has {jax.process_count()} processes)')
  source = train_source(config, workdir)
  sets = test_sets(config, workdir, source.class_names)
  s = network_lib.stride(d.widths)
  if source.resolution % s:
    raise config_lib.ConfigError(
        f'downstream.widths: {len(d.widths)} levels need images whose size '
        f'is a multiple of {s}; the training images are {source.resolution}'
        ' px')
  stage_dir = config_lib.prepare_stage_dir(
      config, 'downstream', files.as_path(workdir) / STAGE_DIR,
      restart=restart)
  module = network_lib.UNet(num_classes=len(source.class_names),
                            widths=tuple(int(w) for w in d.widths))
  init_rng, data_rng = jax.random.split(jax.random.key(config.seed))
  r = source.resolution
  params = jax.jit(module.init)(init_rng, jnp.zeros((1, r, r, 3)))['params']
  tx = make_optimizer(config)
  state = {'params': params, 'opt_state': tx.init(params),
           'step': jnp.zeros((), jnp.int32)}
  ckpt = checkpointing.CheckpointManager(stage_dir / 'checkpoints')
  restored = ckpt.restore_latest(state)
  if restored is not None:
    state = restored[1]
  start = int(state['step'])
  mesh = parallel.make_mesh(jax.local_devices())
  n_dev = mesh.devices.size
  batch_sharding = NamedSharding(
      mesh, P(parallel.AXIS) if d.batch_size % n_dev == 0 else P())
  state = jax.device_put(state, NamedSharding(mesh, P()))
  mirror = jnp.asarray(input_pipeline.flip_classes(source.class_names))
  aug = _augmentation(config)
  batches = input_pipeline.Prefetcher(source, d.batch_size, config.seed,
                                      start)
  stream = iter(batches)

  def run_step(st):
    images, masks = next(stream)
    return train_step(st, jax.device_put(images, batch_sharding),
                      jax.device_put(masks, batch_sharding), data_rng,
                      mirror, module=module, tx=tx, aug=aug)

  def as_network(st) -> exported.Network:
    return exported.Network(module, st['params'],
                            tuple(source.class_names), r,
                            source.source)

  def on_step(done: int, st: Any) -> dict[str, float]:
    if not d.eval_every or done % d.eval_every or done == d.num_steps:
      return {}
    net = as_network(st)
    return {f'{label}/miou_per_image':
            evaluate(net, image_set, d.eval_batch_size)[0]['miou_per_image']
            for label, image_set in sets}

  try:
    state, last = loop.train_loop(
        stage_dir, 'downstream', state, run_step, jax.device_get,
        num_steps=d.num_steps, log_every=config.log_every,
        checkpoint_every=d.checkpoint_every, ckpt=ckpt, start=start,
        on_step=on_step)
  finally:
    batches.close()
    ckpt.close()
  net = as_network(state)
  exported.save(stage_dir / NETWORK_DIR, net)
  metrics = dict(last)
  if sets:
    for label, m in evaluate_workdir(config, workdir).items():
      for k in ('miou_per_image', 'normalized_wiou', 'miou_dataset'):
        metrics[f'{label}/{k}'] = m[k]
  return {'step': int(state['step']), 'metrics': metrics,
          'network_dir': str(stage_dir / NETWORK_DIR)}
