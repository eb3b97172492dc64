"""k-means in JAX for the HFC-KMeans baseline: scikit-learn's algorithm, jitted.

`fit` follows `sklearn.cluster.KMeans` with its defaults (the reference
code calls it with `n_clusters` only): greedy k-means++ seeding
(2 + log(k) candidates per new centre, the one that lowers the potential
most is kept), then Lloyd iterations until the centres move less than a
tolerance relative to the data's mean per-feature variance (squared shift
summed over centres, `tol` = 1e-4) or `num_iters` (300) iterations; the best
of `num_init` (10) runs by inertia. The data are centred first, as
scikit-learn does, for float32 precision. A cluster that loses all its
points keeps its previous centre (scikit-learn moves it to a far point;
this is the one difference).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

__all__ = ['assign', 'inertia', 'kmeans_plus_plus', 'lloyd', 'fit']


def _sq_dists(x: jax.Array, centres: jax.Array) -> jax.Array:
  """||x_i - c_k||^2 [M, K] without forming differences."""
  return jnp.maximum(
      jnp.sum(jnp.square(x), -1)[:, None] - 2.0 * x @ centres.T
      + jnp.sum(jnp.square(centres), -1)[None, :], 0.0)


def assign(x: jax.Array, centres: jax.Array) -> jax.Array:
  """Index of the nearest centre of each row of x [..., D] -> [...]."""
  flat = x.reshape(-1, x.shape[-1])
  return jnp.argmin(_sq_dists(flat, centres), axis=-1).reshape(x.shape[:-1])


def inertia(x: jax.Array, centres: jax.Array) -> jax.Array:
  """Sum of squared distances of the rows of x [M, D] to their centres."""
  return jnp.sum(jnp.min(_sq_dists(x, centres), axis=-1))


def kmeans_plus_plus(key: jax.Array, x: jax.Array, k: int,
                     num_trials: int | None = None) -> jax.Array:
  """Greedy k-means++ seeding of k centres [k, D] from the rows of x [M, D].

  The first centre is a uniformly drawn point; each next one is the best,
  by the resulting potential (sum of squared distances to the nearest
  centre), of `num_trials` candidates drawn with probability ~ D(x)^2.

  Args:
    key: PRNG key.
    x: [M, D] points.
    k: number of centres.
    num_trials: candidates per centre (default scikit-learn's 2 + log k).
  """
  m = x.shape[0]
  trials = num_trials or 2 + int(math.log(k))
  k0, key = jax.random.split(key)
  first = x[jax.random.randint(k0, (), 0, m)]
  centres = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(first)
  d2 = _sq_dists(x, first[None])[:, 0]

  def body(i, carry):
    centres, d2 = carry
    total = jnp.sum(d2)
    p = jnp.where(total > 0, d2 / jnp.where(total > 0, total, 1.0),
                  jnp.full_like(d2, 1.0 / m))
    idx = jax.random.choice(jax.random.fold_in(key, i), m, (trials,), p=p)
    cand = jnp.minimum(d2[None], _sq_dists(x, x[idx]).T)  # [trials, M]
    best = jnp.argmin(jnp.sum(cand, axis=1))
    return centres.at[i].set(x[idx[best]]), cand[best]

  centres, _ = jax.lax.fori_loop(1, k, body, (centres, d2))
  return centres


def _lloyd_step(x: jax.Array, centres: jax.Array) -> jax.Array:
  k = centres.shape[0]
  one_hot = jax.nn.one_hot(assign(x, centres), k, dtype=x.dtype)
  counts = jnp.sum(one_hot, axis=0)
  sums = one_hot.T @ x
  return jnp.where(counts[:, None] > 0,
                   sums / jnp.maximum(counts, 1.0)[:, None], centres)


def lloyd(x: jax.Array, centres: jax.Array, num_iters: int,
          tol: float | jax.Array = 0.0) -> jax.Array:
  """Lloyd updates (assign, then average) from `centres`.

  Stops after `num_iters` updates, or once an update moves the centres by
  a summed squared shift of at most `tol` (absolute; 0 stops only at a
  fixed point, which changes nothing).
  """
  def cond(carry):
    i, _, shift = carry
    return (i < num_iters) & (shift > tol)

  def body(carry):
    i, centres, _ = carry
    new = _lloyd_step(x, centres)
    return i + 1, new, jnp.sum(jnp.square(new - centres))

  _, centres, _ = jax.lax.while_loop(
      cond, body, (jnp.int32(0), centres, jnp.asarray(jnp.inf, x.dtype)))
  return centres


@functools.partial(jax.jit, static_argnames=('k', 'num_iters', 'num_init'))
def fit(key: jax.Array, x: jax.Array, k: int, num_iters: int = 300,
        num_init: int = 10, tol: float = 1e-4) -> jax.Array:
  """Best-of-`num_init` k-means centres [k, D] of the rows of x [M, D].

  Args:
    key: PRNG key.
    x: [M, D] points, M >= k.
    k: number of clusters.
    num_iters: the most Lloyd iterations of a run.
    num_init: runs from independent seedings; the lowest inertia wins.
    tol: convergence tolerance relative to the mean per-feature variance
      of x (scikit-learn's `tol`).
  """
  if x.shape[0] < k:
    raise ValueError(f'k-means: {x.shape[0]} points for {k} clusters')
  mean = jnp.mean(x, axis=0)
  xc = x - mean
  abs_tol = tol * jnp.mean(jnp.var(xc, axis=0))

  def run(key):
    c = lloyd(xc, kmeans_plus_plus(key, xc, k), num_iters, abs_tol)
    return c, inertia(xc, c)

  centres, costs = jax.lax.map(run, jax.random.split(key, num_init))
  return centres[jnp.argmin(costs)] + mean
