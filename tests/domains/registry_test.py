"""The domain registry: plugins, the config vocabulary, no domain in core."""

import ast
import pathlib
import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.domains import drawing
from stylegan_seg_jax.domains import registry
from stylegan_seg_jax.stages import config as config_lib
from tests.helpers import tiny_config

pytestmark = pytest.mark.fast

PACKAGE = pathlib.Path(domains.__file__).parents[1]
PLUGINS = pathlib.Path(domains.__file__).parent


def _plugin_dirs():
  return [p for p in PLUGINS.iterdir() if (p / '__init__.py').is_file()]


def _string_constants(tree):
  """Every str constant of a module except its docstrings."""
  docstrings = set()
  for node in ast.walk(tree):
    if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef,
                         ast.ClassDef)):
      doc = node.body[0] if node.body else None
      if (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
          and isinstance(doc.value.value, str)):
        docstrings.add(id(doc.value))
  for node in ast.walk(tree):
    if (isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings):
      yield node.value


def test_no_module_outside_the_plugins_names_a_domain():
  names = set(domains.names())
  assert {'faces'} <= names
  plugin_dirs = _plugin_dirs()
  checked = 0
  for path in sorted(PACKAGE.rglob('*.py')):
    if any(path.is_relative_to(d) for d in plugin_dirs):
      continue
    tree = ast.parse(path.read_text())
    for text in _string_constants(tree):
      words = set(text.replace(':', ' ').replace('.', ' ').split())
      assert not names & words, f'{path} names a domain: {text!r}'
    for node in ast.walk(tree):
      if isinstance(node, (ast.Import, ast.ImportFrom)):
        module = getattr(node, 'module', None) or ''
        targets = [module] + [f'{module}.{a.name}' if module else a.name
                              for a in node.names]
        for t in targets:
          parts = t.split('.')
          assert not (parts[:2] == ['stylegan_seg_jax', 'domains']
                      and len(parts) > 2 and parts[2] in names), (
                          f'{path} imports the plugin {t}')
    checked += 1
  assert checked > 50


def test_every_built_in_domain_is_complete():
  for name in domains.names():
    d = domains.get(name)
    assert d.spec == f'toy:{name}'
    if d.has_generator:
      gen = d.load_generator()
      assert (gen.config.resolution, gen.config.z_dim) == (
          d.resolution, d.z_dim), name
    else:
      with pytest.raises(domains.DomainError, match='no trained generator'):
        d.load_generator()
    assert d.class_names[0] == 'background'
    assert len(d.palette) == len(d.class_names)
    assert len(np.unique(d.palette, axis=0)) == len(d.class_names)
    ranges = sorted([d.oneshot_seeds, d.test_seeds, d.eval_seeds],
                    key=lambda r: r.start)
    assert all(a.stop <= b.start for a, b in zip(ranges, ranges[1:])), name
    if not d.requires:
      assert d.test_seed_list() == list(d.test_seeds[:d.num_test])
    fields = d.config_fields()
    assert fields['generator_dir'] == d.spec
  assert domains.default().name == 'faces'


def test_unknown_and_malformed_specs_are_one_line_errors():
  with pytest.raises(domains.DomainError, match="unknown domain 'nope'"):
    domains.domain_of('toy:nope')
  with pytest.raises(domains.DomainError, match='not a domain spec'):
    domains.domain_of('toy:faces:extra')
  with pytest.raises(domains.DomainError, match='seed must be an integer'):
    domains.oneshot_seed_of('toy:faces:seed:x')
  with pytest.raises(domains.DomainError, match='one-shot seeds are 0..999'):
    domains.oneshot_seed_of('toy:faces:seed:1000')
  with pytest.raises(domains.DomainError, match='expected'):
    domains.oneshot_seed_of('toy:faces:3')
  with pytest.raises(domains.DomainError) as e:
    domains.get('x' * 500)
  assert len(str(e.value)) < 300  # the untrusted name is truncated
  with pytest.raises(config_lib.ConfigError, match='generator_dir: unknown'):
    config_lib.load_generator_dir('toy:nope')


def test_the_old_spellings_still_work_and_warn(tmp_path):
  with pytest.warns(FutureWarning, match="'toy' is deprecated.*'toy:faces'"):
    assert domains.domain_of('toy').name == 'faces'
  with pytest.warns(FutureWarning, match="write 'toy:faces:seed:3'"):
    assert domains.oneshot_seed_of('toy_seed:3') == (domains.get('faces'), 3)
  with pytest.warns(FutureWarning):
    gen = config_lib.load_generator_dir('toy')
  config = tiny_config(**{'data.oneshot': 'toy_seed:3'})
  with pytest.warns(FutureWarning):
    old = experiment.load_oneshot(config, tmp_path, gen)
  config = tiny_config(**{'data.oneshot': 'toy:faces:seed:3'})
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    new = experiment.load_oneshot(config, tmp_path, gen)
  np.testing.assert_array_equal(old.mask, new.mask)
  np.testing.assert_array_equal(old.w, new.w)
  assert config_lib.check_inputs(tiny_config(**{
      'generator_dir': 'toy', 'data.test_set': 'toy',
      'data.oneshot': 'toy_seed:1'})) == []


