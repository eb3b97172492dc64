"""The one-shot stage and the evaluation of a workdir, on the tiny config."""

import json

import jax
import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.eval import metrics
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import evaluation
from stylegan_seg_jax.stages import oneshot as oneshot_stage
from stylegan_seg_jax.stages import runner
from tests.helpers import tiny_config as _config

FACES = domains.get('faces')


@pytest.fixture
def workdir(tiny_workdir):
  return tiny_workdir


@pytest.mark.slow
def test_heads_learn_the_example_and_eval_files_are_written(workdir):
  config = _config(**{'oneshot.num_steps': 12})
  results = evaluation.evaluate_workdir(config, workdir)
  out = json.loads(open(f'{workdir}/eval/metrics.json').read())
  assert set(out['methods']) == set(config.oneshot.methods)
  assert out['num_test'] == 16 and out['steps']['ours'] == 12
  for r in results:
    lines = [json.loads(line) for line in
             open(f'{workdir}/oneshot/{r.name}/metrics.jsonl')]
    assert lines[-1]['loss'] < lines[0]['loss'], r.name
    # The trainer's periodic evaluation used the same evaluator: same numbers.
    during = json.loads(open(f'{workdir}/oneshot/{r.name}/eval.json').read())
    for key in ('miou_per_image', 'paper_wiou', 'fg_iou', 'miou_dataset'):
      assert during['metrics'][key] == pytest.approx(r.metrics[key], abs=1e-9)
    preds = np.load(f'{workdir}/eval/{r.name}_predictions.npz')
    assert preds['labels'].shape == (16, 64, 64)
    assert list(preds['seeds']) == list(FACES.test_seed_list())[:16]
    assert (np.asarray(preds['labels']) < 8).all()
    assert (open(f'{workdir}/eval/{r.name}_overlay.png', 'rb').read(4)
            == b'\x89PNG')
  assert '| ours |' in open(f'{workdir}/eval/metrics.md').read()
  # The head fits its one example far better than chance (8 classes).
  assert all(json.loads(open(f'{workdir}/oneshot/{n}/metrics.jsonl')
                        .readlines()[-1])['pixel_acc'] > 0.5
             for n in ('repurposegan', 'datasetgan', 'hfc_kmeans'))


@pytest.mark.slow
def test_evaluation_numbers_recompute_from_the_written_predictions(workdir):
  """metrics.json follows from <method>_predictions.npz and the ground
  truth alone (an independent pass through the metrics)."""
  config = _config(**{'oneshot.num_steps': 12})
  evaluation.evaluate_workdir(config, workdir)
  out = json.loads(open(f'{workdir}/eval/metrics.json').read())
  test = experiment.load_test_set(config, workdir)
  for name, stored in out['methods'].items():
    preds = np.load(f'{workdir}/eval/{name}_predictions.npz')
    np.testing.assert_array_equal(preds['seeds'], test.seeds)
    labels = preds['labels'].astype(np.int64)
    labels[labels >= len(test.class_names)] = 0  # unknown ids: background
    again = metrics.summarize(test.masks.astype(np.int64), labels,
                              len(test.class_names), test.class_names)
    for key in ('miou_per_image', 'miou_dataset', 'normalized_wiou',
                'paper_wiou', 'fg_iou', 'dice', 'pd50', 'bbox_iou'):
      assert again[key] == pytest.approx(stored[key], rel=1e-12), (name, key)


@pytest.mark.slow
def test_resumed_oneshot_training_matches_uninterrupted(tmp_path):
  base = {'stage': ('oneshot',), 'oneshot.methods': ('datasetgan',),
          'oneshot.checkpoint_every': 3}
  a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
  runner.train_and_evaluate(_config(**base, **{'oneshot.num_steps': 3}), a)
  runner.train_and_evaluate(_config(**base, **{'oneshot.num_steps': 6}), a)
  runner.train_and_evaluate(_config(**base, **{'oneshot.num_steps': 6}), b)
  # The second call continued from the step-3 checkpoint (a restart from
  # step 0 would log steps 1.. again).
  logged = [json.loads(line)['step'] for line in
            open(f'{a}/oneshot/datasetgan/metrics.jsonl')]
  assert logged == [1, 2, 3, 4, 5, 6], logged
  gen = FACES.load_generator()
  cfg = _config(**base)
  _, sa = oneshot_stage.restore('datasetgan', cfg, a, gen, 8)
  _, sb = oneshot_stage.restore('datasetgan', cfg, b, gen, 8)
  assert int(sa.step) == int(sb.step) == 6
  for x, y in zip(jax.tree.leaves(sa.params), jax.tree.leaves(sb.params)):
    np.testing.assert_array_equal(x, y)


@pytest.mark.fast
@pytest.mark.parametrize('overrides,message', [
    ({'oneshot.methods': ('ours', 'sam')}, 'unknown'),
    ({'oneshot.methods': ('ours',)}, 'trained SwAV stage'),
    ({'data.oneshot': 'toy:faces:seed:1000000'}, 'one-shot seeds'),
    ({'data.oneshot': 'index:x'}, 'must be an integer'),
    ({'data.oneshot': '/nonexistent/example.npz'}, 'no such example'),
])
def test_bad_oneshot_configs_fail_with_one_line(tmp_path, overrides, message):
  config = _config(**{'stage': ('oneshot',), **overrides})
  with pytest.raises(config_lib.ConfigError, match=message):
    runner.train_and_evaluate(config, str(tmp_path))


@pytest.mark.fast
def test_evaluate_without_training_fails_and_writes_nothing(tmp_path):
  with pytest.raises(config_lib.ConfigError, match='no checkpoint'):
    evaluation.evaluate_workdir(
        _config(**{'oneshot.methods': ('datasetgan',)}), str(tmp_path))
  assert not (tmp_path / 'eval').exists()


@pytest.mark.fast
def test_several_examples_input_equals_each_one_alone(tmp_path):
  """The few-shot input: one generator pass over stacked examples equals a
  pass over each example on its own (W and W+ latents, two truncations)."""
  from stylegan_seg_jax.data import labelled_set  # pylint: disable=g-import-not-at-top
  gen = FACES.load_generator()
  z = FACES.latents([3, 4])
  w = np.asarray(gen.mapping(z, psi=1.0))
  w_plus = np.repeat(w[1:2], gen.config.num_ws, 0)
  w_plus[2:] += 0.3  # a real W+: the later rows differ
  masks = FACES.ground_truth(z)
  examples = [
      labelled_set.OneShotExample(w=w[0], psi=1.0, mask=masks[0],
                                  class_names=FACES.class_names),
      labelled_set.OneShotExample(w=w_plus, psi=0.7, mask=masks[1],
                                  class_names=FACES.class_names)]
  prepared = oneshot_stage.prepare('repurposegan', _config(), str(tmp_path),
                                   gen, 8)
  x, labels = oneshot_stage.examples_input(prepared, gen, examples)
  for i, e in enumerate(examples):
    ws = gen.truncate(np.asarray(e.w)[None], e.psi)
    _, feats = gen.synthesis(ws)
    alone = prepared.segmenter.make_input(prepared.frozen, feats)
    for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(alone)):
      np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b)[0],
                                 atol=2e-5)
  np.testing.assert_array_equal(np.asarray(labels), masks)
  with pytest.raises(ValueError, match='no labelled example'):
    oneshot_stage.examples_input(prepared, gen, [])
