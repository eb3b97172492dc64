"""k-means in JAX for the HFC-KMeans baseline (sklearn's algorithm, jitted).

`fit` runs k-means++ seeding (D^2 sampling) followed by a fixed number of
Lloyd iterations, `num_init` times from independent keys, and keeps the run
with the lowest inertia, like `sklearn.cluster.KMeans` (whose defaults in
the reference's sklearn 1.0.2 are k-means++, 10 inits, 300 iterations). A
cluster that loses all its points keeps its previous centre.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ['assign', 'inertia', 'kmeans_plus_plus', 'lloyd', 'fit']


def _sq_dists(x: jax.Array, centres: jax.Array) -> jax.Array:
  """||x_i - c_k||^2 [M, K] without forming differences."""
  return (jnp.sum(jnp.square(x), -1)[:, None] - 2.0 * x @ centres.T
          + jnp.sum(jnp.square(centres), -1)[None, :])


def assign(x: jax.Array, centres: jax.Array) -> jax.Array:
  """Index of the nearest centre of each row of x [..., D] -> [...]."""
  flat = x.reshape(-1, x.shape[-1])
  return jnp.argmin(_sq_dists(flat, centres), axis=-1).reshape(x.shape[:-1])


def inertia(x: jax.Array, centres: jax.Array) -> jax.Array:
  """Sum of squared distances of the rows of x [M, D] to their centres."""
  return jnp.sum(jnp.maximum(jnp.min(_sq_dists(x, centres), axis=-1), 0.0))


def kmeans_plus_plus(key: jax.Array, x: jax.Array, k: int) -> jax.Array:
  """k-means++ seeding: each new centre drawn with probability ~ D(x)^2."""
  m = x.shape[0]
  k0, key = jax.random.split(key)
  first = x[jax.random.randint(k0, (), 0, m)]
  centres = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(first)
  d2 = jnp.sum(jnp.square(x - first), -1)

  def body(i, carry):
    centres, d2 = carry
    p = jnp.maximum(d2, 0.0)
    p = jnp.where(jnp.sum(p) > 0, p / jnp.sum(p), jnp.full_like(p, 1.0 / m))
    idx = jax.random.choice(jax.random.fold_in(key, i), m, p=p)
    c = x[idx]
    d2 = jnp.minimum(d2, jnp.sum(jnp.square(x - c), -1))
    return centres.at[i].set(c), d2

  centres, _ = jax.lax.fori_loop(1, k, body, (centres, d2))
  return centres


def lloyd(x: jax.Array, centres: jax.Array, num_iters: int) -> jax.Array:
  """`num_iters` Lloyd updates (assign, then average) from `centres`."""
  k = centres.shape[0]

  def body(_, centres):
    one_hot = jax.nn.one_hot(assign(x, centres), k, dtype=x.dtype)
    counts = jnp.sum(one_hot, axis=0)
    sums = one_hot.T @ x
    return jnp.where(counts[:, None] > 0,
                     sums / jnp.maximum(counts, 1.0)[:, None], centres)

  return jax.lax.fori_loop(0, num_iters, body, centres)


@functools.partial(jax.jit, static_argnames=('k', 'num_iters', 'num_init'))
def fit(key: jax.Array, x: jax.Array, k: int, num_iters: int = 100,
        num_init: int = 3) -> jax.Array:
  """Best-of-`num_init` k-means centres [k, D] of the rows of x [M, D]."""
  if x.shape[0] < k:
    raise ValueError(f'k-means: {x.shape[0]} points for {k} clusters')

  def run(key):
    c = lloyd(x, kmeans_plus_plus(key, x, k), num_iters)
    return c, inertia(x, c)

  centres, costs = jax.lax.map(run, jax.random.split(key, num_init))
  return centres[jnp.argmin(costs)]
