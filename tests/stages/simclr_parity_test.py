"""Our SimCLR step against a PyTorch re-creation of the reference iteration.

Both are fed the same generator features, views and sampled pixels (ours
draws them; tests/references/simclr_reference.py reads them) and run 3 steps
from the same parameters, with the reference's slips off (our default) and
on (`simclr.reference_*`). The re-creation runs in float64 with the
reference's element-by-element loops, ours in float32: relative 1e-4 on the
loss and on each gradient tensor, 1e-3 on each parameter's change per step
(about 1e-3 of the parameter's norm, so float32 round-off of the change is
a larger share of it) and on the BatchNorm running statistics.
"""

import jax
import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax.stages import simclr as simclr_stage
from stylegan_seg_jax.stages import view_pairs
from tests.helpers import single_device_step
from tests.helpers import tiny_config
from tests.references import simclr_reference as ref
from tests.references import swav_reference

FACES = domains.get('faces')

pytestmark = pytest.mark.fast

STEPS = 3
PARAMS = ('kernel', 'bn_scale', 'bn_bias', 'kernel2')


def _rel(got, want):
  return float(np.linalg.norm(np.asarray(got, np.float64) - want)
               / max(np.linalg.norm(want), 1e-30))


@pytest.fixture(scope='module', params=[False, True],
                ids=['corrected', 'reference'])
def runs(request):
  as_coded = request.param
  config = tiny_config(**{
      'batch_size': 1, 'simclr.batch_size': 6, 'simclr.temperature': 0.5,
      'simclr.reference_similarity': as_coded,
      'simclr.reference_pairs': as_coded})
  gen = FACES.load_generator()
  model = simclr_stage.SimCLRModel(config, gen.config)
  state, step, put = single_device_step(simclr_stage, model, gen, config)
  rng = np.asarray(jax.random.key_data(jax.random.key(7)))
  make_pairs = jax.jit(view_pairs.make_view_pairs_fn(
      gen, config, model.layers, patch_size=config.simclr.batch_size,
      num_patches=1))
  # The loss alone, outside the device map: the head without the device
  # axis (one device's statistics are the global ones here).
  single = simclr_stage.SimCLRModel(config, gen.config)
  single.head = single.eval_head
  loss_fn = simclr_stage.make_loss_fn(single, config)
  grad_fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))

  sc = config.simclr
  torch_run = ref.ReferenceSimCLR(
      state.params, lr=sc.lr, momentum=sc.momentum,
      trust=sc.trust_coefficient, temperature=sc.temperature,
      reference_similarity=as_coded, reference_pairs=as_coded)
  ours, theirs = [], []
  dev_state, gen_vars = put(state), put(gen.variables)
  res = gen.config.resolution
  for i in range(STEPS):
    pairs = make_pairs(gen.variables, view_pairs.image_keys(
        rng, np.int32(i), np.arange(1)))
    host = jax.tree.map(np.asarray, jax.device_get(dev_state))
    (loss, _), grads = grad_fn(host.params, host.batch_stats, pairs)
    dev_state, metrics = step(dev_state, gen_vars, put(rng))
    now = jax.device_get(dev_state)
    ours.append((float(loss), float(metrics['loss']), grads,
                 {**now.params, **now.batch_stats}))
    pixels = jax.tree.map(lambda a: np.asarray(a)[0, 0], pairs.patches)
    t_loss, t_grads = torch_run.step(
        swav_reference.hypercolumn([np.asarray(f) for f in pairs.feats_s],
                                   res),
        swav_reference.hypercolumn([np.asarray(f) for f in pairs.feats_t],
                                   res),
        pixels)
    theirs.append((t_loss, dict(zip(PARAMS, t_grads)), torch_run.state()))
  return state, ours, theirs, (model, torch_run, gen, now)


def test_loss_matches_at_every_step(runs):
  _, ours, theirs, _ = runs
  for (loss, step_loss, _, _), (t_loss, _, _) in zip(ours, theirs):
    assert loss > 0.1
    assert loss == pytest.approx(t_loss, rel=1e-4)
    assert step_loss == pytest.approx(t_loss, rel=1e-4)


def test_gradients_match_at_every_step(runs):
  _, ours, theirs, _ = runs
  transposed = {'kernel', 'kernel2'}  # torch stores [out, in]
  for (_, _, grads, _), (_, t_grads, _) in zip(ours, theirs):
    for name in PARAMS:
      want = t_grads[name].T if name in transposed else t_grads[name]
      assert np.linalg.norm(want) > 0, name
      assert _rel(grads[name], want) < 1e-4, (name, _rel(grads[name], want))


def test_every_update_and_running_statistic_matches(runs):
  init, ours, theirs, _ = runs
  prev_ours = {**init.params, **init.batch_stats}
  prev_theirs = {k: np.asarray(v, np.float64) for k, v in prev_ours.items()}
  for (_, _, _, now), (_, _, t_state) in zip(ours, theirs):
    for name in PARAMS:
      moved = t_state[name] - prev_theirs[name]
      assert np.linalg.norm(moved) > 1e-6 * np.linalg.norm(
          prev_theirs[name]), name
      got = np.asarray(now[name], np.float64) - prev_ours[name]
      assert _rel(got, moved) < 1e-3, (name, _rel(got, moved))
    for name in ('mean', 'var'):  # the batch's share: 0.1 x its statistic
      got = np.asarray(now[name], np.float64) - 0.9 * prev_ours[name]
      added = t_state[name] - 0.9 * prev_theirs[name]
      assert _rel(got, added) < 1e-3, (name, _rel(got, added))
    prev_ours, prev_theirs = ({k: np.asarray(v, np.float64)
                               for k, v in now.items()}, t_state)


@pytest.mark.parametrize('own_stats', [False, True],
                         ids=['running_stats', 'train_mode'])
def test_segmentation_input_matches_the_reference_projection(runs, own_stats):
  """The maps the one-shot head reads: the projection of every pixel, with
  the running statistics (ours) or the image's own (the reference)."""
  _, _, _, (model, torch_run, gen, state) = runs
  w = gen.mapping(FACES.latents([3]), psi=1.0)
  _, feats = gen.synthesis(w)
  variables = {'params': state.params, 'batch_stats': state.batch_stats}
  model.own_stats = own_stats
  got = np.asarray(model.embed_maps(variables, feats))
  res = gen.config.resolution
  want = torch_run.embed(swav_reference.hypercolumn(
      [np.asarray(f) for f in model.pick(feats)], res), train=own_stats)
  want = want.reshape(res, res, -1)
  assert _rel(got[0], want) < 1e-4
