"""SwAV training: device-count invariance, multi-host, resume, errors."""

import json
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import runner
from stylegan_seg_jax.stages import swav as swav_stage
from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.helpers import tiny_config


def _setup(num_devices, overrides=None):
  config = tiny_config(**(overrides or {}))
  gen = config_lib.load_generator(config)
  model = swav_stage.SwAVModel(config, gen.config)
  tx = swav_stage.make_optimizer(config)
  step = swav_stage.make_device_step(model, gen, config, tx, num_devices)
  state = swav_stage.init_state(model, tx, jax.random.key(config.seed))
  rng = np.asarray(jax.random.key_data(jax.random.key(7)))
  return config, gen, step, state, rng


def _run_shard_map(devices, steps, overrides=None, with_stats=False):
  _, gen, step, state, rng = _setup(len(devices), overrides)
  mesh = parallel.make_mesh(devices)
  run = parallel.shard_step(step, mesh, donate_state=False)
  put = lambda t: parallel.replicate(t, mesh)
  state, gen_vars, rng = put(state), put(gen.variables), put(rng)
  losses = []
  for _ in range(steps):
    state, m = run(state, gen_vars, rng)
    losses.append(float(m['loss']))
  if with_stats:
    return jax.device_get((state.params, state.batch_stats)), losses
  return jax.device_get(state.params), losses


def _run_pmap(steps):
  _, gen, step, state, rng = _setup(jax.local_device_count())
  run = parallel.pmap_step(step, donate_state=False)
  rep = parallel.pmap_replicate
  state, gen_vars, rng = rep(state), rep(gen.variables), rep(rng)
  losses = []
  for _ in range(steps):
    state, m = run(state, gen_vars, rng)
    losses.append(float(m['loss'][0]))
  return jax.tree.map(lambda x: np.asarray(x[0]), state.params), losses


@pytest.mark.slow
def test_two_layer_head_batchnorm_is_synchronised_across_devices():
  """1 device x batch 8 == 8 devices x batch 1: the BatchNorm statistics of
  the 2-layer head are taken over every device's pixels (without the
  cross-device mean each device would normalise its own image)."""
  head = {'swav.head': '2-layer'}
  (p1, s1), l1 = _run_shard_map(jax.devices()[:1], 2, head, with_stats=True)
  (p8, s8), l8 = _run_shard_map(jax.devices(), 2, head, with_stats=True)
  np.testing.assert_allclose(l8, l1, rtol=1e-4)
  for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(s8)):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
  for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p8)):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
  assert any(not np.allclose(a, 0) and not np.allclose(a, 1)
             for a in jax.tree.leaves(s1))  # the statistics moved


@pytest.mark.slow
def test_single_device_shard_map_and_pmap_agree():
  assert jax.device_count() == 8
  one, l1 = _run_shard_map(jax.devices()[:1], 3)
  eight, l8 = _run_shard_map(jax.devices(), 3)
  pm, lp = _run_pmap(3)
  np.testing.assert_allclose(l8, l1, rtol=1e-4)
  np.testing.assert_allclose(lp, l1, rtol=1e-4)
  for other in (eight, pm):
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(other)):
      np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)
  # The steps changed the parameters (the comparison is not vacuous).
  _, _, _, state0, _ = _setup(1)
  moved = [float(np.abs(a - b).max()) for a, b in
           zip(jax.tree.leaves(state0.params), jax.tree.leaves(one))]
  assert max(moved) > 1e-4


@pytest.mark.slow
def test_head_change_is_the_distance_from_the_initial_head():
  config, gen, _, state, rng = _setup(1, {'optim.lr': 0.5})
  model = swav_stage.SwAVModel(config, gen.config)
  tx = swav_stage.make_optimizer(config)
  step = swav_stage.make_device_step(model, gen, config, tx, 1,
                                     initial_head=state.params['head'])
  run = parallel.shard_step(step, parallel.make_mesh(jax.devices()[:1]),
                            donate_state=False)
  initial = jax.device_get(state.params['head'])
  new, metrics = run(state, gen.variables, rng)
  new, metrics = run(new, gen.variables, rng)
  moved = jax.device_get(new.params['head'])
  flat = lambda t: np.concatenate([np.ravel(x) for x in jax.tree.leaves(t)])
  want = (np.linalg.norm(flat(moved) - flat(initial))
          / np.linalg.norm(flat(initial)))
  assert want > 1e-4  # the head did move
  np.testing.assert_allclose(float(metrics['head_change']), want, rtol=1e-4)


