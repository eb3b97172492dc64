"""The SimCLR baseline's loss on hand-computed cases."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax.method import simclr

pytestmark = pytest.mark.fast

# Four 2-d samples, interleaved views (s0, t0, s1, t1): each positive pair
# is identical, the two pairs orthogonal. Cosines, tau = 1:
#   s = [[1 1 0 0], [1 1 0 0], [0 0 1 1], [0 0 1 1]].
TWO_PAIRS = jnp.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 1.0]])


def test_one_pair_has_zero_loss():
  """With 2 samples the only other sample is the positive: -log(1) = 0."""
  z = jnp.array([[1.0, 2.0], [-3.0, 0.5]])
  for reference in (False, True):
    assert float(simclr.nt_xent_loss(z, 0.5, reference_pairs=reference)
                 ) == pytest.approx(0.0, abs=1e-6)


def test_corrected_pairs_by_hand():
  """l(0, 1) = -log(e / (e + 1 + 1)); the four terms are equal."""
  got = float(simclr.nt_xent_loss(TWO_PAIRS, 1.0))
  assert got == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)


def test_reference_pairs_by_hand():
  """(2k - 1, 2k): (3, 0) and (1, 2), orthogonal, l = -log(1 / (2 + e))."""
  got = float(simclr.nt_xent_loss(TWO_PAIRS, 1.0, reference_pairs=True))
  assert got == pytest.approx(math.log(2 + math.e), rel=1e-6)
  np.testing.assert_array_equal(simclr.positive_pairs(2, reference=True),
                                [[3, 0], [1, 2]])
  np.testing.assert_array_equal(simclr.positive_pairs(2), [[0, 1], [2, 3]])


def test_temperature_scales_the_cosines():
  """tau = 0.5 doubles every cosine: l = -log(e^2 / (e^2 + 2))."""
  got = float(simclr.nt_xent_loss(TWO_PAIRS, 0.5))
  assert got == pytest.approx(math.log(1 + 2 / math.e ** 2), rel=1e-6)


def test_reference_similarity_compares_channels():
  """The reference scores the first 2B columns of z (its channels)."""
  # 4 samples x 5 channels; channels 0..3 are TWO_PAIRS' pattern over the
  # samples: channel c is TWO_PAIRS[c] spread over samples (0, 1) / (2, 3).
  z = np.zeros((4, 5))
  z[:, 0] = [1, 0, 0, 0]
  z[:, 1] = [2, 0, 0, 0]
  z[:, 2] = [0, 0, 3, 0]
  z[:, 3] = [0, 0, 1, 0]
  z[:, 4] = [7, -1, 2, 5]  # beyond the first 2B channels: ignored
  got = float(simclr.nt_xent_loss(jnp.asarray(z), 1.0,
                                  reference_similarity=True))
  assert got == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)
  # The corrected loss sees the samples, a different value.
  assert float(simclr.nt_xent_loss(jnp.asarray(z), 1.0)) != pytest.approx(
      got, rel=1e-3)
