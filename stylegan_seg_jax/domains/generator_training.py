"""Fits the project's StyleGAN2 to a toy domain's renderer.

The generator is the unchanged `stylegan2.StyleGAN2` with a small channel
table; it is trained by regression so that G(z) ~= render(f(z)) (the
renderer of the domain `config.toy_generator.domain`), with fresh
z ~ N(0, I) every step and the
targets rendered inside the jitted step. The loss is a per-pixel squared error
in the generator's [-1, 1] range, weighted per ground-truth class so that the
small parts are drawn. No discriminator: the
target is a deterministic function of z, so a pixel loss is the whole task.

  stylegan-seg train --config=configs/toy_generator.py \
      --workdir=workdirs/toy_generator

It is the `toy_generator` stage of the training binary, with the one
training loop (`runtime.loop`). Under `WORKDIR/toy_generator/`:
`checkpoints/` (orbax, resumed automatically), `metrics.jsonl` and
TensorBoard events, and at the end `generator/` (the converted-generator
layout, loadable with `stylegan2.load`; its generator.json carries the
fidelity report). Settings: `config.toy_generator` (configs/common.py).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.domains import fidelity
from stylegan_seg_jax.domains import registry
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import loop

__all__ = ['domain_of', 'generator_config', 'make_optimizer', 'train_step',
           'train', 'STAGE_DIR']

# The stage's directory under the workdir.
STAGE_DIR = 'toy_generator'


def domain_of(config: ml_collections.ConfigDict) -> registry.Domain:
  """The domain whose renderer `config.toy_generator.domain` names.

  Raises:
    registry.DomainError: an unknown domain, or class weights that do not
      match its renderer's classes.
  """
  domain = registry.get(config.toy_generator.domain)
  weights = config.toy_generator.class_weights
  if len(weights) != len(domain.renderer.CLASS_NAMES):
    raise registry.DomainError(
        f'toy_generator.class_weights has {len(weights)} values; the '
        f'{domain.name} renderer has {len(domain.renderer.CLASS_NAMES)} '
        'classes')
  return domain


def generator_config(
    config: ml_collections.ConfigDict) -> stylegan2.GeneratorConfig:
  """The toy generator's architecture from `config.toy_generator`."""
  g = config.toy_generator
  domain = domain_of(config)
  return stylegan2.GeneratorConfig(
      resolution=domain.resolution,
      channels=tuple((int(r), int(c)) for r, c in g.channels.items()),
      z_dim=domain.z_dim, w_dim=g.w_dim,
      mapping_layers=g.mapping_layers,
      mapping_lr_multiplier=g.mapping_lr_multiplier)