@pytest.mark.slow
def test_loss_falls_on_the_tiny_model():
  config, gen, step, state, rng = _setup(8, {'num_steps': 30})
  mesh = parallel.make_mesh()
  run = parallel.shard_step(step, mesh, donate_state=False)
  put = lambda t: parallel.replicate(t, mesh)
  gen_vars, rng = put(gen.variables), put(rng)
  state = put(state)
  # The loss on a fixed batch (step counter 0 selects the same images).
  fixed = lambda s: float(run(s.replace(step=jnp.zeros((), jnp.int32)),
                              gen_vars, rng)[1]['loss'])
  before = fixed(state)
  for _ in range(config.num_steps):
    state, _ = run(state, gen_vars, rng)
  after = fixed(state)
  assert after < before - 0.05, (before, after)


def _cli(*args, env=None, **kw):
  return subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax', 'train', *args],
      cwd=ROOT, capture_output=True, text=True,
      env=subprocess_env(**(env or {})), **kw)


def _last_json(out):
  return json.loads([line for line in out.splitlines()
                     if line.startswith('{')][-1])


def _saved_steps(ckpts):
  return sorted(int(p.name) for p in ckpts.iterdir() if p.name.isdigit())


def _logged_steps(stage_dir):
  return [json.loads(line)['step'] for line in
          (stage_dir / 'metrics.jsonl').read_text().splitlines()]


def _restore(workdir):
  config = tiny_config()
  gen = config_lib.load_generator(config)
  model = swav_stage.SwAVModel(config, gen.config)
  tx = swav_stage.make_optimizer(config)
  abstract = jax.eval_shape(
      lambda: swav_stage.init_state(model, tx, jax.random.key(0)))
  return checkpointing.restore_latest(workdir / 'swav' / 'checkpoints',
                                      abstract)


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
  base = ['--config=configs/tiny.py', '--config.num_steps=8',
          '--config.checkpoint_every=1']
  full = _cli(*base, f'--workdir={tmp_path / "full"}')
  assert full.returncode == 0, full.stderr
  work = tmp_path / 'killed'
  proc = subprocess.Popen(
      [sys.executable, '-m', 'stylegan_seg_jax', 'train', *base,
       f'--workdir={work}'], cwd=ROOT, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, env=subprocess_env())
  ckpts = work / 'swav' / 'checkpoints'
  deadline = time.time() + 300
  while time.time() < deadline and not (ckpts / '3').exists():
    time.sleep(0.2)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  # Killed mid-run: by the signal, with some but not all steps saved.
  assert proc.returncode == -signal.SIGKILL
  saved = max(_saved_steps(ckpts))
  assert 3 <= saved < 8, saved
  before = _logged_steps(work / 'swav')
  resumed = _cli(*base, f'--workdir={work}')
  assert resumed.returncode == 0, resumed.stderr
  # The rerun continued from the newest checkpoint, not from step 0.
  logged = _logged_steps(work / 'swav')
  assert logged[len(before):] == list(range(saved + 1, 9)), logged
  a, b = _last_json(full.stdout), _last_json(resumed.stdout)
  assert a['step'] == b['step'] == 8
  np.testing.assert_allclose(b['loss'], a['loss'], rtol=1e-5)
  (step_a, state_a), (step_b, state_b) = _restore(tmp_path / 'full'), (
      _restore(work))
  assert step_a == step_b == 8
  for x, y in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b)):
    np.testing.assert_array_equal(x, y)


