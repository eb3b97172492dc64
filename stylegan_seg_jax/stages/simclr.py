"""The SimCLR stage: the projection of the HFC+SimCLR baseline.

The paper's contrastive baseline (docs/method.md §6) trains a projection of
the normalised hypercolumn with a SimCLR loss between the same two W+ views
the SwAV stage uses (`view_pairs`), then fits a one-shot head on the
projection's output (method 'hfc_simclr' of the one-shot stage).

One step: every image of the global batch (`batch_size`; the reference
draws one per step) gets two views and `simclr.batch_size` pixels read in
both; its 2 x batch_size projected samples are scored with the NT-Xent loss
(`method.simclr.nt_xent_loss`), the losses averaged over images, gradients
`pmean`ed over devices, and the projection updated by SGD with momentum and
a LARC trust ratio (`swav.larc_sgd`). The stage lives in `WORKDIR/simclr/`
and resumes like every stage.
"""

from __future__ import annotations

from typing import Any, cast

from flax import struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.method import simclr
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import replicated
from stylegan_seg_jax.stages import swav as swav_stage
from stylegan_seg_jax.stages import view_pairs

__all__ = ['SimCLRState', 'SimCLRModel', 'make_optimizer', 'init_state',
           'make_loss_fn', 'make_device_step', 'train', 'restore_frozen',
           'STAGE_DIR']

# The stage's directory under the workdir.
STAGE_DIR = 'simclr'


@struct.dataclass
class SimCLRState:
  """Trainable state of the projection; the generator stays outside."""

  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any


class SimCLRModel:
  """The projection module for a generator and a config."""

  def __init__(self, config: ml_collections.ConfigDict,
               gen_config: stylegan2.GeneratorConfig):
    """Builds the projection for `gen_config`'s layers from `config`."""
    sc = config.simclr
    self.layers = swav_stage.select_layers(gen_config.num_layers, sc.layers)
    shapes = gen_config.feature_shapes()
    self.channels = tuple(shapes[i][1] for i in self.layers)
    self.out_res = gen_config.resolution
    self.head = simclr.SimCLRHead(
        channels=self.channels, dim=sc.dim,
        interpolation=config.baselines.interpolation, out_res=self.out_res,
        axis_name=parallel.AXIS)
    self.eval_head = self.head.clone(axis_name=None)
    self.own_stats = bool(sc.reference_bn_train)

  def pick(self, feats):
    """The selected layers' maps out of all generator features."""
    return [feats[i] for i in self.layers]

  def embed_maps(self, variables: dict[str, Any], feats) -> jax.Array:
    """The projection maps [N, R, R, D] of all generator features.

    `variables` = {'params', 'batch_stats'}; with
    `simclr.reference_bn_train` the BatchNorm normalises with each image's
    own statistics (the reference never leaves train mode).
    """
    # Without `mutable`, apply returns the method's output alone.
    return cast(jax.Array, self.eval_head.apply(
        variables, self.pick(feats), self.own_stats,
        method=simclr.SimCLRHead.embed_maps))


