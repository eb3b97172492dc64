"""Every experiment config builds its SwAV model against its generator shape."""

import importlib
import pathlib

import jax
import pytest

from stylegan_seg_jax import generator as gen_lib
from stylegan_seg_jax import swav_stage

CONFIGS = sorted(p.stem for p in
                 (pathlib.Path(__file__).parents[1] / 'configs').glob('*.py')
                 if p.stem not in ('__init__', 'common', 'toy_faces'))


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds(name):
  config = importlib.import_module(f'configs.{name}').get_config()
  assert config.stage == 'swav'
  res = config.resolution or 64
  gcfg = gen_lib.GeneratorConfig(
      resolution=res, channels=tuple(gen_lib.rosinality_channels(res).items()))
  model = swav_stage.SwAVModel(config, gcfg)
  tx = swav_stage.make_optimizer(config)
  state = jax.eval_shape(lambda k: swav_stage.init_state(model, tx, k),
                         jax.random.key(0))
  assert state.params['head']['kernel'].shape == (
      sum(c for _, c in gcfg.feature_shapes()), config.swav.dim)
  assert state.params['prototypes']['kernel'].shape == (
      config.swav.dim, config.swav.num_prototypes)
  assert config.swav.patch_size <= res * res
  assert 2 * config.views.n_layers <= gcfg.num_ws
