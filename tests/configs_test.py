"""Every experiment config builds its SwAV model and every one-shot method
against the generator architecture it is meant for, on one schema."""

import importlib
import pathlib

import jax
import jax.numpy as jnp
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.domains import generator_training
from stylegan_seg_jax.method import segmenters
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import simclr as simclr_stage
from stylegan_seg_jax.stages import swav as swav_stage

FACES = domains.get('faces')

pytestmark = pytest.mark.fast

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
    'ffhq256_eyeglasses': _run_at(256, _F(1024)),
    'lsun_car': _run_at(256, _F(512)),   # stylegan2-car-config-f.pt
    'pascal_car': _run_at(256, _F(512)),  # its e4e decoder
    'lsun_cat': _F(256),                 # stylegan2-cat-config-f.pt
    'lsun_horse': _F(256),               # stylegan2-horse-config-f.pt
    'lsun_horse_rider': _F(256),
    'pascal_horse': _F(256),             # its e4e decoder
    'lsun_church': _F(256),              # stylegan2-church-config-f.pt
    'afhq': _run_at(256, stylegan2.GeneratorConfig(  # stylegan2-ada, 512
        resolution=512,
        channels=tuple(stylegan2.nvidia_channels(512).items()))),
}

FFHQ = ('background', 'skin', 'hair', 'eye', 'eyebrow', 'nose', 'mouth',
        'ear')
# The reference's settings per benchmark, written from its configs
# (configs/models/*.py and configs/segmentors/hfc_with_swav*_config.py; the
# benchmarks its CLI does not map to a dedicated SwAV config use the
# generic one: K 8000, XXS), not from this project's configs:
# steps, K, epsilon, marginals, head, psi, one-shot index, class names.
REFERENCE = {
    'ffhq256': (100, 5000, 0.005, 'uniform', 'XXS', 0.7, 0, FFHQ),
    'lsun_cat': (100, 5000, 0.003, 'image', 'XS', 0.7, 0, (
        'background', 'head', 'eye', 'nose', 'ear', 'neck', 'torso', 'tail',
        'f_leg', 'b_leg')),
    'lsun_car': (100, 4000, 0.01, 'uniform', 'XS', 0.7, 3, (
        'background', 'body', 'door', 'window', 'windshield', 'hood',
        'wheel', 'lights')),
    'lsun_horse': (50, 5000, 0.003, 'uniform', 'XXS', 0.7, 4, (
        'background', 'f_leg', 'b_leg', 'torso', 'neck', 'tail', 'head',
        'rider')),
    'afhq': (100, 8000, 0.005, 'uniform', 'XXS', 0.7, 0, (
        'background', 'head', 'neck', 'mouth', 'eye', 'nose', 'ear')),
    'ffhq256_eyeglasses': (100, 8000, 0.005, 'uniform', 'XXS', 0.7, 21,
                           ('background', 'glasses')),
    'lsun_horse_rider': (100, 8000, 0.005, 'uniform', 'XXS', 0.7, 4,
                         ('background', 'rider')),
    'lsun_church': (100, 8000, 0.005, 'uniform', 'XXS', 0.7, 0, (
        'background', 'roof', 'window', 'door', 'steps', 'turret', 'wall',
        'road')),
    'pascal_horse': (100, 8000, 0.005, 'uniform', 'XXS', 0.7, 11, None),
    'pascal_car': (100, 8000, 0.005, 'uniform', 'XXS', 0.7, 0, None),
}


# configs/downstream.py builds on configs/toy_swav.py by default.
TOY_CONFIGS = {'tiny': 'faces', 'toy_swav': 'faces', 'downstream': 'faces',
               'toy_faces_fine': 'faces_fine',
               'toy_faces_glasses': 'faces_glasses', 'toy_cars': 'cars',
               'toy_cars_fine': 'cars_fine'}


def _architecture(name, config):
  if name in ARCHITECTURES:
    return ARCHITECTURES[name]
  if name == 'toy_generator':
    return generator_training.generator_config(config)
  domain = domains.domain_of(config.generator_dir)
  assert domain.name == TOY_CONFIGS[name]
  if domain.has_generator:
    return domain.load_generator().config
  # Not trained yet: the architecture its generator config trains.
  from configs import toy_generator  # pylint: disable=g-import-not-at-top
  return generator_training.generator_config(
      toy_generator.get_config(domain.name))


def test_every_config_is_listed():
  assert set(ARCHITECTURES) | set(TOY_CONFIGS) | {'toy_generator'} == set(
      CONFIGS)


@pytest.mark.parametrize('experiment', sorted(
    set(CONFIGS) - {'downstream', 'toy_generator'}))
