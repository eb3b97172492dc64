"""Our SwAV step against a PyTorch re-creation of the reference iteration.

Both are fed the same generator features, views and sampled pixels (ours
draws them; the re-creation reads them, tests/references/swav_reference.py)
and run 3 steps from the same parameters. The re-creation runs in float64,
ours in float32, so the tolerances below are float32 round-off of a chain of
a 2000-channel projection, a 10-iteration Sinkhorn and a log-softmax:
relative 1e-4 on the loss and on each gradient tensor (by its norm), and on
each parameter's change (the steps move the parameters by about 1e-4 of
their norm, so comparing the parameters themselves would hide a wrong
update).
"""

import jax
import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax.method import swav
from stylegan_seg_jax.stages import swav as swav_stage
from stylegan_seg_jax.stages import view_pairs
from tests.helpers import single_device_step
from tests.helpers import tiny_config
from tests.references import swav_reference as ref

FACES = domains.get('faces')

pytestmark = pytest.mark.fast

STEPS = 3


def _rel(got, want):
  return float(np.linalg.norm(np.asarray(got, np.float64) - want)
               / max(np.linalg.norm(want), 1e-30))


@pytest.fixture(scope='module')
def runs():
  config = tiny_config(**{'batch_size': 1})
  gen = FACES.load_generator()
  model = swav_stage.SwAVModel(config, gen.config)
  state, step, put = single_device_step(swav_stage, model, gen, config)
  rng = np.asarray(jax.random.key_data(jax.random.key(7)))
  make_batch = jax.jit(swav_stage.make_batch_fn(model, gen, config))
  loss_fn = swav_stage.make_loss_fn(model, config)
  grad_fn = jax.jit(jax.value_and_grad(
      lambda p, b: loss_fn(p, {}, b)[0]))

  sw, o = config.swav, config.optim
  torch_run = ref.ReferenceSwAV(
      state.params['head']['kernel'], state.params['prototypes'], lr=o.lr,
      momentum=o.momentum, trust=o.trust_coefficient, eps=sw.epsilon,
      niters=sw.sinkhorn_iters, temperature=sw.temperature)
  ours, theirs = [], []
  dev_state, gen_vars = put(state), put(gen.variables)
  for i in range(STEPS):
    batch = make_batch(gen.variables, view_pairs.image_keys(
        rng, np.int32(i), np.arange(1)))
    host = jax.tree.map(np.asarray, jax.device_get(dev_state))
    normalized = {**host.params, 'prototypes': swav.normalize_prototypes(
        host.params['prototypes'])}
    loss, grads = grad_fn(normalized, batch)
    dev_state, metrics = step(dev_state, gen_vars, put(rng))
    ours.append((float(loss), float(metrics['loss']), grads,
                 jax.device_get(dev_state.params)))
    res = gen.config.resolution
    patches = jax.tree.map(lambda a: np.asarray(a)[:, 0], batch.patches)
    t_loss, t_grads = torch_run.step(
        ref.hypercolumn([np.asarray(f) for f in batch.feats_s], res),
        ref.hypercolumn([np.asarray(f) for f in batch.feats_t], res),
        patches)
    theirs.append((t_loss, t_grads, torch_run.state()))
  return state.params, ours, theirs


def test_loss_matches_at_every_step(runs):
  _, ours, theirs = runs
  for (loss, step_loss, _, _), (t_loss, _, _) in zip(ours, theirs):
    assert loss == pytest.approx(t_loss, rel=1e-4)
    assert step_loss == pytest.approx(t_loss, rel=1e-4)


def test_gradients_match_at_every_step(runs):
  _, ours, theirs = runs
  for (_, _, grads, _), (_, t_grads, _) in zip(ours, theirs):
    got = [grads['head']['kernel'], grads['prototypes']['kernel'],
           grads['prototypes']['bias']]
    want = [t_grads[0].T, t_grads[1].T, t_grads[2]]
    for name, g, w in zip(('projection', 'prototypes', 'bias'), got, want):
      assert _rel(g, w) < 1e-4, (name, _rel(g, w))


def _unit_columns(a):
  return a / np.linalg.norm(a, axis=0, keepdims=True)


def test_every_update_matches(runs):
  """Each step's update, from its prototype-normalised start, agrees."""
  init, ours, theirs = runs
  flat = lambda p: {'projection': np.asarray(p['head']['kernel'], np.float64),
                    'kernel': np.asarray(p['prototypes']['kernel'],
                                         np.float64),
                    'bias': np.asarray(p['prototypes']['bias'], np.float64)}
  prev_ours = prev_theirs = flat(init)
  for (_, _, _, params), (_, _, t_state) in zip(ours, theirs):
    now_ours = flat(params)
    for name in now_ours:
      before_o, before_t = prev_ours[name], prev_theirs[name]
      if name == 'kernel':  # re-normalised before the step
        before_o, before_t = _unit_columns(before_o), _unit_columns(before_t)
      moved = t_state[name] - before_t
      assert np.linalg.norm(moved) > 1e-6 * np.linalg.norm(before_t), name
      assert _rel(now_ours[name] - before_o, moved) < 1e-3, name
    prev_ours, prev_theirs = now_ours, t_state
