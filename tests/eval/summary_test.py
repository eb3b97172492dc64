"""The multi-run summary: hand-computed means and sample deviations."""

import json

import pytest

from stylegan_seg_jax.eval import summary


def _run(tmp_path, name, oneshot, methods):
  eval_dir = tmp_path / name / 'eval'
  eval_dir.mkdir(parents=True)
  (eval_dir / 'metrics.json').write_text(json.dumps(
      {'oneshot': oneshot, 'num_test': 4, 'methods': methods}))
  return tmp_path / name


def test_mean_and_sample_std_over_runs(tmp_path):
  a = _run(tmp_path, 'a', 'toy_seed:0', {
      'ours': {'miou_per_image': 0.5, 'normalized_wiou': 0.8},
      'datasetgan': {'miou_per_image': 0.1}})
  b = _run(tmp_path, 'b', 'toy_seed:1', {
      'ours': {'miou_per_image': 0.7, 'normalized_wiou': 0.8}})
  runs = summary.load_runs([a, b])
  result = summary.summarize(runs)
  assert list(result) == ['ours']  # only methods every run evaluated
  mean, std, n = result['ours']['miou_per_image']
  # mean 0.6; sample std sqrt(((0.1)^2 + (0.1)^2) / 1) = 0.1414...
  assert (mean, n) == (pytest.approx(0.6), 2)
  assert std == pytest.approx(2 ** 0.5 / 10)
  assert result['ours']['normalized_wiou'][:2] == (pytest.approx(0.8), 0.0)
  text = summary.format_summary(result, runs)
  assert '| ours | n/a | n/a |' not in text
  assert '0.600 ± 0.141' in text and 'toy_seed:0, toy_seed:1' in text


def test_a_run_without_evaluation_is_named(tmp_path):
  with pytest.raises(ValueError, match='metrics.json not found'):
    summary.load_runs([tmp_path])