# --- a plugin from outside the package ----------------------------------------

def _stripes_renderer():
  """A two-parameter renderer: a vertical band whose width and shade vary."""
  mod = types.ModuleType('tests_stripes_render')
  mod.RESOLUTION = 16
  mod.CLASS_NAMES = ('background', 'band', 'dot')
  mod.PARAMS = {'width': (0.1, 0.6), 'dot': (0.0, 1.0)}
  mod.NUM_PARAMS = 2
  mod.scene_from_latent = lambda z: drawing.uniform_scene(z, 2)

  def render(scene, resolution=16):
    x, y = drawing.pixel_grid(resolution)
    width = scene[:, 0, None, None] * 0.5 + 0.1
    band = jnp.abs(x) - width
    # The dot is drawn only where the second parameter is above 0.8.
    dot = jnp.where(scene[:, 1, None, None] > 0.8,
                    drawing.ellipse(x, y, 0.0, 0.5, 0.3, 0.3), jnp.inf)
    bg = jnp.full((scene.shape[0], resolution, resolution, 3), 0.2)
    return drawing.composite(bg, [(band, jnp.asarray([0.9, 0.1, 0.1]), 1),
                                  (dot, jnp.asarray([0.1, 0.1, 0.9]), 2)],
                             resolution / 2)

  mod.render = render
  return mod


@pytest.fixture(scope='module')
def stripes(tmp_path_factory):
  renderer = _stripes_renderer()
  cfg = stylegan2.GeneratorConfig(
      resolution=16, channels=((4, 8), (8, 8), (16, 8)), z_dim=2, w_dim=8,
      mapping_layers=1)
  module = stylegan2.StyleGAN2(cfg)
  variables = module.init(jax.random.key(0), jnp.zeros((1, 2)))
  out = tmp_path_factory.mktemp('stripes') / 'generator'
  stylegan2.save(out, cfg, jax.tree.map(np.asarray, variables), {})
  plain = registry.register(domains.Domain(
      name='test_stripes', description='bands', renderer=renderer,
      generator_dir=out, num_test=6))
  rare = registry.register(domains.Domain(
      name='test_stripes_dot', description='dots', renderer=renderer,
      generator_dir=out, class_names=('background', 'dot'),
      label_lookup=(0, 0, 1), requires=('dot',), num_test=5))
  yield plain, rare
  for d in (plain, rare):
    registry._REGISTRY.pop(d.name)  # pylint: disable=protected-access


def test_a_registered_plugin_runs_through_the_core(stripes, tmp_path):
  plain, rare = stripes
  assert {'test_stripes', 'test_stripes_dot'} <= set(domains.names())
  config = tiny_config(**{'generator_dir': 'toy:test_stripes',
                          'data.test_set': 'toy:test_stripes',
                          'data.oneshot': 'toy:test_stripes:seed:4'})
  gen = config_lib.load_generator(config)
  assert gen.config.z_dim == 2
  test = experiment.load_test_set(config, tmp_path)
  assert len(test) == 6 and test.class_names == plain.class_names
  want = plain.ground_truth(plain.latents(plain.test_seed_list()))
  np.testing.assert_array_equal(test.masks, want)
  example = experiment.load_oneshot(config, tmp_path, gen)
  np.testing.assert_array_equal(
      example.mask, plain.ground_truth(plain.latents([4]))[0])
  # The rare-part label set: only samples that show the dot, two classes.
  seeds = rare.test_seed_list()
  z = rare.latents(seeds)
  scene = np.asarray(plain.renderer.scene_from_latent(jnp.asarray(z)))
  assert np.all(scene[:, 1] > 0.8) and len(seeds) == 5
  masks = rare.ground_truth(z)
  assert set(np.unique(masks)) == {0, 1}
  np.testing.assert_array_equal(
      masks, (plain.ground_truth(z) == 2).astype(np.int32))
  first = rare.oneshot_seed_list(3)
  domains.oneshot_seed_of(f'toy:test_stripes_dot:seed:{first[1]}')
  lacking = next(s for s in range(100) if s not in first and s < first[-1])
  with pytest.raises(domains.DomainError, match='does not show dot'):
    domains.oneshot_seed_of(f'toy:test_stripes_dot:seed:{lacking}')
  # A one-shot seed of another domain's generator is refused.
  with pytest.raises(ValueError, match='needs the generator of toy:faces'):
    experiment.load_oneshot(
        tiny_config(**{'generator_dir': 'toy:test_stripes',
                       'data.oneshot': 'toy:faces:seed:0'}), tmp_path, gen)


def test_registering_a_second_domain_of_one_name_is_refused(stripes):
  plain, _ = stripes
  import dataclasses  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match='already registered'):
    registry.register(dataclasses.replace(plain, description='other'))
  with pytest.raises(ValueError, match='label_lookup'):
    domains.Domain(name='x', description='', renderer=plain.renderer,
                   generator_dir=plain.generator_dir,
                   class_names=('background', 'a'), label_lookup=(0, 1))
