"""The SwAV stage: state, per-device step, learned embedding, run (`train`).

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

import dataclasses
from typing import Any, NamedTuple, cast

from flax import struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.method import features as feat_lib
from stylegan_seg_jax.method import swav
from stylegan_seg_jax.method import views
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import replicated
from stylegan_seg_jax.stages import view_pairs

__all__ = ['SwAVState', 'SwAVModel', 'SwAVBatch', 'larc_sgd', 'make_optimizer',
           'init_state', 'make_batch_fn', 'make_loss_fn',
           'make_device_step', 'select_layers', 'train', 'STAGE_DIR',
           'balance_layers', 'layer_rms', 'LAYER_RMS_SAMPLES']

# The stage's directory under the workdir.
STAGE_DIR = 'swav'


@struct.dataclass
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
    """Builds the modules for `gen_config`'s layers from `config`."""
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
    """The selected layers' maps out of all generator features."""
    return [feats[i] for i in self.layers]

  def embed_maps(self, params, batch_stats, feats) -> jax.Array:
    """The learned embedding maps [N, R, R, D] of generator features."""
    # Without `mutable`, apply returns the method's output alone.
    return cast(jax.Array, self.eval_head.apply(
        {'params': params['head'], 'batch_stats': batch_stats},
        self.pick(feats), method=swav.ProjectionHead.embed_maps))


def larc_sgd(lr: float | optax.Schedule, momentum: float,
             trust_coefficient: float) -> optax.GradientTransformation:
  """SGD with momentum inside a LARC trust ratio without clipping.

  Apex's `LARC(SGD, clip=False)`, the reference's optimiser: each tensor's
  gradient is scaled by trust * ||param|| / ||grad|| (1 where either is 0)
  before the momentum step.
  """
  return optax.chain(
      optax.scale_by_trust_ratio(trust_coefficient=trust_coefficient,
                                 eps=1e-8),
      optax.sgd(lr, momentum=momentum))


