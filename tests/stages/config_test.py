"""Stage settings: a workdir trained with other settings is refused."""

import json

import pytest

from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import runner
from tests.helpers import tiny_config

pytestmark = pytest.mark.fast


def test_stage_settings_cover_what_shapes_the_weights():
  config = tiny_config()
  swav = config_lib.stage_settings(config, 'swav')
  assert swav['swav.temperature'] == config.swav.temperature
  assert swav['views.num_blocks'] == config.views.num_blocks
  assert swav['generator_dir'] == 'toy:faces'
  # How long a stage runs, how often it logs or saves, how it splits work
  # in memory: free to change between runs (a longer run continues).
  for free in ('num_steps', 'log_every', 'checkpoint_every', 'parallel',
               'swav.chunk_size', 'oneshot.methods'):
    assert free not in swav
  oneshot = config_lib.stage_settings(config, 'oneshot', 'ours')
  assert oneshot['data.oneshot'] == 'toy:faces:seed:0'
  assert 'oneshot.num_steps' not in oneshot and 'oneshot.head' in oneshot
  assert 'data.test_set' not in oneshot  # evaluation only
  json.dumps(oneshot)


def _trained(stage_dir, config, stage, method=None):
  """A stage directory as training leaves it: settings and a checkpoint."""
  config_lib.prepare_stage_dir(config, stage, stage_dir, method=method)
  (stage_dir / 'checkpoints' / '2').mkdir(parents=True)
  return (stage_dir / 'settings.json').read_text()


def test_other_settings_are_refused_and_restart_starts_over(tmp_path):
  stage = tmp_path / 'simclr'
  record = _trained(stage, tiny_config(), 'simclr')
  changed = tiny_config(**{'simclr.temperature': 0.5, 'simclr.num_steps': 9})
  with pytest.raises(config_lib.ConfigError,
                     match=r'simclr.temperature: 1.0 -> 0.5.*--overwrite'):
    config_lib.prepare_stage_dir(changed, 'simclr', stage)
  assert (stage / 'settings.json').read_text() == record  # nothing changed
  assert (stage / 'checkpoints' / '2').is_dir()
  # A longer run with the same settings continues.
  longer = tiny_config(**{'simclr.num_steps': 9})
  config_lib.prepare_stage_dir(longer, 'simclr', stage)
  assert (stage / 'checkpoints' / '2').is_dir()
  # --overwrite: the stage's training is deleted, the new settings recorded.
  config_lib.prepare_stage_dir(changed, 'simclr', stage, restart=True)
  assert not (stage / 'checkpoints').exists()
  assert json.loads((stage / 'settings.json').read_text())[
      'simclr.temperature'] == 0.5


def test_a_refused_run_writes_nothing(tmp_path):
  """The runner checks every stage before it records the config."""
  _trained(tmp_path / 'swav', tiny_config(), 'swav')
  config_lib.record_config(tiny_config(), tmp_path)
  recorded = (tmp_path / 'config.json').read_text()
  changed = tiny_config(**{'stage': ('swav',), 'swav.temperature': 0.2})
  with pytest.raises(config_lib.ConfigError, match='swav.temperature'):
    runner.train_and_evaluate(changed, str(tmp_path))
  assert (tmp_path / 'config.json').read_text() == recorded


def test_oneshot_methods_record_only_what_they_depend_on(tmp_path):
  config = tiny_config()
  for method in ('ours', 'datasetgan', 'hfc_simclr'):
    _trained(tmp_path / method, config, 'oneshot', method)
  changed = tiny_config(**{'simclr.temperature': 0.5})
  config_lib.check_stage_dir(changed, 'oneshot', tmp_path / 'ours', 'ours')
  config_lib.check_stage_dir(changed, 'oneshot', tmp_path / 'datasetgan',
                             'datasetgan')
  with pytest.raises(config_lib.ConfigError, match='simclr.temperature'):
    config_lib.check_stage_dir(changed, 'oneshot', tmp_path / 'hfc_simclr',
                               'hfc_simclr')
  # A longer SwAV run is another input for ours, not for the baselines.
  longer = tiny_config(num_steps=50)
  config_lib.check_stage_dir(longer, 'oneshot', tmp_path / 'datasetgan',
                             'datasetgan')
  with pytest.raises(config_lib.ConfigError, match='num_steps: 6 -> 50'):
    config_lib.check_stage_dir(longer, 'oneshot', tmp_path / 'ours', 'ours')
  # Our head's size is ours alone.
  xs = tiny_config(**{'oneshot.head': 'XS'})
  config_lib.check_stage_dir(xs, 'oneshot', tmp_path / 'datasetgan',
                             'datasetgan')
  with pytest.raises(config_lib.ConfigError, match='oneshot.head'):
    config_lib.check_stage_dir(xs, 'oneshot', tmp_path / 'ours', 'ours')


def test_an_example_read_from_the_test_set_records_the_test_set():
  config = tiny_config(**{'data.oneshot': 'index:3',
                          'data.test_set': 'data/a/1.0.0'})
  assert config_lib.stage_settings(config, 'oneshot', 'datasetgan')[
      'data.test_set'] == 'data/a/1.0.0'
  assert 'data.test_set' not in config_lib.stage_settings(
      tiny_config(), 'oneshot', 'datasetgan')  # toy:faces:seed:N