def make_optimizer(
    config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Adam with linear warmup and cosine decay to zero."""
  t = config.toy_generator
  warmup = min(t.warmup_steps, t.num_steps // 10)
  schedule = optax.warmup_cosine_decay_schedule(0.0, t.lr, warmup, t.num_steps)
  return optax.adam(schedule, b1=t.b1, b2=t.b2)


def _loss(params, buffers, module, renderer, z, class_weights):
  target, mask = renderer.render(renderer.scene_from_latent(z))
  pred, _ = module.apply({'params': params, 'buffers': buffers}, z)
  weights = class_weights[mask][..., None]
  return jnp.mean(weights * jnp.square(pred - (target * 2.0 - 1.0)))


@functools.partial(jax.jit,
                   static_argnames=('module', 'renderer', 'tx', 'batch_size'),
                   donate_argnums=(0,))
def train_step(state: dict[str, Any], buffers: Any, rng: jax.Array, *,
               module: stylegan2.StyleGAN2, renderer: Any,
               tx: optax.GradientTransformation, batch_size: int,
               class_weights: jax.Array):
  """One regression step on fresh latents.

  Args:
    state: {'params', 'opt_state', 'step'}; donated.
    buffers: the generator's fixed buffers (noise constants, w_avg).
    rng: base key; folded with the step, so resumed runs see the same data.
    module: the generator module.
    renderer: the domain's renderer module (`registry.Domain.renderer`).
    tx: the optimiser.
    batch_size: latents per step.
    class_weights: [num_classes] loss weight of each ground-truth class.

  Returns:
    (new state, {'loss', 'grad_norm'}).
  """
  key = jax.random.fold_in(rng, state['step'])
  z = jax.random.normal(key, (batch_size, module.config.z_dim))
  loss, grads = jax.value_and_grad(_loss)(state['params'], buffers, module,
                                          renderer, z, class_weights)
  updates, opt_state = tx.update(grads, state['opt_state'], state['params'])
  params = optax.apply_updates(state['params'], updates)
  metrics = {'loss': loss, 'grad_norm': optax.tree.norm(grads)}
  return {'params': params, 'opt_state': opt_state,
          'step': state['step'] + 1}, metrics


def train(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains (or resumes) and exports a toy domain's generator.

  Args:
    config: see configs/toy_generator.py (`config.toy_generator`, `seed`,
      `log_every`).
    workdir: run directory; a rerun resumes from its last checkpoint.

  Returns:
    {'step', 'metrics' (last step), 'fidelity' (the exported generator's
    report on held-out latents), 'generator_dir'}.
  """
  t = config.toy_generator
  domain = domain_of(config)
  stage_dir = files.as_path(workdir) / STAGE_DIR
  stage_dir.mkdir(parents=True, exist_ok=True)
  gcfg = generator_config(config)
  module = stylegan2.StyleGAN2(gcfg)
  init_rng, data_rng = jax.random.split(jax.random.key(config.seed))
  variables = jax.jit(module.init)(init_rng, jnp.zeros((1, gcfg.z_dim)))
  buffers = variables['buffers']
  tx = make_optimizer(config)
  state = {'params': variables['params'],
           'opt_state': tx.init(variables['params']),
           'step': jnp.zeros((), jnp.int32)}
  ckpt = checkpointing.CheckpointManager(stage_dir / 'checkpoints')
  restored = ckpt.restore_latest(state)
  if restored is not None:
    state = restored[1]
  class_weights = jnp.asarray(t.class_weights, jnp.float32)
  step_fn = functools.partial(train_step, module=module,
                              renderer=domain.renderer, tx=tx,
                              batch_size=t.batch_size,
                              class_weights=class_weights)
  eval_z = domain.latents(domain.eval_seeds[:t.eval_samples])

  def on_step(done: int, state: Any) -> dict[str, float]:
    if done % t.eval_every and done != t.num_steps:
      return {}
    gen = stylegan2.Generator(module, {'params': state['params'],
                                       'buffers': buffers}, gcfg)
    return {'psnr': fidelity.psnr(domain, gen, eval_z)}

  try:
    state, last = loop.train_loop(
        stage_dir, 'toy generator', state,
        lambda s: step_fn(s, buffers, data_rng), jax.device_get,
        num_steps=t.num_steps, log_every=config.log_every,
        checkpoint_every=t.checkpoint_every, ckpt=ckpt,
        start=int(state['step']), on_step=on_step)
  finally:
    ckpt.close()

  variables = {'params': state['params'], 'buffers': dict(buffers)}
  variables = jax.tree.map(np.asarray, variables)
  mapping_buffers = dict(variables['buffers']['mapping'])
  mapping_buffers['w_avg'] = stylegan2.estimate_w_avg(gcfg, variables)
  variables['buffers'] = {**variables['buffers'], 'mapping': mapping_buffers}
  gen = stylegan2.Generator(module, jax.tree.map(jnp.asarray, variables), gcfg)
  report = fidelity.fidelity_report(domain, gen,
                                    domain.latents(domain.eval_seeds))
  check_seeds = list(domain.eval_seeds[:8])
  metadata = {
      'source_format': 'stylegan_seg_jax.domains.generator_training',
      'toy_domain': f'{domain.name}: {domain.description}',
      'renderer': domain.renderer.__name__,
      'class_names': list(domain.renderer.CLASS_NAMES),
      'training_steps': int(state['step']),
      'training_seed': int(config.seed),
      'w_avg': {'source': 'estimated', 'num_samples': stylegan2.W_AVG_SAMPLES,
                'seed': 0},
      'fidelity': report,
      # A few seeds whose PSNR the test suite recomputes from the shipped file.
      'psnr_check': {'seeds': check_seeds,
                     'psnr_db': fidelity.psnr(domain, gen,
                                              domain.latents(check_seeds))},
  }
  out = stage_dir / 'generator'
  stylegan2.save(out, gcfg, variables, metadata, overwrite=True)
  return {'step': int(state['step']), 'metrics': last, 'fidelity': report,
          'generator_dir': str(out)}
