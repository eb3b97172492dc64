"""One-shot segmentation methods: ours and the paper's baselines, one interface.

Every method turns the frozen generator's conv activations of an image into
per-pixel logits with a small trainable head (docs/method.md §5, §6):

* `ours`: the SwAV stage's embedding P h(p) (D = 512 for the reference)
  into `config.oneshot.head` (XXS), P folded into the head's first layer;
* `repurposegan`: raw features h(p) of all layers (5376 channels at 256)
  into an XS conv head (lean first layer);
* `datasetgan`: raw features into one PixelMLP, PyTorch init (the
  reference);
* `datasetgan_ensemble`: raw features into 10 PixelMLPs, DatasetGAN init,
  majority vote;
* `hfc_kmeans`: +-1 one-hot k-means cluster maps of blocks 8^2, 16^2, ...
  into an S conv head;
* `hfc_simclr`: the SimCLR stage's projection of the normalised raw
  features (512 channels) into an XS conv head.

Raw-feature heads never build the upsampled concatenation: their first layer
is linear and runs per layer (`features.conv_maps` / `embed_maps`).

A `Segmenter` holds the head and how its input is made; its *frozen* inputs
(the SwAV or SimCLR projection, the k-means centres) are a pytree passed
alongside the head variables, so the jitted functions take them as
arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.method import features as feat_lib
from stylegan_seg_jax.method import heads
from stylegan_seg_jax.method import kmeans
from stylegan_seg_jax.method import views

__all__ = ['METHODS', 'Segmenter', 'build', 'hfc_blocks', 'fit_hfc_centres',
           'majority_vote', 'js_uncertainty', 'entropy_uncertainty']

METHODS = ('ours', 'repurposegan', 'datasetgan', 'datasetgan_ensemble',
           'hfc_kmeans', 'hfc_simclr')


def entropy_uncertainty(logits: jax.Array) -> jax.Array:
  """Mean per-pixel predictive entropy (nats) of logits [N, R, R, C] -> [N]."""
  logp = jax.nn.log_softmax(logits, -1)
  return jnp.mean(-jnp.sum(jnp.exp(logp) * logp, -1), axis=(1, 2))


def majority_vote(labels: jax.Array, num_classes: int) -> jax.Array:
  """Per-pixel mode of member predictions [E, ...] (ties: smallest id)."""
  votes = jnp.sum(jax.nn.one_hot(labels, num_classes, dtype=jnp.int32), 0)
  return jnp.argmax(votes, axis=-1).astype(jnp.int32)


def js_uncertainty(logits: jax.Array) -> jax.Array:
  """Ensemble Jensen-Shannon divergence, pixel mean: [E, N, R, R, C] -> [N].

  JS = H(mean_e p_e) - mean_e H(p_e), DatasetGAN's uncertainty score.
  """
  logp = jax.nn.log_softmax(logits, -1)
  p = jnp.exp(logp)
  mean_p = jnp.mean(p, 0)
  h_mean = -jnp.sum(mean_p * jnp.log(jnp.maximum(mean_p, 1e-12)), -1)
  mean_h = jnp.mean(-jnp.sum(p * logp, -1), 0)
  return jnp.mean(h_mean - mean_h, axis=(1, 2))


@dataclasses.dataclass(frozen=True, eq=False)
class Segmenter:
  """A one-shot method: a head and the making of its input.

  Attributes:
    name: one of METHODS.
    num_classes: C (the head may emit more logits: the reference XXS).
    head: the trainable linen module, `head.apply(v, x, train)`.
    make_input: (frozen, all generator features) -> head input.
    members: ensemble size; > 1 stacks independently initialised heads on a
      leading axis of the variables.
  """

  name: str
  num_classes: int
  head: nn.Module
  make_input: Callable[[Any, Sequence[jax.Array]], heads.HeadInput]
  members: int = 1

  def init(self, key: jax.Array, x: heads.HeadInput) -> dict[str, Any]:
    """Head variables {'params', 'batch_stats'} for an input like x."""
    def one(k):
      v = self.head.init(k, x, train=False)
      return {'params': v['params'], 'batch_stats': v.get('batch_stats', {})}
    if self.members == 1:
      return one(key)
    return jax.vmap(one)(jax.random.split(key, self.members))

  def apply(self, variables: dict[str, Any], x: heads.HeadInput,
            train: bool = False) -> tuple[jax.Array, Any]:
    """(logits [(E,) N, R, R, C'], updated batch statistics)."""
    def one(v):
      out, upd = self.head.apply(v, x, train=train, mutable=['batch_stats'])
      return out, upd.get('batch_stats', v['batch_stats'])
    if self.members == 1:
      return one(variables)
    return jax.vmap(one)(variables)

  def loss(self, params: Any, batch_stats: Any, x: heads.HeadInput,
           labels: jax.Array) -> tuple[jax.Array, Any]:
    """Pixel cross-entropy (summed over ensemble members), new statistics."""
    logits, stats = self.apply({'params': params, 'batch_stats': batch_stats},
                               x, train=True)
    if self.members == 1:
      return heads.cross_entropy(logits, labels), stats
    per_member = jax.vmap(heads.cross_entropy, (0, None))(logits, labels)
    return jnp.sum(per_member), stats

  def predict(self, variables: dict[str, Any],
              x: heads.HeadInput) -> tuple[jax.Array, jax.Array]:
    """(labels [N, R, R] int32, per-image uncertainty [N])."""
    logits, _ = self.apply(variables, x, train=False)
    if self.members == 1:
      return (jnp.argmax(logits, -1).astype(jnp.int32),
              entropy_uncertainty(logits))
    member_labels = jnp.argmax(logits, -1)
    return (majority_vote(member_labels, logits.shape[-1]),
            js_uncertainty(logits))


def hfc_blocks(gen_config: stylegan2.GeneratorConfig,
               requested: int) -> list[tuple[int, int]]:
  """HFC-KMeans blocks: conv-layer pairs at 8^2, 16^2, ... (const skipped)."""
  available = (gen_config.num_layers - 1) // 2
  return [(1 + 2 * k, 2 + 2 * k) for k in range(min(requested, available))]


def _block_maps(feats: Sequence[jax.Array], pair: tuple[int, int]):
  return jnp.concatenate([feats[pair[0]], feats[pair[1]]], axis=-1)


def fit_hfc_centres(
    gen: stylegan2.Generator,
    w: jax.Array,
    psi: float,
    config: ml_collections.ConfigDict,
    key: jax.Array,
) -> list[jax.Array]:
  """k-means centres per block, fitted on perturbed copies of one latent.

  For block k, `hfc_samples` copies of the one-shot latent get W+ rows 2k and
  2k + 1 resampled (the views' perturbation, docs/method.md §6); the
  block's two conv maps of every copy are pooled and clustered into
  `hfc_clusters[k]` centres.

  Args:
    gen: the frozen generator.
    w: the one-shot latent, untruncated, [w_dim] or [num_ws, w_dim].
    psi: its truncation.
    config: the experiment config (`baselines.*`, `views.*`).
    key: PRNG key.

  Returns:
    One [k, 2 c] centre matrix per block.
  """
  b = config.baselines
  gcfg = gen.config
  w_avg = gen.variables['buffers']['mapping']['w_avg']
  blocks = hfc_blocks(gcfg, b.hfc_blocks)
  mapping = lambda z: gen.mapping(z, psi=1.0)
  centres = []
  for k, pair in enumerate(blocks):
    kk = jax.random.fold_in(key, k)
    copies = jnp.broadcast_to(w, (b.hfc_samples,) + w.shape)
    ws = views.perturb_wplus(
        kk, copies, mapping, w_avg, num_ws=gcfg.num_ws, z_dim=gcfg.z_dim,
        num_blocks=len(blocks), strength=config.views.strength, psi=psi,
        double_truncation=config.views.double_truncation, block=k)
    _, feats = gen.synthesis(ws)
    x = _block_maps(feats, pair)
    x = x.reshape(-1, x.shape[-1])
    centres.append(kmeans.fit(jax.random.fold_in(kk, 1), x,
                              int(b.hfc_clusters[k]), b.kmeans_iters,
                              b.kmeans_inits, b.kmeans_tol))
  return centres


def build(name: str, config: ml_collections.ConfigDict,
          gen_config: stylegan2.GeneratorConfig, num_classes: int,
          swav_model: Any = None, simclr_model: Any = None) -> Segmenter:
  """The method `name` for a generator and a config.

  Args:
    name: one of METHODS.
    config: experiment config (`oneshot.*`, `baselines.*`).
    gen_config: the generator's architecture.
    num_classes: C.
    swav_model: `stages.swav.SwAVModel` (needed by 'ours').
    simclr_model: `stages.simclr.SimCLRModel` (needed by 'hfc_simclr').

  Returns:
    The segmenter. Frozen inputs: 'ours' {'params', 'batch_stats'} of the
    SwAV head; 'hfc_simclr' those of the SimCLR projection; 'hfc_kmeans'
    {'centres': [...]} ; the others {}.
  """
  res = gen_config.resolution
  b, o = config.baselines, config.oneshot
  raw_layers = tuple(range(gen_config.num_layers))
  raw = lambda frozen, feats: [feats[i] for i in raw_layers]
  if name == 'ours':
    if swav_model is None:
      raise ValueError("method 'ours' needs the SwAV stage's model")
    interp = swav_model.head.interpolation
    head = (heads.LinHead(num_classes, out_res=res, interpolation=interp)
            if o.head == 'Lin' else
            heads.ConvHead(num_classes, o.head, o.reference_logits,
                           out_res=res, interpolation=interp))
    if swav_model.head.kind == 'linear':
      # The head's first layer absorbs the projection (exact, and the
      # 512-channel embedding map is never built).
      make = lambda frozen, feats: heads.ProjectedMaps(
          swav_model.pick(feats), frozen['params']['kernel'])
    else:
      make = lambda frozen, feats: swav_model.embed_maps(
          {'head': frozen['params']}, frozen['batch_stats'], feats)
    return Segmenter(name, num_classes, head, make)
  interp = b.interpolation  # raw-feature upsampling
  if name == 'repurposegan':
    return Segmenter(name, num_classes, heads.ConvHead(
        num_classes, b.repurposegan_head, out_res=res, interpolation=interp),
                     raw)
  if name == 'datasetgan':
    return Segmenter(name, num_classes, heads.PixelMLP(
        num_classes, datasetgan_init=False, out_res=res,
        interpolation=interp), raw)
  if name == 'datasetgan_ensemble':
    return Segmenter(name, num_classes, heads.PixelMLP(
        num_classes, datasetgan_init=True, out_res=res, interpolation=interp),
                     raw, members=int(b.datasetgan_members))
  if name == 'hfc_kmeans':
    blocks = hfc_blocks(gen_config, b.hfc_blocks)

    def make_input(frozen, feats):
      maps = []
      for pair, centres in zip(blocks, frozen['centres']):
        idx = kmeans.assign(_block_maps(feats, pair), centres)
        maps.append(jax.nn.one_hot(idx, centres.shape[0]))
      return 2.0 * feat_lib.concat_maps(maps, res) - 1.0
    return Segmenter(name, num_classes,
                     heads.ConvHead(num_classes, b.hfc_head), make_input)
  if name == 'hfc_simclr':
    if simclr_model is None:
      raise ValueError("method 'hfc_simclr' needs the SimCLR stage's model")
    return Segmenter(name, num_classes,
                     heads.ConvHead(num_classes, b.simclr_head),
                     simclr_model.embed_maps)
  raise ValueError(f'unknown method {name!r}; one of {METHODS}')