def test_a_restart_keeps_the_stages_brought_in_as_dependencies(tmp_path):
  _trained(tmp_path / 'simclr', tiny_config(), 'simclr')
  config = tiny_config(**{'stage': ('oneshot',), 'simclr.temperature': 0.5})
  # SimCLR (a dependency) was trained with other settings: refused, even
  # with --overwrite, which applies to the listed stage only.
  with pytest.raises(config_lib.ConfigError, match='simclr.temperature'):
    runner.train_and_evaluate(config, str(tmp_path), restart=True)
  assert (tmp_path / 'simclr' / 'checkpoints' / '2').is_dir()


def test_methods_accept_the_command_line_form():
  """--config.oneshot.methods=ours,hfc_kmeans arrives as one string."""
  config = tiny_config(**{'oneshot.methods': ('ours,hfc_kmeans',)})
  assert config_lib.methods_of(config) == ('ours', 'hfc_kmeans')
  with pytest.raises(config_lib.ConfigError, match="'oures'"):
    config_lib.methods_of(tiny_config(**{'oneshot.methods': ('oures',)}))


def test_runs_recorded_before_a_field_existed_keep_their_behaviour(tmp_path):
  stage = tmp_path / 'swav'
  _trained(stage, tiny_config(), 'swav')
  record = json.loads((stage / 'settings.json').read_text())
  del record['swav.layer_norm_init']  # as an earlier version wrote it
  (stage / 'settings.json').write_text(json.dumps(record))
  config_lib.check_stage_dir(tiny_config(), 'swav', stage)  # same behaviour
  with pytest.raises(config_lib.ConfigError,
                     match='swav.layer_norm_init: False -> True'):
    config_lib.check_stage_dir(
        tiny_config(**{'swav.layer_norm_init': True}), 'swav', stage)


def test_runs_recorded_with_the_old_domain_spellings_resume(tmp_path):
  stage = tmp_path / 'ours'
  _trained(stage, tiny_config(), 'oneshot', 'ours')
  record = json.loads((stage / 'settings.json').read_text())
  assert record['generator_dir'] == 'toy:faces'
  record.update({'generator_dir': 'toy', 'data.oneshot': 'toy_seed:0'})
  (stage / 'settings.json').write_text(json.dumps(record))  # as 0.3 wrote
  config_lib.check_stage_dir(tiny_config(), 'oneshot', stage, 'ours')
  with pytest.raises(config_lib.ConfigError, match='data.oneshot'):
    config_lib.check_stage_dir(
        tiny_config(**{'data.oneshot': 'toy:faces:seed:1'}), 'oneshot',
        stage, 'ours')


def test_check_inputs_names_the_first_missing_input(tmp_path):
  from stylegan_seg_jax.data import experiment  # pylint: disable=g-import-not-at-top
  assert config_lib.check_inputs(tiny_config()) == []  # toy: nothing to read
  labels = tmp_path / 'labels'
  labels.mkdir()
  config = tiny_config(**{'data.oneshot': str(labels)})
  with pytest.raises(config_lib.ConfigError,
                     match=r"data\.oneshot=.*example\.npz does not exist"):
    config_lib.check_inputs(config)
  (labels / experiment.EXAMPLE_FILE).write_bytes(b'')
  assert config_lib.check_inputs(config) == [
      str(labels / experiment.EXAMPLE_FILE)]
  missing = tmp_path / 'test_set'
  with pytest.raises(config_lib.ConfigError,
                     match=r'data\.test_set=.*dataset_info\.json'):
    config_lib.check_inputs(tiny_config(**{'data.test_set': str(missing)}))
  with pytest.raises(config_lib.ConfigError, match=r'generator_dir=.*gen'):
    config_lib.check_inputs(tiny_config(generator_dir=str(tmp_path / 'gen')))
  assert config_lib.check_inputs(tiny_config(**{
      'data.oneshot': 'index:3', 'data.test_set': ''})) == []


def test_multihost_refuses_relative_local_paths(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  (tmp_path / 'labels').mkdir()
  (tmp_path / 'labels' / 'example.npz').write_bytes(b'')
  relative = tiny_config(**{'data.oneshot': 'labels'})
  # One host: a relative path that exists is fine.
  assert config_lib.check_inputs(relative) == ['labels/example.npz']
  with pytest.raises(config_lib.ConfigError,
                     match=r"^--config\.data\.oneshot='labels' is a relative "
                     'local path in a multi-host run'):
    config_lib.check_inputs(relative, multihost=True)
  absolute = tiny_config(**{'data.oneshot': str(tmp_path / 'labels')})
  assert config_lib.check_inputs(absolute, multihost=True, paths={
      '--workdir': 'gs://bucket/run', '--out': None}) == [
          str(tmp_path / 'labels' / 'example.npz')]
  for flag, value in (('--workdir', 'runs/x'), ('--out', '~/data')):
    with pytest.raises(config_lib.ConfigError,
                       match=f'^{flag}=.* is a relative local path'):
      config_lib.check_inputs(absolute, multihost=True,
                              paths={flag: value})
  # Domain specs and index specs are not paths.
  assert config_lib.check_inputs(tiny_config(), multihost=True) == []