def make_optimizer(
    config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """`larc_sgd` with `config.optim`'s rate (constant or warmup-cosine)."""
  o = config.optim
  if o.schedule == 'constant':
    lr = o.lr
  elif o.schedule == 'warmup_cosine':
    lr = optax.warmup_cosine_decay_schedule(
        o.start_lr, o.lr, o.warmup_steps, config.num_steps, o.final_lr)
  else:
    raise ValueError(f'unknown optim.schedule {o.schedule!r}')
  return larc_sgd(lr, o.momentum, o.trust_coefficient)


LAYER_RMS_SAMPLES = 8  # samples (z seeds 0..7) that measure each layer's RMS


def layer_rms(model: SwAVModel, gen: stylegan2.Generator,
              config: ml_collections.ConfigDict) -> np.ndarray:
  """Root mean square of each selected generator layer's activations.

  Over `LAYER_RMS_SAMPLES` samples (z seeds 0, 1, ..., truncation
  `views.psi`, the stored noise): deterministic, so a resumed run finds the
  same values.
  """
  z = stylegan2.z_from_seeds(range(LAYER_RMS_SAMPLES), gen.config.z_dim)
  _, feats = gen(jnp.asarray(z), config.views.psi)
  return np.array([float(jnp.sqrt(jnp.mean(jnp.square(f))))
                   for f in model.pick(feats)])


def balance_layers(params: Any, channels: tuple[int, ...],
                   rms: np.ndarray) -> Any:
  """Scales each layer's rows of the projection by mean(rms) / rms.

  The same as normalising each layer's features to a common RMS before a
  projection initialised as usual: at initialisation every layer then
  contributes to the embedding in proportion to its channel count, not to
  its activation scale (swav.layer_norm_init).
  """
  scale = np.concatenate([np.full(c, float(np.mean(rms)) / r, np.float32)
                          for c, r in zip(channels, rms)])
  head = dict(params['head'])
  head['kernel'] = head['kernel'] * scale[:, None]
  return {**params, 'head': head}


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


class SwAVBatch(NamedTuple):
  """One device's inputs of a SwAV step (no gradient flows into them).

  Attributes:
    feats_s: the selected generator layers of view s, [n, h_l, w_l, c_l]
      each.
    feats_t: the same for view t.
    patches: per patch, the source pixels each view reads
      (`view_pairs.ViewPairs.patches`).
    marg_s: the Sinkhorn marginals of view s ((a [n, P], b [n, K]) with
      `swav.marginals='image'`, else ()).
    marg_t: the same for view t.
  """

  feats_s: Any
  feats_t: Any
  patches: Any
  marg_s: Any
  marg_t: Any


def make_batch_fn(model: SwAVModel, gen: stylegan2.Generator,
                  config: ml_collections.ConfigDict):
  """`batch(gen_vars, keys) -> SwAVBatch` for per-image keys [n].

  The two views of each image (`view_pairs`) with `swav.num_patches`
  patches of `swav.patch_size` pixels, and the Sinkhorn marginals of each
  view when `swav.marginals='image'`.
  """
  sw = config.swav
  res = model.out_res
  if sw.marginals not in ('uniform', 'image'):
    raise ValueError(f'unknown swav.marginals {sw.marginals!r}')
  try:
    make_pairs = view_pairs.make_view_pairs_fn(
        gen, config, model.layers, patch_size=sw.patch_size,
        num_patches=sw.num_patches)
  except ValueError as e:
    raise ValueError(f'swav.patch_size: {e}') from None

  def marginals(feats, src, valid):
    if sw.marginals == 'uniform':
      return ()
    norms = jnp.sqrt(feat_lib.squared_norms(feats, src, res, sw.interpolation))
    norms = jnp.where(valid, norms, 0.0)
    return jax.vmap(lambda nm: swav.image_marginals(
        nm, sw.patch_size, sw.num_prototypes))(norms)

  def batch(gen_vars, keys) -> SwAVBatch:
    n = keys.shape[0]
    pairs = make_pairs(gen_vars, keys)
    grid = jnp.broadcast_to(feat_lib.grid_coords(res)[None],
                            (n, res * res, 2))
    marg_s = marginals(pairs.feats_s,
                       *views.view_coords(grid, pairs.transform_s, res))
    marg_t = marginals(pairs.feats_t,
                       *views.view_coords(grid, pairs.transform_t, res))
    return SwAVBatch(pairs.feats_s, pairs.feats_t, pairs.patches, marg_s,
                     marg_t)

  return batch


def make_loss_fn(model: SwAVModel, config: ml_collections.ConfigDict):
  """`loss(params, batch_stats, batch) -> (loss, new batch_stats)`.

  The swapped-prediction loss (docs/method.md §4) averaged over patches and
  images. Patches run in sequence under `lax.scan`, each rematerialised in
  the backward pass, so only one patch's pixel scores are alive at a time.
  The prototype rows are used as given (see `swav.prototype_normalization`).
  """
  sw = config.swav

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

  def loss(params, batch_stats, batch: SwAVBatch):
    def body(carry, patch):
      total, stats = carry
      (src_s, val_s), (src_t, val_t) = patch
      value, stats = patch_loss_remat(
          params, stats, batch.feats_s, batch.feats_t, src_s, val_s, src_t,
          val_t, batch.marg_s, batch.marg_t)
      return (total + value, stats), None

    (total, batch_stats), _ = jax.lax.scan(body, (0.0, batch_stats),
                                           batch.patches)
    return total / sw.num_patches, batch_stats

  return loss


def make_device_step(model: SwAVModel, gen: stylegan2.Generator,
                     config: ml_collections.ConfigDict,
                     tx: optax.GradientTransformation, num_devices: int,
                     initial_head: Any = None):
  """The per-device training step `step(state, gen_vars, rng_data)`.

  With `initial_head` (the projection head's parameters at initialisation)
  the metrics include `head_change`, ||head - initial|| / ||initial|| over
  all the head's parameters (for the `linear` head, the projection P): how
  far training has moved the embedding that segmentation uses.

  `rng_data` is `jax.random.key_data` of the run's data key. Must run inside
  `parallel.shard_step` / `parallel.pmap_step` (it uses the device axis).
  With `swav.prototype_normalization='before_step'` (the reference) the
  prototype rows are re-normalised before the step, outside the gradient,
  and the update applies to the normalised rows; `'in_loss'` normalises
  them inside the differentiated loss instead. Returns (new state, metrics).
  """
  if config.batch_size % num_devices:
    raise ValueError(f'batch_size {config.batch_size} is not divisible by '
                     f'the {num_devices} devices')
  mode = config.swav.prototype_normalization
  if mode not in ('before_step', 'in_loss'):
    raise ValueError(f"swav.prototype_normalization must be 'before_step' or "
                     f"'in_loss', got {mode!r}")
  local = config.batch_size // num_devices
  make_batch = make_batch_fn(model, gen, config)
  loss_fn = make_loss_fn(model, config)
  normalize = lambda p: {**p, 'prototypes': swav.normalize_prototypes(
      p['prototypes'])}

  def objective(params, batch_stats, batch):
    used = normalize(params) if mode == 'in_loss' else params
    return loss_fn(used, batch_stats, batch)

  def step(state: SwAVState, gen_vars, rng_data):
    ids = parallel.device_index() * local + jnp.arange(local)
    batch = make_batch(gen_vars, view_pairs.image_keys(rng_data, state.step,
                                                         ids))
    params = normalize(state.params) if mode == 'before_step' else (
        state.params)
    (loss, batch_stats), grads = jax.value_and_grad(
        objective, has_aux=True)(params, state.batch_stats, batch)
    grads = jax.lax.pmean(grads, parallel.AXIS)
    loss = jax.lax.pmean(loss, parallel.AXIS)
    batch_stats = jax.lax.pmean(batch_stats, parallel.AXIS)
    # The update applies to the normalised rows in both modes.
    params = normalize(params) if mode == 'in_loss' else params
    updates, opt_state = tx.update(grads, state.opt_state, params)
    # apply_updates keeps the structure of `params`: a dict of trees.
    params = cast(dict[str, Any], optax.apply_updates(params, updates))
    metrics = {'loss': loss, 'grad_norm': optax.tree.norm(grads),
               'param_norm': optax.tree.norm(params),
               'update_norm': optax.tree.norm(updates)}
    if initial_head is not None:
      metrics['head_change'] = optax.tree.norm(jax.tree.map(
          jnp.subtract, params['head'], initial_head)) / optax.tree.norm(
              initial_head)
    return SwAVState(step=state.step + 1, params=params,
                     batch_stats=batch_stats, opt_state=opt_state), metrics

  return step


def train(config: ml_collections.ConfigDict, workdir: str,
          gen: stylegan2.Generator, *, restart: bool = False
          ) -> dict[str, Any]:
  """Trains (or resumes) the SwAV stage in `WORKDIR/swav/`.

  Up to `config.num_steps`; arguments, result and errors as
  `replicated.train`.
  """

  def build(num_devices):
    model = SwAVModel(config, gen.config)
    tx = make_optimizer(config)
    # Deterministic from the seed: on a resume too, this is the run's start.
    state = init_state(model, tx, jax.random.key(config.seed))
    if config.swav.layer_norm_init:
      params = balance_layers(state.params, model.channels,
                              layer_rms(model, gen, config))
      # flax's `state.replace`, which the type checker cannot see.
      state = dataclasses.replace(state, params=params,
                                  opt_state=tx.init(params))
    return state, make_device_step(model, gen, config, tx, num_devices,
                                   initial_head=state.params['head'])

  return replicated.train(config, workdir, STAGE_DIR, gen, build,
                          num_steps=config.num_steps, restart=restart)
