"""On-the-fly segmentation against a two-pass reference, sharded and batched."""

import jax
import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax.eval import segmentation
from stylegan_seg_jax.method import features as feat_lib
from stylegan_seg_jax.method import heads
from stylegan_seg_jax.method import segmenters
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import swav as swav_stage
from tests.helpers import tiny_config

FACES = domains.get('faces')


@pytest.fixture(scope='module')
def toy_setup():
  gen = FACES.load_generator()
  config = tiny_config()
  return gen, config


@pytest.mark.parametrize('name', [
    pytest.param('ours', marks=pytest.mark.fast),
    pytest.param('repurposegan', marks=pytest.mark.fast),
    pytest.param('datasetgan_ensemble', marks=pytest.mark.slow),
    pytest.param('hfc_kmeans', marks=pytest.mark.slow)])
def test_on_the_fly_equals_two_pass_reference_and_shards(toy_setup, name):
  """One generator pass + lean head == generate, concat features, head."""
  gen, config = toy_setup
  num_classes = len(FACES.class_names)
  swav_model = swav_stage.SwAVModel(config, gen.config)
  seg = segmenters.build(name, config, gen.config, num_classes, swav_model)
  w = gen.mapping(FACES.latents(range(8)), psi=1.0)
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
      gen.variables, variables, frozen, w)
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
      gen.variables, variables, frozen, w)
  np.testing.assert_array_equal(sharded[1], labels)
  assert labels.shape == (8, 64, 64) and unc.shape == (8,)


@pytest.mark.fast
def test_segment_all_pads_and_times(toy_setup):
  gen, config = toy_setup
  seg = segmenters.build('repurposegan', config, gen.config, 8)
  w = gen.mapping(FACES.latents(range(5)), psi=1.0)
  _, feats = gen.synthesis(w[:1])
  variables = seg.init(jax.random.key(1), seg.make_input({}, feats))
  fn = segmentation.make_segment_fn(gen, seg)
  images, labels, unc, secs = segmentation.segment_all(
      fn, gen.variables, variables, {}, np.asarray(w), batch_size=2)
  assert images.shape == (5, 64, 64, 3) and labels.shape == (5, 64, 64)
  np.testing.assert_array_equal(labels, fn(gen.variables, variables, {}, w)[1])
  assert secs > 0 and unc.shape == (5,)
