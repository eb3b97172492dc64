"""k-means: Lloyd against a naive loop, and fit against scikit-learn."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax.method import kmeans
from stylegan_seg_jax.method import segmenters
from stylegan_seg_jax.method import views
from tests.helpers import tiny_config

FACES = domains.get('faces')

pytestmark = pytest.mark.fast


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


def _hfc_features(block):
  """The points HFC-KMeans clusters for one block of the toy generator."""
  gen = FACES.load_generator()
  config = tiny_config(**{'baselines.hfc_samples': 4})
  w = gen.mapping(FACES.latents([0]))[0]
  blocks = segmenters.hfc_blocks(gen.config, 4)
  ws = views.perturb_wplus(
      jax.random.key(block), jnp.broadcast_to(w, (4,) + w.shape),
      lambda z: gen.mapping(z), gen.variables['buffers']['mapping']['w_avg'],
      num_ws=gen.config.num_ws, z_dim=gen.config.z_dim,
      num_blocks=len(blocks), strength=config.views.strength, psi=1.0,
      block=block)
  _, feats = gen.synthesis(ws)
  a, b = blocks[block]
  x = np.concatenate([feats[a], feats[b]], axis=-1)
  return x.reshape(-1, x.shape[-1])


@pytest.mark.parametrize('block,k', [(1, 8), (2, 16)])
def test_inertia_within_one_percent_of_scikit_learn(block, k):
  sklearn_cluster = pytest.importorskip('sklearn.cluster')
  x = _hfc_features(block)
  theirs = sklearn_cluster.KMeans(n_clusters=k, n_init=10, random_state=0
                                  ).fit(x.astype(np.float64)).inertia_
  centres = kmeans.fit(jax.random.key(0), jnp.asarray(x), k)
  ours = float(kmeans.inertia(jnp.asarray(x, jnp.float32), centres))
  assert ours <= 1.01 * theirs, (ours, theirs)


def test_converged_runs_stop_early_and_agree():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(400, 3)), jnp.float32)
  init = x[:6]
  a = kmeans.lloyd(x, init, 300, tol=1e-12)
  b = kmeans.lloyd(x, init, 5000, tol=1e-12)
  np.testing.assert_array_equal(a, b)
  np.testing.assert_allclose(a, kmeans.lloyd(x, init, 5000), atol=1e-6)
