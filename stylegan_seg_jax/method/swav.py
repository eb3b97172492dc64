"""Pixel-wise SwAV: projection heads, prototypes, ott-jax Sinkhorn codes, loss.

Per image and per patch of sampled pixels (docs/method.md §4):

    e^v = head(h^v)                     pixel embeddings of view v in {s, t}
    S^v = normalize(e^v) C + b          scores against K prototypes
    q^v = Sinkhorn(S^v)                 codes, no gradient
    L   = -1/2 [ mean_i sum_k q^s_ik log softmax_k(S^t_i / tau)
               + mean_i sum_k q^t_ik log softmax_k(S^s_i / tau) ]

The prototype matrix C has unit-norm rows (one per prototype, re-normalised
at the start of every step) and a bias b. Codes come from ott-jax's log-domain
Sinkhorn with a fixed iteration count: n iterations equal n iterations of the
reference (kernel-domain) `sinkhorn_knopp`, without its float32 overflow of
exp(S / eps) at eps = 0.005.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
from ott.geometry import geometry
from ott.problems.linear import linear_problem
from ott.solvers.linear import sinkhorn

from stylegan_seg_jax.method import features as feat_lib
from stylegan_seg_jax.method.initializers import torch_default_init

__all__ = ['HeadKind', 'Marginals', 'ProjectionHead', 'Prototypes',
           'normalize_prototypes', 'scores', 'score_factors',
           'sinkhorn_potential', 'codes_from_potential', 'sinkhorn_codes',
           'image_marginals', 'swapped_loss', 'chunked_swapped_loss']

HeadKind = Literal['linear', '1-layer', '2-layer']
Marginals = Literal['uniform', 'image']


class ProjectionHead(nn.Module):
  """Maps pixel features h(p) (never materialised) to embeddings e(p).

  `linear`: e = P h (the reference's Linear(C_total -> D, bias=False));
  `1-layer`: leaky_relu(P h, 0.01); `2-layer`: P h -> BatchNorm -> leaky ReLU
  -> Linear(D -> D, no bias) -> BatchNorm -> tanh. BatchNorm statistics are
  taken over the sampled pixels (and over devices when `axis_name` is set).

  Attributes:
    channels: channels of each selected generator layer, in order.
    dim: embedding width D.
    kind: head variant.
    interpolation: upsampling of the layers to the output grid.
    out_res: output grid resolution.
    axis_name: device axis for BatchNorm statistics in training.
    naive: compute embeddings the reference's way (upsample every layer to
      the output grid, concatenate, project, then read the pixels); same
      result, for tests and the benchmark only.
  """

  channels: tuple[int, ...]
  dim: int = 512
  kind: HeadKind = 'linear'
  interpolation: feat_lib.Interpolation = 'nearest'
  out_res: int = 256
  axis_name: str | None = None
  naive: bool = False

  def setup(self):
    """Declares the projection P and, for '2-layer', the later layers."""
    fan_in = sum(self.channels)
    self.kernel = self.param('kernel', torch_default_init(fan_in),
                             (fan_in, self.dim))
    if self.kind == '2-layer':
      self.bn1 = nn.BatchNorm(axis_name=self.axis_name, momentum=0.9,
                              epsilon=1e-5)
      self.fc2 = nn.Dense(self.dim, use_bias=False,
                          kernel_init=torch_default_init(self.dim))
      self.bn2 = nn.BatchNorm(axis_name=self.axis_name, momentum=0.9,
                              epsilon=1e-5)

  def _finish(self, e: jax.Array, train: bool) -> jax.Array:
    if self.kind == 'linear':
      return e
    if self.kind == '1-layer':
      return jax.nn.leaky_relu(e, 0.01)
    if self.kind != '2-layer':
      raise ValueError(f'unknown head kind {self.kind!r}')
    shape = e.shape
    e = e.reshape(-1, self.dim)
    e = jax.nn.leaky_relu(self.bn1(e, use_running_average=not train), 0.01)
    e = jnp.tanh(self.bn2(self.fc2(e), use_running_average=not train))
    return e.reshape(shape)

  def __call__(self, feats: Sequence[jax.Array], coords: jax.Array,
               valid: jax.Array | None = None, train: bool = True) -> jax.Array:
    """Embeddings [N, P, D] at output pixels coords [N, P, 2]."""
    if self.naive:
      maps = feat_lib.naive_embed_maps(feats, self.kernel, self.out_res,
                                       self.interpolation)
      e = jax.vmap(lambda m, c: m[c[:, 0], c[:, 1]])(maps, coords)
      if valid is not None:
        e = jnp.where(valid[..., None], e, 0.0)
    else:
      e = feat_lib.embed_pixels(feats, self.kernel, coords, self.out_res,
                                self.interpolation, valid)
    return self._finish(e, train)

  def embed_maps(self, feats: Sequence[jax.Array]) -> jax.Array:
    """Full embedding maps [N, R, R, D] (inference: running statistics)."""
    e = feat_lib.embed_maps(feats, self.kernel, self.out_res,
                            self.interpolation)
    return self._finish(e, train=False)


class Prototypes(nn.Module):
  """K prototypes with a bias: scores = e @ kernel + bias, kernel [D, K]."""

  num_prototypes: int

  @nn.compact
  def __call__(self, e: jax.Array) -> jax.Array:
    """Scores [..., K] of embeddings e [..., D]."""
    dim = e.shape[-1]
    kernel = self.param('kernel', torch_default_init(dim),
                        (dim, self.num_prototypes))
    bias = self.param('bias', torch_default_init(dim), (self.num_prototypes,))
    return e @ kernel + bias


def normalize_prototypes(params: dict) -> dict:
  """Re-normalises each prototype (a column of the kernel) to unit norm."""
  kernel = params['kernel']
  norm = jnp.sqrt(jnp.sum(jnp.square(kernel), axis=0, keepdims=True))
  return {**params, 'kernel': kernel / jnp.maximum(norm, 1e-12)}


def scores(prototypes: Prototypes, proto_params: dict,
           e: jax.Array) -> jax.Array:
  """S = normalize(e) C + b for embeddings e [..., D] -> [..., K]."""
  # Without `mutable`, apply returns the module's output alone.
  return cast(jax.Array,
              prototypes.apply({'params': proto_params}, _normalize(e)))


def _normalize(e: jax.Array) -> jax.Array:
  norm = jnp.sqrt(jnp.sum(jnp.square(e), axis=-1, keepdims=True))
  return e / jnp.maximum(norm, 1e-12)  # F.normalize; zero stays zero


def score_factors(proto_params: dict,
                  e: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Factors (x [..., D+1], y [K, D+1]) with x @ y.T == scores(e).

  The bias rides on a constant 1 appended to the normalised embeddings.
  """
  x = _normalize(e)
  x = jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype)], axis=-1)
  y = jnp.concatenate([proto_params['kernel'].T,
                       proto_params['bias'][:, None]], axis=-1)
  return x, y


