"""SwAV pieces against hand-written references of the reference code."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from configs import common
from stylegan_seg_jax.method import swav
from stylegan_seg_jax.stages import swav as swav_stage


def reference_sinkhorn_knopp(scores, eps, n_iters, c=None, r=None):
  """The reference sinkhorn_knopp (docs/method.md §4) in float64, with the
  max subtracted before exp (which the Q /= sum(Q) step makes harmless)."""
  s = np.asarray(scores, np.float64)
  q = np.exp((s - s.max()) / eps).T          # K x B
  q /= q.sum()
  k, b = q.shape
  r = np.full(k, 1.0 / k) if r is None else np.asarray(r, np.float64)
  c = np.full(b, 1.0 / b) if c is None else np.asarray(c, np.float64)
  for _ in range(n_iters):
    u = q.sum(axis=1)
    q *= (r / u)[:, None]
    q *= (c / q.sum(axis=0))[None, :]
  return (q / q.sum(axis=0, keepdims=True)).T


@pytest.mark.fast
@pytest.mark.parametrize('eps,iters,atol', [
    (0.1, 3, 2e-6), (0.05, 10, 2e-6),
    # The configs' values. The log-domain codes carry the float32 rounding
    # of logits |s| / eps (up to about 400 at eps 0.003): measured max
    # errors 4e-6, 8e-6 and 2.3e-5; the tolerances leave 4x.
    (0.01, 10, 2e-5), (0.005, 10, 4e-5), (0.003, 10, 1e-4)])
def test_codes_match_reference_formula(eps, iters, atol):
  rng = np.random.default_rng(0)
  e = rng.standard_normal((2000, 32))
  c = rng.standard_normal((32, 500))
  bias = rng.uniform(-1 / np.sqrt(32), 1 / np.sqrt(32), 500)
  s = (e / np.linalg.norm(e, axis=1, keepdims=True)) @ (
      c / np.linalg.norm(c, axis=0, keepdims=True)) + bias
  got = np.asarray(swav.sinkhorn_codes(jnp.asarray(s, jnp.float32), eps,
                                       iters))
  want = reference_sinkhorn_knopp(s, eps, iters)
  np.testing.assert_allclose(got, want, atol=atol)
  np.testing.assert_allclose(np.sum(got, axis=1), 1.0, atol=1e-5)
  # The codes are not degenerate: the assignment spreads over prototypes.
  assert len(np.unique(np.argmax(want, axis=1))) > 100


@pytest.mark.fast
def test_codes_with_marginals_match_reference():
  rng = np.random.default_rng(1)
  s = rng.uniform(-1, 1, (200, 12))
  a = rng.uniform(0.5, 1.5, 200)
  a /= a.sum()
  b = rng.uniform(0.5, 1.5, 12)
  b /= b.sum()
  got = swav.sinkhorn_codes(jnp.asarray(s, jnp.float32), 0.05, 10,
                            jnp.asarray(a, jnp.float32),
                            jnp.asarray(b, jnp.float32))
  np.testing.assert_allclose(got, reference_sinkhorn_knopp(s, 0.05, 10, a, b),
                             atol=2e-5)


@pytest.mark.fast
def test_reference_overflow_is_avoided():
  s = np.full((50, 8), 0.9, np.float32)
  s[:, 0] = 0.95
  with np.errstate(over='ignore'):
    assert not np.all(np.isfinite(np.exp(s / 0.005)))  # the reference's exp
  q = np.asarray(swav.sinkhorn_codes(jnp.asarray(s), 0.005, 10))
  assert np.all(np.isfinite(q))
  np.testing.assert_allclose(q.sum(1), 1.0, atol=1e-5)


@pytest.mark.fast
def test_swapped_loss_by_hand():
  s_s = jnp.array([[1.0, 0.0]])
  s_t = jnp.array([[0.0, 2.0]])
  q_s = jnp.array([[1.0, 0.0]])
  q_t = jnp.array([[0.25, 0.75]])
  tau = 0.5
  lp_t = jax.nn.log_softmax(s_t / tau)
  lp_s = jax.nn.log_softmax(s_s / tau)
  want = -0.5 * (lp_t[0, 0] + 0.25 * lp_s[0, 0] + 0.75 * lp_s[0, 1])
  np.testing.assert_allclose(swav.swapped_loss(s_s, s_t, q_s, q_t, tau), want,
                             rtol=1e-6)


@pytest.mark.fast
def test_prototypes_scores_and_normalisation():
  protos = swav.Prototypes(3)
  params = protos.init(jax.random.key(0), jnp.zeros((1, 4)))['params']
  params = swav.normalize_prototypes(params)
  np.testing.assert_allclose(np.linalg.norm(params['kernel'], axis=0), 1.0,
                             rtol=1e-6)
  e = jnp.array([[3.0, 0.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
  s = swav.scores(protos, params, e)
  want0 = (np.array([0.6, 0, 0, 0.8]) @ params['kernel']) + params['bias']
  np.testing.assert_allclose(s[0], want0, rtol=1e-5)
  np.testing.assert_allclose(s[1], params['bias'])  # zero embedding


@pytest.mark.fast
def test_image_marginals_match_torch_histc():
  norms = np.random.default_rng(2).gamma(2.0, 1.0, 500).astype(np.float32)
  a, b = swav.image_marginals(jnp.asarray(norms), 40, 7)
  for got, bins in ((a, 40), (b, 7)):
    h = torch.histc(torch.from_numpy(norms), bins=bins).numpy() + 1e-9
    h[0] = h[1]
    np.testing.assert_allclose(got, h / h.sum(), rtol=1e-5, atol=1e-9)


@pytest.mark.fast
def test_larc_sgd_matches_hand_written_apex_step():
  config = common.base_config()
  tx = swav_stage.make_optimizer(config)
  params = {'p': jnp.array([3.0, 4.0]), 'q': jnp.array([[1.0, -2.0]])}
  grads = [{'p': jnp.array([0.5, -1.0]), 'q': jnp.array([[2.0, 0.0]])},
           {'p': jnp.array([-0.3, 0.2]), 'q': jnp.array([[0.1, 0.4]])}]
  state = tx.init(params)
  ref = {k: np.asarray(v, np.float64) for k, v in params.items()}
  buf = {k: np.zeros_like(v) for k, v in ref.items()}
  for g in grads:
    updates, state = tx.update(g, state, params)
    params = optax.apply_updates(params, updates)
    for k in ref:  # apex LARC(clip=False) then SGD(momentum=0.9)
      gk = np.asarray(g[k], np.float64)
      scale = 0.01 * np.linalg.norm(ref[k]) / (np.linalg.norm(gk) + 1e-8)
      buf[k] = 0.9 * buf[k] + gk * scale
      ref[k] = ref[k] - 0.01 * buf[k]
  for k in ref:
    np.testing.assert_allclose(params[k], ref[k], rtol=1e-6)


@pytest.mark.slow
def test_chunked_loss_equals_full_loss_and_gradients():
  rng = np.random.default_rng(3)
  x_s, x_t = (jnp.asarray(rng.standard_normal((37, 6)), jnp.float32) * 0.3
              for _ in range(2))
  y = jnp.asarray(rng.standard_normal((9, 6)), jnp.float32) * 0.3
  eps, tau = 0.05, 0.1
  g_s = swav.sinkhorn_potential(x_s @ y.T, eps, 5)
  g_t = swav.sinkhorn_potential(x_t @ y.T, eps, 5)

  def full(x_s, x_t, y):
    s_s, s_t = x_s @ y.T, x_t @ y.T
    q_s = swav.sinkhorn_codes(s_s, eps, 5)
    q_t = swav.sinkhorn_codes(s_t, eps, 5)
    return swav.swapped_loss(s_s, s_t, q_s, q_t, tau)

  def chunked(x_s, x_t, y):
    return swav.chunked_swapped_loss(x_s, x_t, y, g_s, g_t, epsilon=eps,
                                     temperature=tau, chunk=8)  # 37 = 4*8+5

  np.testing.assert_allclose(chunked(x_s, x_t, y), full(x_s, x_t, y),
                             rtol=1e-5)
  ga = jax.grad(full, argnums=(0, 1, 2))(x_s, x_t, y)
  gb = jax.grad(chunked, argnums=(0, 1, 2))(x_s, x_t, y)
  for a, b in zip(ga, gb):
    np.testing.assert_allclose(b, a, atol=1e-6, rtol=1e-4)


@pytest.mark.fast
def test_score_factors_reproduce_scores():
  protos = swav.Prototypes(5)
  params = protos.init(jax.random.key(1), jnp.zeros((1, 4)))['params']
  e = jax.random.normal(jax.random.key(2), (7, 4)).at[0].set(0.0)
  x, y = swav.score_factors(params, e)
  np.testing.assert_allclose(x @ y.T, swav.scores(protos, params, e),
                             rtol=1e-5, atol=1e-6)
