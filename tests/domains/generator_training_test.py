"""The toy generator's training: the `toy_generator` stage of the runner."""

import json

import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import runner

FACES = domains.get('faces')


def small_config(num_steps):
  from configs import toy_generator  # pylint: disable=g-import-not-at-top
  config = toy_generator.get_config()
  t = config.toy_generator
  t.channels = {'4': 16, '8': 16, '16': 16, '32': 8, '64': 8}
  t.w_dim = 16
  t.mapping_layers = 2
  t.num_steps = num_steps
  t.eval_every = 3
  t.eval_samples = 4
  t.checkpoint_every = 3
  config.log_every = 3
  return config


def _steps(stage_dir):
  return [json.loads(line)['step']
          for line in (stage_dir / 'metrics.jsonl').read_text().splitlines()]


@pytest.mark.slow
def test_trainer_runs_resumes_and_exports(tmp_path):
  result = runner.train_and_evaluate(small_config(6), str(tmp_path))
  stage_dir = tmp_path / 'toy_generator'
  rows = [json.loads(line) for line in
          (stage_dir / 'metrics.jsonl').read_text().splitlines()]
  assert [r['step'] for r in rows] == [3, 6] and 'psnr' in rows[-1]
  assert set(result['fidelity']['near_colour_share']) == set(FACES.class_names)
  gen = stylegan2.load(stage_dir / 'generator')
  assert gen.metadata['training_steps'] == 6
  assert result['generator_dir'] == str(stage_dir / 'generator')
  # Resume: more steps continue from the last checkpoint (step 6).
  runner.train_and_evaluate(small_config(9), str(tmp_path))
  assert _steps(stage_dir) == [3, 6, 9]
  assert stylegan2.load(stage_dir / 'generator').metadata[
      'training_steps'] == 9


@pytest.mark.fast
def test_refused_in_a_multi_process_run(tmp_path, monkeypatch):
  monkeypatch.setattr(runner.jax, 'process_count', lambda: 2)
  with pytest.raises(config_lib.ConfigError,
                     match='toy_generator stage trains on one host'):
    runner.train_and_evaluate(small_config(3), str(tmp_path / 'w'))
  assert not (tmp_path / 'w').exists()  # nothing written
