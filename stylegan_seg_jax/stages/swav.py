"""The SwAV stage: state, per-device training step, the learned embedding, and
the stage's training run (`train`).

One step (docs/method.md §4, batched): every device draws its share of the
global batch of latents (keys folded with the step and the global image
index, so any device count sees the same images), builds two W+ views per
image, runs the frozen generator once on both, samples `num_patches` sets of
`patch_size` pixels (the same pixels in both views), and averages the
swapped-prediction loss over patches and images. Gradients and metrics are
`pmean`ed over the device axis; the optimiser is SGD with momentum and a
LARC-style trust ratio. Each patch is rematerialised in the backward pass so
that only one patch's scores are alive at a time.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.method import features as feat_lib
from stylegan_seg_jax.method import swav
from stylegan_seg_jax.method import views
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import loop
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import config as config_lib

__all__ = ['SwAVState', 'SwAVModel', 'make_optimizer', 'init_state',
           'make_device_step', 'select_layers', 'train', 'STAGE_DIR']

# The stage's directory under the workdir.
STAGE_DIR = 'swav'


@flax.struct.dataclass
class SwAVState:
  """Trainable state: heads only; the generator stays outside."""

  step: jax.Array
  params: Any         # {'head': ..., 'prototypes': ...}
  batch_stats: Any    # BatchNorm statistics of the 2-layer head ({} else)
  opt_state: Any


def select_layers(num_layers: int, layers) -> tuple[int, ...]:
  """Validated layer indices (None = all)."""
  if layers is None:
    return tuple(range(num_layers))
  layers = tuple(int(i) for i in layers)
  bad = [i for i in layers if not 0 <= i < num_layers]
  if bad or not layers:
    raise ValueError(f'swav.layers {list(layers)} not in the generator\'s '
                     f'{num_layers} conv layers (0 .. {num_layers - 1})')
  return layers


class SwAVModel:
  """The head and prototype modules for a generator and a config.

  `naive=True` builds the reference's upsample-concat-project embedding (the
  benchmark's baseline); the default is the lean per-layer projection.
  """

  def __init__(self, config: ml_collections.ConfigDict,
               gen_config: stylegan2.GeneratorConfig, naive: bool = False):
    sw = config.swav
    self.layers = select_layers(gen_config.num_layers, sw.layers)
    shapes = gen_config.feature_shapes()
    self.channels = tuple(shapes[i][1] for i in self.layers)
    self.out_res = gen_config.resolution
    self.head = swav.ProjectionHead(
        channels=self.channels, dim=sw.dim, kind=sw.head,
        interpolation=sw.interpolation, out_res=self.out_res,
        axis_name=parallel.AXIS, naive=naive)
    self.eval_head = self.head.clone(axis_name=None)
    self.prototypes = swav.Prototypes(sw.num_prototypes)

  def pick(self, feats):
    return [feats[i] for i in self.layers]

  def embed_maps(self, params, batch_stats, feats) -> jax.Array:
    """The learned embedding maps [N, R, R, D] of generator features."""
    return self.eval_head.apply(
        {'params': params['head'], 'batch_stats': batch_stats},
        self.pick(feats), method=swav.ProjectionHead.embed_maps)


def make_optimizer(
    config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """LARC-style trust ratio (no clipping) + SGD with momentum."""
  o = config.optim
  if o.schedule == 'constant':
    lr = o.lr
  elif o.schedule == 'warmup_cosine':
    lr = optax.warmup_cosine_decay_schedule(
        o.start_lr, o.lr, o.warmup_steps, config.num_steps, o.final_lr)
  else:
    raise ValueError(f'unknown optim.schedule {o.schedule!r}')
  return optax.chain(
      optax.scale_by_trust_ratio(trust_coefficient=o.trust_coefficient,
                                 eps=1e-8),
      optax.sgd(lr, momentum=o.momentum))


def init_state(model: SwAVModel, tx: optax.GradientTransformation,
               rng: jax.Array) -> SwAVState:
  """Fresh head and prototype parameters."""
  k_head, k_proto = jax.random.split(rng)
  feats = [jnp.zeros((1, r, r, c)) for r, c in
           [(model.out_res, ch) for ch in model.channels]]
  coords = jnp.zeros((1, 2, 2), jnp.int32)
  head_vars = model.eval_head.init(k_head, feats, coords, train=False)
  proto_vars = model.prototypes.init(k_proto,
                                     jnp.zeros((1, model.head.dim)))
  params = {'head': head_vars['params'], 'prototypes': proto_vars['params']}
  return SwAVState(step=jnp.zeros((), jnp.int32), params=params,
                   batch_stats=head_vars.get('batch_stats', {}),
                   opt_state=tx.init(params))


def make_device_step(model: SwAVModel, gen: stylegan2.Generator,
                     config: ml_collections.ConfigDict,
                     tx: optax.GradientTransformation, num_devices: int):
  """The per-device training step `step(state, gen_vars, rng_data)`.

  `rng_data` is `jax.random.key_data` of the run's data key. Must run inside
  `parallel.shard_step` / `parallel.pmap_step` (it uses the device axis).
  Returns (new state, metrics).
  """
  sw, vw = config.swav, config.views
  if config.batch_size % num_devices:
    raise ValueError(f'batch_size {config.batch_size} is not divisible by '
                     f'the {num_devices} devices')
  local = config.batch_size // num_devices
  res = model.out_res
  if sw.patch_size > res * res:
    raise ValueError(f'swav.patch_size {sw.patch_size} exceeds the '
                     f'{res}x{res} = {res * res} pixels of an image')
  module, gcfg = gen.module, gen.config

  def mapping(gen_vars, z):
    return module.apply(gen_vars, z, 1.0, method=stylegan2.StyleGAN2.mapping)

  def images_for(gen_vars, key, n):
    """Views' features of n images from per-image keys [n]."""
    k_z, k_s, k_t, k_ts, k_tt = (jax.vmap(lambda k, i=i: jax.random.fold_in(
        k, i))(key) for i in range(5))
    z = jax.vmap(lambda k: jax.random.normal(k, (gcfg.z_dim,)))(k_z)
    w = mapping(gen_vars, z)
    w_avg = gen_vars['buffers']['mapping']['w_avg']
    view = functools.partial(
        views.perturb_wplus, mapping_fn=lambda zz: mapping(gen_vars, zz),
        w_avg=w_avg, num_ws=gcfg.num_ws, z_dim=gcfg.z_dim,
        num_blocks=vw.num_blocks, strength=vw.strength, psi=vw.psi,
        double_truncation=vw.double_truncation)
    ws_s = jax.vmap(lambda k, ww: view(k, ww[None])[0])(k_s, w)
    ws_t = jax.vmap(lambda k, ww: view(k, ww[None])[0])(k_t, w)
    _, feats, _ = module.apply(gen_vars, jnp.concatenate([ws_s, ws_t]),
                               'const', method=stylegan2.StyleGAN2.synthesis)
    feats = [jax.lax.stop_gradient(f) for f in model.pick(feats)]
    ts = jax.vmap(lambda k: views.sample_transforms(k, 1, vw.max_degrees))(
        k_ts)
    tt = jax.vmap(lambda k: views.sample_transforms(k, 1, vw.max_degrees))(
        k_tt)
    ts = views.Transform(ts.angle[:, 0], ts.flip[:, 0])
    tt = views.Transform(tt.angle[:, 0], tt.flip[:, 0])
    return ([f[:n] for f in feats], [f[n:] for f in feats]), (ts, tt)

  def patch_loss(params, batch_stats, feats_s, feats_t, coords_s, valid_s,
                 coords_t, valid_t, marg_s, marg_t):
    head = lambda bs, f, c, v: model.head.apply(
        {'params': params['head'], 'batch_stats': bs}, f, c, v, train=True,
        mutable=['batch_stats'])
    e_s, upd = head(batch_stats, feats_s, coords_s, valid_s)
    e_t, upd = head(upd.get('batch_stats', batch_stats), feats_t, coords_t,
                    valid_t)
    new_stats = upd.get('batch_stats', batch_stats)
    x_s, y = swav.score_factors(params['prototypes'], e_s)
    x_t, _ = swav.score_factors(params['prototypes'], e_t)

    # Sinkhorn on each view's full [P, K] score matrix, one problem at a time
    # (lax.map runs them in sequence; only one score matrix is alive).
    y_ng = jax.lax.stop_gradient(y)
    def potential(args):
      x, *ab = args
      # -(x @ -y^T): ott's cost -s is then the matmul itself (XLA folds the
      # double negation), so S and -S are not both held in memory.
      return swav.sinkhorn_potential(-(x @ (-y_ng).T), sw.epsilon,
                                     sw.sinkhorn_iters, *ab)
    n = x_s.shape[0]
    xs = jax.lax.stop_gradient(jnp.concatenate([x_s, x_t]))
    margs = tuple(jnp.concatenate([a, b]) for a, b in zip(marg_s, marg_t))
    g = jax.lax.map(potential, (xs,) + margs)
    g_s, g_t = g[:n], g[n:]
    losses = jax.vmap(lambda xs, xt, gs, gt: swav.chunked_swapped_loss(
        xs, xt, y, gs, gt, epsilon=sw.epsilon, temperature=sw.temperature,
        chunk=sw.chunk_size))(x_s, x_t, g_s, g_t)
    return jnp.mean(losses), new_stats

  patch_loss_remat = jax.checkpoint(patch_loss)

  def marginals(feats, src, valid):
    if sw.marginals == 'uniform':
      return ()
    if sw.marginals != 'image':
      raise ValueError(f'unknown swav.marginals {sw.marginals!r}')
    norms = jnp.sqrt(feat_lib.squared_norms(feats, src, res, sw.interpolation))
    norms = jnp.where(valid, norms, 0.0)
    return jax.vmap(lambda nm: swav.image_marginals(
        nm, sw.patch_size, sw.num_prototypes))(norms)

  def loss_fn(params, batch_stats, gen_vars, key):
    params = {**params,
              'prototypes': swav.normalize_prototypes(params['prototypes'])}
    ids = parallel.device_index() * local + jnp.arange(local)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(ids)
    (feats_s, feats_t), (ts, tt) = images_for(gen_vars, keys, local)
    grid = jnp.broadcast_to(feat_lib.grid_coords(res)[None],
                            (local, res * res, 2))
    marg_s = marginals(feats_s, *views.view_coords(grid, ts, res))
    marg_t = marginals(feats_t, *views.view_coords(grid, tt, res))
    # Patches run sequentially under lax.scan, each rematerialised in the
    # backward pass, so only one patch's pixel features are alive at a time.
    def sample(p):
      k_p = jax.vmap(lambda k: jax.random.fold_in(k, 100 + p))(keys)
      idx = jax.vmap(lambda k: jax.random.choice(
          k, res * res, (sw.patch_size,), replace=False))(k_p)
      coords = jnp.stack([idx // res, idx % res], axis=-1).astype(jnp.int32)
      return views.pair_coords(coords, ts, tt, res, vw.align_views)

    patches = jax.vmap(sample)(jnp.arange(sw.num_patches))

    def body(carry, patch):
      total, stats = carry
      (src_s, val_s), (src_t, val_t) = patch
      loss, stats = patch_loss_remat(params, stats, feats_s, feats_t, src_s,
                                     val_s, src_t, val_t, marg_s, marg_t)
      return (total + loss, stats), None

    (total, batch_stats), _ = jax.lax.scan(body, (0.0, batch_stats), patches)
    return total / sw.num_patches, (batch_stats, params)

  def step(state: SwAVState, gen_vars, rng_data):
    key = jax.random.fold_in(jax.random.wrap_key_data(rng_data), state.step)
    (loss, (batch_stats, used_params)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params, state.batch_stats, gen_vars, key)
    grads = jax.lax.pmean(grads, parallel.AXIS)
    loss = jax.lax.pmean(loss, parallel.AXIS)
    batch_stats = jax.lax.pmean(batch_stats, parallel.AXIS)
    updates, opt_state = tx.update(grads, state.opt_state, used_params)
    params = optax.apply_updates(used_params, updates)
    metrics = {'loss': loss, 'grad_norm': optax.tree.norm(grads),
               'param_norm': optax.tree.norm(params),
               'update_norm': optax.tree.norm(updates)}
    return SwAVState(step=state.step + 1, params=params,
                     batch_stats=batch_stats, opt_state=opt_state), metrics

  return step


def _host(tree: Any) -> Any:
  return jax.tree.map(lambda x: np.asarray(jax.device_get(x)), tree)


def train(config: ml_collections.ConfigDict, workdir: str,
          gen: stylegan2.Generator) -> dict[str, Any]:
  """Trains (or resumes) the SwAV stage to `config.num_steps`.

  Args:
    config: experiment config.
    workdir: run directory; the stage lives in `WORKDIR/swav/`.
    gen: the frozen generator.

  Returns:
    {'step', 'metrics' (last step), 'state' (host copy)}.

  Raises:
    config_lib.ConfigError: the config cannot run (before any training).
    FloatingPointError: a non-finite loss or gradient.
  """
  mesh = parallel.make_mesh()
  num_devices = mesh.size
  if config.batch_size % num_devices:
    raise config_lib.ConfigError(
        f'batch_size {config.batch_size} is not divisible by the '
        f'{num_devices} devices')
  try:
    model = SwAVModel(config, gen.config)
    tx = make_optimizer(config)
    step_fn = make_device_step(model, gen, config, tx, num_devices)
  except ValueError as e:
    raise config_lib.ConfigError(str(e)) from None

  stage_dir = pathlib.Path(workdir) / STAGE_DIR
  stage_dir.mkdir(parents=True, exist_ok=True)
  state = init_state(model, tx, jax.random.key(config.seed))
  ckpt = checkpointing.CheckpointManager(stage_dir / 'checkpoints')
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
      raise config_lib.ConfigError(
          "parallel='pmap' is single-host; use 'shard_map'")
    run = parallel.pmap_step(step_fn)
    put = parallel.pmap_replicate
    get = lambda tree: _host(jax.tree.map(lambda x: x[0], tree))
  else:
    raise config_lib.ConfigError(
        f"parallel must be 'shard_map' or 'pmap', got {config.parallel!r}")

  gen_vars = put(gen.variables)
  rng = put(jax.random.key_data(data_rng))
  try:
    dev_state, last = loop.train_loop(
        stage_dir, 'swav', put(state), lambda s: run(s, gen_vars, rng), get,
        num_steps=config.num_steps, log_every=config.log_every,
        checkpoint_every=config.checkpoint_every, ckpt=ckpt, start=start)
  finally:
    ckpt.close()
  final = get(dev_state)
  return {'step': int(final.step), 'metrics': last, 'state': final}