def test_the_downstream_config_builds_on_every_experiment(experiment):
  from configs import downstream  # pylint: disable=g-import-not-at-top
  config = downstream.get_config(experiment)
  base = importlib.import_module(f'configs.{experiment}').get_config()
  assert config_lib.stages_of(config) == ('downstream',)
  assert config.generator_dir == base.generator_dir
  assert config.data.oneshot == base.data.oneshot
  spec = str(base.generator_dir)
  want = ((f'{spec}:rendered', f'{spec}:shifted')
          if domains.is_spec(spec) else ())
  assert tuple(config.downstream.test_sets) == want
  for src in want:
    assert domains.render_set_of(src)[0] is domains.domain_of(spec)


def test_the_downstream_config_refuses_a_name_that_is_not_an_experiment():
  from configs import downstream  # pylint: disable=g-import-not-at-top
  for bad in ('downstream', '../x', 'a b'):
    with pytest.raises(ValueError, match='name an experiment config'):
      downstream.get_config(bad)


@pytest.mark.parametrize('name', sorted(TOY_CONFIGS))
def test_toy_configs_name_their_domain_and_its_classes(name):
  config = importlib.import_module(f'configs.{name}').get_config()
  domain = domains.get(TOY_CONFIGS[name])
  assert (config.generator_dir, config.data.test_set) == (domain.spec,) * 2
  assert tuple(config.data.class_names) == domain.class_names
  assert config.views.psi == 1.0  # where the exact masks hold
  # A valid one-shot seed of the domain (one that shows its required
  # classes): the first of its range, or the first that shows them.
  seed = domains.oneshot_seed_of(config.data.oneshot)[1]
  if not domain.requires:
    assert seed == domain.oneshot_seeds.start
  assert set(REFERENCE) == set(ARCHITECTURES)


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
  simclr_model = simclr_stage.SimCLRModel(config, gcfg)
  simclr_state = jax.eval_shape(lambda k: simclr_stage.init_state(
      simclr_model, simclr_stage.make_optimizer(config), k),
                                jax.random.key(0))
  assert simclr_state.params['kernel'].shape == (
      sum(c for _, c in gcfg.feature_shapes()), config.simclr.dim)
  for method in config.oneshot.methods:
    seg = segmenters.build(method, config, gcfg, num_classes, model,
                           simclr_model)
    frozen = {}
    if method == 'hfc_simclr':
      frozen = {'params': simclr_state.params,
                'batch_stats': simclr_state.batch_stats}
    elif method == 'ours':
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


@pytest.mark.parametrize('name', sorted(REFERENCE))
def test_real_domain_configs_carry_the_reference_settings(name):
  config = importlib.import_module(f'configs.{name}').get_config()
  steps, k, eps, marginals, head, psi, index, classes = REFERENCE[name]
  assert config.num_steps == steps
  assert config.swav.num_prototypes == k
  assert config.swav.epsilon == eps
  assert config.swav.marginals == marginals
  assert config.oneshot.head == head
  assert config.views.psi == psi and config.generate.psi in (None, psi)
  assert config.data.oneshot == f'index:{index}'
  if classes is not None:
    assert tuple(config.data.class_names) == classes
  # The reference's shared SwAV settings.
  assert (config.batch_size, config.swav.num_patches, config.swav.patch_size,
          config.swav.temperature, config.swav.sinkhorn_iters,
          config.swav.dim, config.swav.head) == (1, 5, 20000, 0.01, 10, 512,
                                                 'linear')
  assert (config.optim.lr, config.optim.momentum,
          config.optim.trust_coefficient, config.optim.schedule) == (
              0.01, 0.9, 0.01, 'constant')
  assert (config.oneshot.num_steps, config.oneshot.lr, config.oneshot.b1,
          config.oneshot.b2) == (200, 1e-3, 0.9, 0.99)
  # The baselines (hfc_kmeans_config.py, hfc_with_simclr_config.py,
  # scikit-learn's KMeans defaults).
  b, sc = config.baselines, config.simclr
  assert (b.hfc_blocks, tuple(b.hfc_clusters), b.hfc_samples, b.hfc_head,
          b.kmeans_inits, b.kmeans_iters, b.kmeans_tol) == (
              5, (4, 8, 16, 32, 64), 4, 'S', 10, 300, 1e-4)
  assert (sc.num_steps, sc.batch_size, sc.dim, sc.temperature, sc.lr,
          sc.momentum, sc.trust_coefficient, b.simclr_head) == (
              100, 20, 512, 1.0, 0.01, 0.9, 0.01, 'XS')
  assert b.repurposegan_head == 'XS' and b.interpolation == 'nearest'


def test_pascal_part_label_lists():
  horse = importlib.import_module('configs.pascal_horse').get_config()
  assert len(horse.data.class_names) == 34 and horse.data.reference_psi == 1
  assert horse.data.class_names[19:21] == ('tail', 'unused_20')
  car = importlib.import_module('configs.pascal_car').get_config()
  assert len(car.data.class_names) == 60 and car.data.reference_psi == 1
  assert car.data.reference_label_size == 512
