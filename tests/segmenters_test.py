"""k-means, ensemble voting, and on-the-fly segmentation against naive paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import tiny
from stylegan_seg_jax import features as feat_lib
from stylegan_seg_jax import heads
from stylegan_seg_jax import kmeans
from stylegan_seg_jax import parallel
from stylegan_seg_jax import segmentation
from stylegan_seg_jax import segmenters
from stylegan_seg_jax import swav_stage
from stylegan_seg_jax import toy


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


@pytest.fixture(scope='module')
def toy_setup():
  gen = toy.load_generator()
  config = tiny.get_config()
  return gen, config


@pytest.mark.parametrize('name', ['ours', 'repurposegan',
                                  'datasetgan_ensemble', 'hfc_kmeans'])
def test_on_the_fly_equals_two_pass_reference_and_shards(toy_setup, name):
  """One generator pass + lean head == generate, concat features, head."""
  gen, config = toy_setup
  num_classes = len(toy.CLASS_NAMES)
  swav_model = swav_stage.SwAVModel(config, gen.config)
  seg = segmenters.build(name, config, gen.config, num_classes, swav_model)
  w = gen.mapping(toy.latents(range(8)), psi=1.0)
  frozen = {}
  if name == 'ours':
    state = swav_stage.init_state(swav_model, swav_stage.make_optimizer(
        config), jax.random.key(2))
    frozen = {'params': state.params['head'], 'batch_stats': {}}
  if name == 'hfc_kmeans':
    frozen = {'centres': segmenters.fit_hfc_centres(gen, w[0], 1.0, config,
                                                    jax.random.key(0))}
    assert [c.shape[0] for c in frozen['centres']] == [4, 8, 16, 32]
  _, feats = gen.synthesis(w[:1])
  variables = seg.init(jax.random.key(1), seg.make_input(frozen, feats))
  images, labels, unc = segmentation.make_segment_fn(gen, seg)(
      gen.params, variables, frozen, w)
  # Reference path: a second generator pass, the materialised concat.
  ref_images, ref_feats = gen.synthesis(w)
  x = seg.make_input(frozen, ref_feats)
  if isinstance(x, heads.ProjectedMaps):  # ours: the 32-d embedding map
    x = feat_lib.naive_embed_maps(x.maps, x.projection, gen.config.resolution)
  if isinstance(x, list):
    x = feat_lib.concat_maps(x, gen.config.resolution)
    assert x.shape[-1] == sum(c for _, c in gen.config.feature_shapes())
  ref_labels, ref_unc = seg.predict(variables, x)
  np.testing.assert_allclose(images, ref_images, atol=1e-5)
  assert np.mean(np.asarray(labels) == np.asarray(ref_labels)) > 0.999
  np.testing.assert_allclose(unc, ref_unc, rtol=1e-3, atol=1e-5)
  # Sharded over the 8 forced devices: same result.
  mesh = parallel.make_mesh()
  sharded = segmentation.make_segment_fn(gen, seg, mesh)(
      gen.params, variables, frozen, w)
  np.testing.assert_array_equal(sharded[1], labels)
  assert labels.shape == (8, 64, 64) and unc.shape == (8,)


def test_segment_all_pads_and_times(toy_setup):
  gen, config = toy_setup
  seg = segmenters.build('repurposegan', config, gen.config, 8)
  w = gen.mapping(toy.latents(range(5)), psi=1.0)
  _, feats = gen.synthesis(w[:1])
  variables = seg.init(jax.random.key(1), seg.make_input({}, feats))
  fn = segmentation.make_segment_fn(gen, seg)
  images, labels, unc, secs = segmentation.segment_all(
      fn, gen.params, variables, {}, np.asarray(w), batch_size=2)
  assert images.shape == (5, 64, 64, 3) and labels.shape == (5, 64, 64)
  np.testing.assert_array_equal(labels, fn(gen.params, variables, {}, w)[1])
  assert secs > 0 and unc.shape == (5,)
