"""W+ block resampling and the views' coordinate transforms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.method import views

pytestmark = pytest.mark.fast

W_DIM, NUM_WS = 4, 10


def _mapping(z):
  return jnp.tanh(z * 2.0) + 3.0  # any deterministic map, far from w


def test_perturb_replaces_one_block_single_truncation():
  w = jnp.arange(3 * W_DIM, dtype=jnp.float32).reshape(3, W_DIM) / 10
  w_avg = jnp.full((W_DIM,), 0.5)
  key = jax.random.key(0)
  out = views.perturb_wplus(key, w, _mapping, w_avg, num_ws=NUM_WS,
                              z_dim=W_DIM, num_blocks=4, psi=0.7)
  trunc = stylegan2.truncate(w, w_avg, 0.7)
  for i in range(3):
    changed = ~np.all(np.isclose(out[i], trunc[i]), axis=-1)
    rows = np.nonzero(changed)[0].tolist()
    assert len(rows) == 2 and rows[0] % 2 == 0 and rows[1] == rows[0] + 1
    assert rows[1] < 8  # only blocks 0..3
    # Replaced rows: truncate(mapping(z')), z' fresh per row.
    fresh = (out[i, rows] - w_avg) / 0.7 + w_avg
    assert np.all(np.abs(fresh - 3.0) <= 1.0 + 1e-5)
    assert not np.allclose(out[i, rows[0]], out[i, rows[1]])


def test_double_truncation_squares_psi_on_kept_rows():
  w = jnp.ones((1, W_DIM)) * 2.0
  w_avg = jnp.zeros((W_DIM,))
  out = views.perturb_wplus(jax.random.key(1), w, _mapping, w_avg,
                              num_ws=NUM_WS, z_dim=W_DIM, num_blocks=4, psi=0.5,
                              double_truncation=True)
  kept = np.all(np.isclose(out[0], 0.5), axis=-1)  # 2 * 0.5 * 0.5
  assert kept.sum() == NUM_WS - 2


def test_transforms_identity_flip_and_rotation():
  res = 8
  coords = jnp.stack(jnp.meshgrid(jnp.arange(res), jnp.arange(res),
                                  indexing='ij'), -1).reshape(1, -1, 2)
  ident = views.Transform(jnp.zeros(1), jnp.zeros(1, bool))
  src, valid = views.view_coords(coords, ident, res)
  np.testing.assert_array_equal(src, coords)
  assert bool(valid.all())
  flip = views.Transform(jnp.zeros(1), jnp.ones(1, bool))
  src, _ = views.view_coords(coords, flip, res)
  np.testing.assert_array_equal(src[..., 1], res - 1 - coords[..., 1])
  quarter = views.Transform(jnp.full((1,), math.pi / 2), jnp.zeros(1, bool))
  src, valid = views.view_coords(coords, quarter, res)
  assert bool(valid.all())  # a square rotated by 90 degrees stays inside
  # A quarter turn is a permutation of the pixels.
  flat = np.asarray(src[0, :, 0] * res + src[0, :, 1])
  assert sorted(flat.tolist()) == list(range(res * res))
  tilt = views.Transform(jnp.full((1,), math.radians(10)), jnp.zeros(1, bool))
  _, valid = views.view_coords(coords, tilt, res)
  assert not bool(valid[0, 0]) or not bool(valid[0, res - 1])  # corners leave


def test_align_views_pairs_the_same_source_pixel():
  res = 64
  key = jax.random.key(3)
  coords = jax.random.randint(key, (4, 500, 2), 0, res)
  ts = views.sample_transforms(jax.random.key(4), 4)
  tt = views.sample_transforms(jax.random.key(5), 4)
  (ss, vs), (st, vt) = views.pair_coords(coords, ts, tt, res, True)
  both = np.asarray(vs & vt)
  assert both.mean() > 0.8
  dist = np.abs(np.asarray(ss) - np.asarray(st)).max(-1)
  assert np.all(dist[both] <= 1)
  (ss, vs), (st, vt) = views.pair_coords(coords, ts, tt, res, False)
  dist = np.abs(np.asarray(ss) - np.asarray(st)).max(-1)
  assert np.mean(dist[np.asarray(vs & vt)] > 1) > 0.5  # reference: unpaired