def make_optimizer(
    config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """The reference's SGD with momentum inside LARC (no clipping)."""
  sc = config.simclr
  return swav_stage.larc_sgd(sc.lr, sc.momentum, sc.trust_coefficient)


def init_state(model: SimCLRModel, tx: optax.GradientTransformation,
               rng: jax.Array) -> SimCLRState:
  """A fresh projection (PyTorch's default initialisation)."""
  feats = [jnp.zeros((1, model.out_res, model.out_res, c))
           for c in model.channels]
  coords = jnp.zeros((1, 2, 2), jnp.int32)
  variables = model.eval_head.init(rng, [(feats, coords, None)], train=False)
  return SimCLRState(step=jnp.zeros((), jnp.int32),
                     params=variables['params'],
                     batch_stats=variables['batch_stats'],
                     opt_state=tx.init(variables['params']))


def make_loss_fn(model: SimCLRModel, config: ml_collections.ConfigDict):
  """`loss(params, batch_stats, pairs) -> (loss, new batch_stats)`.

  `pairs` is a `view_pairs.ViewPairs` with one patch of
  `simclr.batch_size` pixels; the loss is the per-image NT-Xent loss
  averaged over the device's images.
  """
  sc = config.simclr

  def loss(params, batch_stats, pairs: view_pairs.ViewPairs):
    (c_s, v_s), (c_t, v_t) = jax.tree.map(lambda a: a[0], pairs.patches)
    z, upd = model.head.apply(
        {'params': params, 'batch_stats': batch_stats},
        [(pairs.feats_s, c_s, v_s), (pairs.feats_t, c_t, v_t)], train=True,
        mutable=['batch_stats'])
    losses = jax.vmap(lambda zz: simclr.nt_xent_loss(
        zz, sc.temperature, reference_similarity=sc.reference_similarity,
        reference_pairs=sc.reference_pairs))(z)
    return jnp.mean(losses), upd['batch_stats']

  return loss


def make_device_step(model: SimCLRModel, gen: stylegan2.Generator,
                     config: ml_collections.ConfigDict,
                     tx: optax.GradientTransformation, num_devices: int):
  """The per-device training step `step(state, gen_vars, rng_data)`.

  Must run inside `parallel.shard_step` / `parallel.pmap_step`. Returns
  (new state, metrics).

  Raises:
    ValueError: settings the step cannot run with.
  """
  sc = config.simclr
  if config.batch_size % num_devices:
    raise ValueError(f'batch_size {config.batch_size} is not divisible by '
                     f'the {num_devices} devices')
  if sc.reference_similarity and 2 * sc.batch_size > sc.dim:
    raise ValueError(
        f'simclr.reference_similarity compares the first 2 x batch_size = '
        f'{2 * sc.batch_size} projected channels; simclr.dim is {sc.dim}')
  local = config.batch_size // num_devices
  try:
    make_pairs = view_pairs.make_view_pairs_fn(
        gen, config, model.layers, patch_size=sc.batch_size, num_patches=1)
  except ValueError as e:
    raise ValueError(f'simclr.batch_size: {e}') from None
  loss_fn = make_loss_fn(model, config)

  def step(state: SimCLRState, gen_vars, rng_data):
    ids = parallel.device_index() * local + jnp.arange(local)
    pairs = make_pairs(gen_vars, view_pairs.image_keys(rng_data, state.step,
                                                       ids))
    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, state.batch_stats, pairs)
    grads = jax.lax.pmean(grads, parallel.AXIS)
    loss = jax.lax.pmean(loss, parallel.AXIS)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {'loss': loss, 'grad_norm': optax.tree.norm(grads),
               'param_norm': optax.tree.norm(params),
               'update_norm': optax.tree.norm(updates)}
    return SimCLRState(step=state.step + 1, params=params,
                       batch_stats=batch_stats, opt_state=opt_state), metrics

  return step


# Folded into `config.seed` for the projection's initialisation and for the
# data: distinct from the folds the SwAV stage (0, 1) and the one-shot heads
# (their index in `segmenters.METHODS`) use.
_INIT_FOLD = 1001
_DATA_FOLD = 1002


def _init_key(config: ml_collections.ConfigDict) -> jax.Array:
  return jax.random.fold_in(jax.random.key(config.seed), _INIT_FOLD)


def train(config: ml_collections.ConfigDict, workdir: str,
          gen: stylegan2.Generator, *, restart: bool = False
          ) -> dict[str, Any]:
  """Trains (or resumes) the projection in `WORKDIR/simclr/`.

  Up to `config.simclr.num_steps`; arguments, result and errors as
  `replicated.train`.
  """

  def build(num_devices):
    model = SimCLRModel(config, gen.config)
    tx = make_optimizer(config)
    return (init_state(model, tx, _init_key(config)),
            make_device_step(model, gen, config, tx, num_devices))

  return replicated.train(config, workdir, STAGE_DIR, gen, build,
                          num_steps=config.simclr.num_steps,
                          seed_offset=_DATA_FOLD,
                          restart=restart)


def restore_frozen(config: ml_collections.ConfigDict, workdir: str,
                   gen: stylegan2.Generator, abstract_only: bool = False
                   ) -> tuple[SimCLRModel, dict[str, Any]]:
  """(model, trained projection variables) from the workdir.

  With `abstract_only`, only their shapes (a one-shot checkpoint carries its
  own copy of the projection it was trained on).

  Raises:
    ValueError: the stage has not been trained in the workdir.
  """
  model = SimCLRModel(config, gen.config)
  tx = make_optimizer(config)
  abstract = jax.eval_shape(
      lambda: init_state(model, tx, jax.random.key(0)))
  if abstract_only:
    return model, {'params': abstract.params,
                   'batch_stats': abstract.batch_stats}
  restored = checkpointing.restore_latest(
      files.as_path(workdir) / STAGE_DIR / 'checkpoints', abstract)
  if restored is None:
    raise ValueError(f"method 'hfc_simclr' needs a trained SimCLR stage in "
                     f'{workdir} (run the training binary with '
                     '--config.stage=simclr first)')
  state = restored[1]
  return model, {'params': state.params, 'batch_stats': state.batch_stats}