def sinkhorn_potential(s: jax.Array, epsilon: float, num_iters: int,
                       a: jax.Array | None = None,
                       b: jax.Array | None = None) -> jax.Array:
  """Prototype-side dual potential g [K] of one problem's scores s [B, K].

  ott-jax's log-domain Sinkhorn on the cost -s with a fixed iteration count
  (`inner_iterations=1`, so exactly `num_iters` iterations run). The codes are
  then `codes_from_potential(s, g, epsilon)`: the transport plan
  exp((f_i + g_k + s_ik) / eps), normalised per sample, does not depend on f.

  Args:
    s: scores of B samples against K prototypes.
    epsilon: entropic regularisation (the reference's eps, e.g. 0.005).
    num_iters: fixed number of Sinkhorn iterations (10 in the reference).
    a: sample marginal [B] (uniform if None).
    b: prototype marginal [K] (uniform if None).

  Returns:
    g, with gradients stopped.
  """
  s = jax.lax.stop_gradient(s).astype(jnp.float32)
  geom = geometry.Geometry(cost_matrix=-s, epsilon=epsilon)
  prob = linear_problem.LinearProblem(geom, a=a, b=b)
  solver = sinkhorn.Sinkhorn(min_iterations=num_iters,
                             max_iterations=num_iters, inner_iterations=1,
                             lse_mode=True)
  return jax.lax.stop_gradient(solver(prob).g)


def codes_from_potential(s: jax.Array, g: jax.Array,
                         epsilon: float) -> jax.Array:
  """Codes softmax_k((s_ik + g_k) / eps): rows sum to 1, no gradient."""
  s = jax.lax.stop_gradient(s)
  return jax.nn.softmax((s + g) / epsilon, axis=-1)


def sinkhorn_codes(s: jax.Array, epsilon: float, num_iters: int,
                   a: jax.Array | None = None,
                   b: jax.Array | None = None) -> jax.Array:
  """SwAV codes of one problem: scores [B, K] -> Q [B, K], rows summing to 1.

  Equals the reference's `sinkhorn_knopp` after the same number of
  iterations (tests/swav_test.py), without its float32 overflow.
  """
  g = sinkhorn_potential(s, epsilon, num_iters, a, b)
  return codes_from_potential(s, g, epsilon)


