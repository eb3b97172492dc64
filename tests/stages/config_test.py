"""Stage settings: a workdir trained with other settings is refused."""

import json

import pytest

from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import runner
from tests.conftest import tiny_config


def test_stage_settings_cover_what_shapes_the_weights():
  config = tiny_config()
  swav = config_lib.stage_settings(config, 'swav')
  assert swav['swav.temperature'] == config.swav.temperature
  assert swav['views.num_blocks'] == config.views.num_blocks
  assert swav['generator_dir'] == 'toy'
  # How long a stage runs, how often it logs or saves, how it splits work
  # in memory: free to change between runs (a longer run continues).
  for free in ('num_steps', 'log_every', 'checkpoint_every', 'parallel',
               'swav.chunk_size', 'oneshot.methods'):
    assert free not in swav
  oneshot = config_lib.stage_settings(config, 'oneshot')
  assert oneshot['data.oneshot'] == 'toy_seed:0'
  assert 'oneshot.num_steps' not in oneshot and 'oneshot.head' in oneshot
  assert 'data.test_set' not in oneshot  # evaluation only
  json.dumps(oneshot)


def _steps(workdir):
  return [json.loads(line)['step'] for line in
          (workdir / 'simclr' / 'metrics.jsonl').read_text().splitlines()]


def _simclr(steps, **overrides):
  """The cheapest stage to train: the SimCLR projection, `steps` steps."""
  return tiny_config(stage=('simclr',), **{'simclr.num_steps': steps},
                     **overrides)


def test_other_settings_are_refused_and_restart_starts_over(tmp_path):
  stage = tmp_path / 'simclr'
  runner.train_and_evaluate(_simclr(2), str(tmp_path))
  record = (stage / 'settings.json').read_text()
  checkpoints = sorted(p.name for p in (stage / 'checkpoints').iterdir())
  with pytest.raises(config_lib.ConfigError,
                     match=r'simclr.temperature: 1.0 -> 0.5.*--restart'):
    runner.train_and_evaluate(_simclr(3, **{'simclr.temperature': 0.5}),
                              str(tmp_path))
  # Nothing changed.
  assert (stage / 'settings.json').read_text() == record
  assert sorted(p.name for p in (stage / 'checkpoints').iterdir()
                ) == checkpoints
  assert _steps(tmp_path) == [1, 2]
  # A longer run with the same settings continues.
  runner.train_and_evaluate(_simclr(3), str(tmp_path))
  assert _steps(tmp_path) == [1, 2, 3]
  # --restart: the stage starts again from step 0 with the new settings.
  runner.train_and_evaluate(_simclr(2, **{'simclr.temperature': 0.5}),
                            str(tmp_path), restart=True)
  assert _steps(tmp_path) == [1, 2]
  assert json.loads((stage / 'settings.json').read_text())[
      'simclr.temperature'] == 0.5


def test_methods_accept_the_command_line_form():
  """--config.oneshot.methods=ours,hfc_kmeans arrives as one string."""
  config = tiny_config(**{'oneshot.methods': ('ours,hfc_kmeans',)})
  assert config_lib.methods_of(config) == ('ours', 'hfc_kmeans')
  with pytest.raises(config_lib.ConfigError, match="'oures'"):
    config_lib.methods_of(tiny_config(**{'oneshot.methods': ('oures',)}))
