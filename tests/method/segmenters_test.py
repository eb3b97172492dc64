"""Ensemble voting and uncertainty against hand-computed values."""

import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax.method import segmenters

pytestmark = pytest.mark.fast


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
