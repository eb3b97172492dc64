"""Every experiment config builds its SwAV model and every one-shot method
against the generator architecture it is meant for, on one schema."""

import importlib
import pathlib

import jax
import jax.numpy as jnp
import pytest

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax import toy
from stylegan_seg_jax.method import segmenters
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import swav as swav_stage
from stylegan_seg_jax.toy import generator_training

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / 'configs'
CONFIGS = sorted(p.stem for p in CONFIG_DIR.glob('*.py')
                 if p.stem not in ('__init__', 'common'))


def _run_at(resolution, config):
  return config.replace(resolution=resolution)


# The public checkpoints each real-domain config is for (the reference's
# checkpoint files; FFHQ and car are run up to 256 as the reference does).
_F = lambda res: stylegan2.GeneratorConfig(
    resolution=res, channels=tuple(stylegan2.rosinality_channels(res).items()))
ARCHITECTURES = {
    'ffhq256': _run_at(256, _F(1024)),   # stylegan2-ffhq-config-f.pt
    'lsun_car': _run_at(256, _F(512)),   # stylegan2-car-config-f.pt
    'lsun_cat': _F(256),                 # stylegan2-cat-config-f.pt
    'lsun_horse': _F(256),               # stylegan2-horse-config-f.pt
    'afhq': _run_at(256, stylegan2.GeneratorConfig(  # stylegan2-ada, 512
        resolution=512,
        channels=tuple(stylegan2.nvidia_channels(512).items()))),
}


def _architecture(name, config):
  if name in ARCHITECTURES:
    return ARCHITECTURES[name]
  if name == 'toy_generator':
    return generator_training.generator_config(config)
  assert config.generator_dir == 'toy', name
  return toy.load_generator().config


def test_every_config_is_listed():
  assert set(ARCHITECTURES) | {'tiny', 'toy_swav', 'toy_generator'} == set(
      CONFIGS)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_swav_and_every_oneshot_method(name):
  config = importlib.import_module(f'configs.{name}').get_config()
  assert config_lib.stages_of(config)
  base = importlib.import_module('configs.common').base_config()
  assert set(config.keys()) == set(base.keys()), 'one schema for all configs'
  gcfg = _architecture(name, config)
  assert (config.resolution or gcfg.resolution) == gcfg.resolution

  model = swav_stage.SwAVModel(config, gcfg)
  tx = swav_stage.make_optimizer(config)
  state = jax.eval_shape(lambda k: swav_stage.init_state(model, tx, k),
                         jax.random.key(0))
  assert state.params['head']['kernel'].shape == (
      sum(c for _, c in gcfg.feature_shapes()), config.swav.dim)
  assert state.params['prototypes']['kernel'].shape == (
      config.swav.dim, config.swav.num_prototypes)
  assert config.swav.patch_size <= gcfg.resolution ** 2
  assert 2 * config.views.num_blocks <= gcfg.num_ws

  num_classes = len(config.data.class_names)
  feats = [jax.ShapeDtypeStruct((1, r, r, c), jnp.float32)
           for r, c in gcfg.feature_shapes()]
  blocks = segmenters.hfc_blocks(gcfg, config.baselines.hfc_blocks)
  assert len(config.baselines.hfc_clusters) >= len(blocks)
  for method in config.oneshot.methods:
    seg = segmenters.build(method, config, gcfg, num_classes, model)
    frozen = {}
    if method == 'ours':
      frozen = {'params': state.params['head'],
                'batch_stats': state.batch_stats}
    elif method == 'hfc_kmeans':
      frozen = {'centres': [
          jax.ShapeDtypeStruct((k, 2 * gcfg.feature_shapes()[a][1]),
                               jnp.float32)
          for (a, _), k in zip(blocks, config.baselines.hfc_clusters)]}
    logits = jax.eval_shape(
        lambda f, x, s=seg: s.apply(s.init(jax.random.key(0),
                                           s.make_input(f, x)),
                                    s.make_input(f, x))[0], frozen, feats)
    assert logits.shape[-4:] == (1, gcfg.resolution, gcfg.resolution,
                                 num_classes), (method, logits.shape)
