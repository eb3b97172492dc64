"""k-means and ensemble voting against naive and hand-computed references."""

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_seg_jax.method import kmeans
from stylegan_seg_jax.method import segmenters


def _naive_lloyd(x, centres, iters):
  """Textbook Lloyd iterations with Python loops over clusters."""
  c = np.array(centres, np.float64)
  for _ in range(iters):
    d = ((x[:, None, :] - c[None]) ** 2).sum(-1)
    a = d.argmin(1)
    for k in range(len(c)):
      if np.any(a == k):
        c[k] = x[a == k].mean(0)
  return c


def test_lloyd_matches_naive_and_fit_finds_clusters():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(300, 4)).astype(np.float32)
  init = x[:5]
  got = kmeans.lloyd(jnp.asarray(x), jnp.asarray(init), 7)
  np.testing.assert_allclose(got, _naive_lloyd(x, init, 7), atol=1e-4)
  # Three well separated blobs are recovered exactly.
  centres = np.array([[0, 0], [10, 0], [0, 10]], np.float32)
  blobs = np.concatenate([c + 0.1 * rng.normal(size=(50, 2)) for c in centres])
  fit = np.asarray(kmeans.fit(jax.random.key(0), jnp.asarray(
      blobs, jnp.float32), 3, num_iters=20, num_init=3))
  order = np.argsort(fit[:, 0] + 100 * fit[:, 1])
  np.testing.assert_allclose(fit[order], centres, atol=0.1)
  labels = np.asarray(kmeans.assign(jnp.asarray(blobs), jnp.asarray(fit)))
  assert all(len(set(labels[i * 50:(i + 1) * 50])) == 1 for i in range(3))


def test_majority_vote_and_js_uncertainty():
  votes = jnp.array([[[0, 1, 2]], [[1, 1, 0]], [[1, 2, 3]]])  # [E=3, 1, 3]
  np.testing.assert_array_equal(segmenters.majority_vote(votes, 4),
                                [[1, 1, 0]])  # ties -> smallest id
  same = jnp.broadcast_to(jnp.array([1.0, 0.0, -1.0]), (4, 2, 3, 3, 3))
  np.testing.assert_allclose(segmenters.js_uncertainty(same), 0.0, atol=1e-6)
  # Two confident members that disagree: JS = H([.5,.5]) - 0 = log 2.
  big = 50.0
  logits = jnp.stack([jnp.array([big, 0.0]), jnp.array([0.0, big])])
  logits = jnp.broadcast_to(logits[:, None, None, None], (2, 1, 2, 2, 2))
  np.testing.assert_allclose(segmenters.js_uncertainty(logits), np.log(2),
                             rtol=1e-5)