@pytest.mark.fast
@pytest.mark.parametrize('override,message', [
    ({'generator_dir': '/nonexistent/gen'},
     "generator checkpoint '/nonexistent/gen' not found"),
    ({'swav.layers': (0, 99)}, 'swav.layers [0, 99] not in the'),
    ({'batch_size': 3}, 'batch_size 3 is not divisible by the 8'),
    ({'stage': ('swav', 'paint')}, "unknown stage(s) ['paint']"),
])
def test_bad_configs_fail_at_start_up(tmp_path, override, message):
  with pytest.raises(config_lib.ConfigError) as e:
    runner.train_and_evaluate(tiny_config(**override), str(tmp_path / 'w'))
  assert message in str(e.value)
  assert not (tmp_path / 'w' / 'swav' / 'checkpoints').exists()


@pytest.mark.slow
def test_bad_config_from_the_command_line_is_one_line(tmp_path):
  proc = _cli('--config=configs/tiny.py', '--config.batch_size=3',
              f'--workdir={tmp_path / "w"}')
  assert proc.returncode == 1
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1, proc.stderr
  assert lines[0] == ('train: error: batch_size 3 is not divisible by the 8 '
                      'devices: set --config.batch_size to a multiple of 8'
                      ), lines


@pytest.mark.fast
def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  config = tiny_config(**{'num_steps': 6, 'checkpoint_every': 1,
                          'optim.lr': 1e30,
                          'optim.trust_coefficient': 1e30})
  with pytest.raises(FloatingPointError) as e:
    runner.train_and_evaluate(config, str(tmp_path))
  message = str(e.value)
  assert 'non-finite' in message and 'last good checkpoint kept' in message
  steps = sorted(int(p.name) for p in (tmp_path / 'swav' / 'checkpoints')
                 .iterdir() if p.name.isdigit())
  bad_step = int(message.split(' at step ')[1].split()[0])
  assert steps and max(steps) < bad_step


@pytest.mark.slow
def test_options_step_runs_finite_on_two_devices():
  """2-layer head (BatchNorm synced over devices), bilinear resampling,
  the reference's image marginals, aligned views, double truncation."""
  config, gen, step, state, rng = _setup(2, {
      'batch_size': 2, 'swav.head': '2-layer',
      'swav.interpolation': 'bilinear', 'swav.marginals': 'image',
      'views.align_views': True, 'views.double_truncation': True})
  mesh = parallel.make_mesh(jax.devices()[:2])
  run = parallel.shard_step(step, mesh, donate_state=False)
  put = lambda t: parallel.replicate(t, mesh)
  new, metrics = run(put(state), put(gen.variables), put(rng))
  assert np.isfinite(float(metrics['loss']))
  stats = jax.tree.leaves(jax.device_get(new.batch_stats))
  assert stats and all(np.all(np.isfinite(s)) for s in stats)
  before = jax.tree.leaves(state.batch_stats)
  assert any(not np.allclose(a, b) for a, b in zip(before, stats))


@pytest.mark.fast
def test_balance_layers_scales_each_layers_rows():
  params = {'head': {'kernel': np.ones((5, 3), np.float32)},
            'prototypes': {'kernel': np.ones((3, 4))}}
  out = swav_stage.balance_layers(params, (2, 3), np.array([1.0, 4.0]))
  # mean rms 2.5: layer 0 rows x 2.5 / 1, layer 1 rows x 2.5 / 4.
  np.testing.assert_allclose(out['head']['kernel'][:, 0],
                             [2.5, 2.5, 0.625, 0.625, 0.625])
  assert out['prototypes'] is params['prototypes']
  np.testing.assert_array_equal(params['head']['kernel'], 1.0)  # not in place


@pytest.mark.fast
def test_layer_rms_is_each_layers_root_mean_square():
  config = tiny_config()
  gen = config_lib.load_generator(config)
  model = swav_stage.SwAVModel(config, gen.config)
  rms = swav_stage.layer_rms(model, gen, config)
  z = np.stack([np.random.default_rng(s).standard_normal(gen.config.z_dim)
                for s in range(swav_stage.LAYER_RMS_SAMPLES)])
  _, feats = gen(jnp.asarray(z, jnp.float32), config.views.psi)
  want = [np.sqrt(np.mean(np.square(np.asarray(feats[i], np.float64))))
          for i in model.layers]
  np.testing.assert_allclose(rms, want, rtol=1e-5)
