"""The first release's names still work for one release, with a warning."""

import importlib
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax import toy
from tests.helpers import ROOT
from tests.helpers import subprocess_env


def _fresh(name):
  sys.modules.pop(name, None)
  return importlib.import_module(name)


def test_generator_module_alias_and_toy_name():
  with pytest.warns(DeprecationWarning, match='use stylegan_seg_jax.stylegan2'):
    generator = _fresh('stylegan_seg_jax.generator')
  assert generator.GeneratorConfig is stylegan2.GeneratorConfig
  gen = generator.load('toy')
  assert gen.config == toy.load_generator().config
  with pytest.warns(DeprecationWarning, match='use Generator.variables'):
    assert gen.params is gen.variables


def test_metrics_module_alias():
  with pytest.warns(DeprecationWarning, match='eval.metrics'):
    metrics = _fresh('stylegan_seg_jax.metrics')
  from stylegan_seg_jax.eval import metrics as new  # pylint: disable=g-import-not-at-top
  assert metrics.MetricAccumulator is new.MetricAccumulator


def test_linen_method_aliases():
  gen = toy.load_generator()
  z = jnp.asarray(toy.latents([0]))
  with pytest.warns(DeprecationWarning, match='StyleGAN2.mapping'):
    w = gen.module.apply(gen.variables, z, method=stylegan2.StyleGAN2.map)
  np.testing.assert_array_equal(w, gen.mapping(z))
  with pytest.warns(DeprecationWarning, match='StyleGAN2.synthesis'):
    img = gen.module.apply(gen.variables, w,
                           method=stylegan2.StyleGAN2.synthesize)[0]
  np.testing.assert_allclose(img, gen.synthesis(w)[0], atol=1e-5)


@pytest.mark.slow
def test_benchmark_command_alias_runs_the_moved_benchmark():
  proc = subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax.benchmark', 'segment',
       '--batch=2', '--repeats=1'], cwd=ROOT, capture_output=True, text=True,
      env=subprocess_env(STYLEGAN_SEG_JAX_CHECK_ARGS='1'))
  assert proc.returncode == 0, proc.stderr
  assert 'deprecated; use python -m benchmarks.segment' in proc.stderr
  assert 'args ok' in proc.stdout
