"""The multi-run summary: hand-computed means and sample deviations."""

import json

import pytest

from stylegan_seg_jax.eval import summary

pytestmark = pytest.mark.fast


def _run(tmp_path, name, oneshot, methods):
  eval_dir = tmp_path / name / 'eval'
  eval_dir.mkdir(parents=True)
  (eval_dir / 'metrics.json').write_text(json.dumps(
      {'oneshot': oneshot, 'num_test': 4, 'methods': methods}))
  return tmp_path / name


def test_mean_and_sample_std_over_runs(tmp_path):
  a = _run(tmp_path, 'a', 'toy:faces:seed:0', {
      'ours': {'miou_per_image': 0.5, 'normalized_wiou': 0.8},
      'datasetgan': {'miou_per_image': 0.1}})
  b = _run(tmp_path, 'b', 'toy:faces:seed:1', {
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
  assert '0.600 ± 0.141' in text
  assert 'toy:faces:seed:0, toy:faces:seed:1' in text


def test_a_run_without_evaluation_is_named(tmp_path):
  with pytest.raises(ValueError, match='metrics.json not found'):
    summary.load_runs([tmp_path])


def variant(tmp_path, name, mious, losses, head_change, steps_per_s):
  root = tmp_path / name
  log = root / 'swav_run' / 'swav'
  log.mkdir(parents=True)
  records = [{'step': i + 1, 'loss': loss, 'steps_per_s': steps_per_s,
              'head_change': head_change * (i + 1) / len(losses)}
             for i, loss in enumerate(losses)]
  # A resumed run logs its last steps again: the later record counts.
  records.append(dict(records[-1], loss=losses[-1]))
  log.joinpath('metrics.jsonl').write_text(
      ''.join(json.dumps(r) + '\n' for r in records))
  for seed, miou in enumerate(mious):
    _run(root, f'seed_{seed}', f'toy:faces:seed:{seed}', {
        'ours': {'miou_per_image': miou, 'normalized_wiou': miou + 0.1}})
  return root


def test_ablation_rows_against_the_first_variant(tmp_path):
  base = variant(tmp_path, 'random_init', [0.5, 0.7], [9.0], 0.0, 2.0)
  # 40 steps: loss 10 for 20 steps, then 6; first/last 20-step means 10 / 6;
  # 90% of the drop (to 6.4) is first reached by the window ending at step
  # 38 (2 of 20 at 10, 18 at 6: mean 6.4).
  trained = variant(tmp_path, 'trained', [0.6, 0.9],
                     [10.0] * 20 + [6.0] * 20, 0.25, 4.0)
  text = summary.format_ablation(summary.load_ablation([base, trained]))
  rows = {line.split(' | ')[0][2:]: line.split(' | ')
          for line in text.splitlines() if line.startswith('| ')}
  assert rows['random_init'][1] == '0.600 ± 0.141'
  assert rows['random_init'][3] == '+0.000'
  assert rows['trained'][1] == '0.750 ± 0.212'
  assert rows['trained'][3] == '+0.150' and rows['trained'][4] == '+0.150'
  assert rows['trained'][5] == '10.00 → 6.00'
  assert rows['trained'][6] == '2.50e-01'
  assert rows['trained'][7:10] == ['40', '0.25', '38 |']
  assert rows['random_init'][9] == '- |'  # one step: no drop
  assert 'toy:faces:seed:0, toy:faces:seed:1' in text


def test_ablation_names_what_is_missing(tmp_path):
  with pytest.raises(ValueError, match='swav_run'):
    summary.load_ablation([tmp_path])
  root = variant(tmp_path, 'v', [0.5], [1.0], 0.0, 1.0)
  (root / 'seed_0' / 'eval' / 'metrics.json').write_text(json.dumps(
      {'oneshot': 'toy:faces:seed:0', 'num_test': 4, 'methods': {}}))
  with pytest.raises(ValueError, match="'ours' was not evaluated"):
    summary.format_ablation(summary.load_ablation([root]))


def test_ablation_compares_like_with_like(tmp_path):
  a = variant(tmp_path, 'a', [0.5, 0.6], [1.0], 0.0, 1.0)
  b = variant(tmp_path, 'b', [0.5, 0.6, 0.7], [1.0], 0.0, 1.0)
  with pytest.raises(ValueError, match='variant b was evaluated on'):
    summary.load_ablation([a, b])
  # Seeds in numeric order: seed_10 after seed_2.
  c = variant(tmp_path, 'c', [0.1] * 11, [1.0], 0.0, 1.0)
  runs = summary.load_ablation([c])[0].runs
  assert [r['oneshot'] for r in runs][-2:] == ['toy:faces:seed:9',
                                               'toy:faces:seed:10']
  empty = variant(tmp_path, 'e', [0.5], [1.0], 0.0, 1.0)
  (empty / 'swav_run' / 'swav' / 'metrics.jsonl').write_text('')
  with pytest.raises(ValueError, match='metrics.jsonl is empty'):
    summary.load_ablation([empty])


def _downstream_run(workdir, run, sets):
  eval_dir = workdir / 'downstream' / run / 'downstream' / 'eval'
  eval_dir.mkdir(parents=True)
  (eval_dir / 'metrics.json').write_text(json.dumps(
      {'train_set': run, 'sets': {
          name: {'source': name, 'metrics': {'miou_per_image': v,
                                             'normalized_wiou': v / 2}}
          for name, v in sets.items()}}))


def test_downstream_rows_in_order_with_mean_and_sample_std(tmp_path):
  s0, s1 = tmp_path / 'seed_0', tmp_path / 'seed_1'
  for w, offset in ((s0, 0.0), (s1, 0.2)):
    _downstream_run(w, 'ours_n1000_drop0.1', {'rendered': 0.5 + offset,
                                              'shifted': 0.3})
    _downstream_run(w, 'ours_n1000_drop0', {'rendered': 0.4 + offset,
                                            'shifted': 0.2})
    _downstream_run(w, 'rendered_n1000', {'rendered': 0.9, 'shifted': 0.8})
    _downstream_run(w, 'oneshot', {'rendered': 0.1, 'shifted': 0.0})
  text = summary.format_downstream(summary.load_downstream([s0, s1]))
  rows = [line for line in text.splitlines() if line.startswith('| ')]
  assert rows[0].startswith('| trained on | runs | rendered: miou_per_image '
                            '| rendered: normalized_wiou | shifted: ')
  assert [r.split(' | ')[0] for r in rows[1:]] == [
      '| the one labelled image (floor)', '| ours, N = 1000',
      '| ours, N = 1000, 10% most uncertain dropped',
      '| 1000 renderer images (ceiling)']
  # rendered mIoU 0.4 and 0.6: mean 0.5, sample std 0.1414.
  assert rows[2].startswith(
      '| ours, N = 1000 | 2 | 0.500 ± 0.141 | 0.250 ± 0.071 | 0.200 ± 0.000')


def test_a_workdir_without_downstream_runs_is_named(tmp_path):
  with pytest.raises(ValueError, match='no downstream runs'):
    summary.load_downstream([tmp_path])
