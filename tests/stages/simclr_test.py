"""The SimCLR stage: device-count invariance and how runs bring it in."""

import jax
import numpy as np
import pytest

from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import simclr as simclr_stage
from tests.helpers import tiny_config

pytestmark = pytest.mark.fast


def _run(devices, steps=2):
  config = tiny_config()
  gen = config_lib.load_generator(config)
  model = simclr_stage.SimCLRModel(config, gen.config)
  tx = simclr_stage.make_optimizer(config)
  step = simclr_stage.make_device_step(model, gen, config, tx, len(devices))
  state = simclr_stage.init_state(model, tx, jax.random.key(0))
  mesh = parallel.make_mesh(devices)
  run = parallel.shard_step(step, mesh, donate_state=False)
  put = lambda t: parallel.replicate(t, mesh)
  rng = np.asarray(jax.random.key_data(jax.random.key(3)))
  state, gen_vars, rng = put(state), put(gen.variables), put(rng)
  losses = []
  for _ in range(steps):
    state, m = run(state, gen_vars, rng)
    losses.append(float(m['loss']))
  return jax.device_get((state.params, state.batch_stats)), losses


def test_batchnorm_is_synchronised_across_devices():
  """1 device x batch 8 == 8 devices x batch 1: the projection's BatchNorm
  sees every device's samples (each device alone would see one image)."""
  (p1, s1), l1 = _run(jax.devices()[:1])
  (p8, s8), l8 = _run(jax.devices())
  np.testing.assert_allclose(l8, l1, rtol=1e-4)
  for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(s8)):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
  for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p8)):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
  assert not np.allclose(s1['mean'], 0)  # the statistics moved


def test_oneshot_with_the_simclr_baseline_brings_in_its_stage():
  assert config_lib.stages_of(tiny_config(stage=('oneshot',))) == (
      'simclr', 'oneshot')
  assert config_lib.stages_of(tiny_config(**{
      'stage': ('swav', 'oneshot'),
      'oneshot.methods': ('ours',)})) == ('swav', 'oneshot')
  assert config_lib.stages_of(tiny_config(stage=('simclr',))) == ('simclr',)