def image_marginals(norms: jax.Array, num_samples: int,
                    num_prototypes: int) -> tuple[jax.Array, jax.Array]:
  """The reference's `source_pdf='image'` marginals (a quirk, kept as such).

  Histograms (torch.histc: equal-width bins between the min and the max) of
  the view's per-pixel feature-norm map over the whole image, with
  num_samples and num_prototypes bins, + 1e-9, bin 0 set to bin 1, normalised.
  They are unrelated to which pixels were sampled.

  Args:
    norms: [R * R] the view's ||h(p)|| map.
    num_samples: B.
    num_prototypes: K.

  Returns:
    (a [B], b [K]).
  """
  lo, hi = jnp.min(norms), jnp.max(norms)

  def hist(bins):
    scale = jnp.where(hi > lo, bins / (hi - lo), 0.0)
    idx = jnp.clip(jnp.floor((norms - lo) * scale), 0, bins - 1).astype(
        jnp.int32)
    h = jnp.zeros((bins,), jnp.float32).at[idx].add(1.0) + 1e-9
    h = h.at[0].set(h[1])
    return h / jnp.sum(h)

  return hist(num_samples), hist(num_prototypes)


def swapped_loss(s_s: jax.Array, s_t: jax.Array, q_s: jax.Array,
                 q_t: jax.Array, temperature: float) -> jax.Array:
  """The swapped-prediction loss of one patch (scores/codes [B, K])."""
  log_p_t = jax.nn.log_softmax(s_t / temperature, axis=-1)
  log_p_s = jax.nn.log_softmax(s_s / temperature, axis=-1)
  return -0.5 * (jnp.mean(jnp.sum(q_s * log_p_t, axis=-1))
                 + jnp.mean(jnp.sum(q_t * log_p_s, axis=-1)))


def chunked_swapped_loss(x_s: jax.Array, x_t: jax.Array, y: jax.Array,
                         g_s: jax.Array, g_t: jax.Array, *, epsilon: float,
                         temperature: float, chunk: int) -> jax.Array:
  """`swapped_loss` of scores s = x @ y.T, computed over pixel chunks.

  Equal to `swapped_loss(x_s y^T, x_t y^T, codes_s, codes_t)` with codes from
  the potentials g, but only `chunk` rows of the [B, K] score matrices exist
  at a time, in the forward and (rematerialised) backward pass.

  Args:
    x_s: [B, D] score factors of view s (normalised embeddings, with a
      trailing 1 when y carries the prototype bias).
    x_t: [B, D] score factors of view t, likewise.
    y: [K, D] prototypes (and bias column).
    g_s: [K] Sinkhorn potential of view s's full score matrix.
    g_t: [K] Sinkhorn potential of view t's full score matrix.
    epsilon: Sinkhorn regularisation the potentials were computed with.
    temperature: softmax temperature tau.
    chunk: rows per chunk.

  Returns:
    The scalar loss (mean over the B pixels).
  """
  b = x_s.shape[0]
  chunk = min(chunk, b)
  # Prefer a chunk that divides b (no padded copies of x), if not too small.
  divisor = max(d for d in range(1, chunk + 1) if b % d == 0)
  if 2 * divisor >= chunk:
    chunk = divisor
  n_chunks = -(-b // chunk)
  pad = n_chunks * chunk - b
  weight = jnp.pad(jnp.ones((b,), jnp.float32), (0, pad))
  split = lambda x: jnp.pad(x, ((0, pad), (0, 0))).reshape(n_chunks, chunk, -1)

  @jax.checkpoint
  def part(x_s_c, x_t_c, w_c):
    s_s, s_t = x_s_c @ y.T, x_t_c @ y.T
    q_s = codes_from_potential(s_s, g_s, epsilon)
    q_t = codes_from_potential(s_t, g_t, epsilon)
    log_p_t = jax.nn.log_softmax(s_t / temperature, axis=-1)
    log_p_s = jax.nn.log_softmax(s_s / temperature, axis=-1)
    per_pixel = jnp.sum(q_s * log_p_t, axis=-1) + jnp.sum(q_t * log_p_s, -1)
    return jnp.sum(per_pixel * w_c)

  def body(total, xs):
    return total + part(*xs), None

  # A weakly typed 0 (like the literal 0.0), as an array.
  total, _ = jax.lax.scan(
      body, jnp.asarray(0.0),
      (split(x_s), split(x_t), weight.reshape(n_chunks, chunk)))
  return -0.5 * total / b
