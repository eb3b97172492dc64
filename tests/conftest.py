"""Test setup: 8 forced host devices (set before jax is imported)."""

import os
import sys

os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

# Tests import the package from the repository root and their helpers from
# this directory.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.dirname(os.path.abspath(__file__))):
  if path not in sys.path:
    sys.path.insert(0, path)


def pytest_configure(config):
  # ott-jax imports jaxopt, which warns that it is unmaintained.
  config.addinivalue_line(
      'filterwarnings',
      'ignore:JAXopt is no longer maintained:DeprecationWarning')


import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture(scope='session')
def tiny_workdir(tmp_path_factory):
  """A run of configs/tiny.py: SwAV (6 steps), then every method's head
  (12 steps, periodic eval at the end). Shared by the one-shot and
  dataset-generation tests; treat it as read-only."""
  from configs import tiny  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import train  # pylint: disable=g-import-not-at-top
  wd = str(tmp_path_factory.mktemp('tiny_run'))
  config = tiny.get_config()
  train.train_and_evaluate(config, wd)
  config.update_from_flattened_dict({
      'stage': 'oneshot', 'oneshot.num_steps': 12, 'oneshot.eval_every': 12,
      'oneshot.checkpoint_every': 6})
  train.train_and_evaluate(config, wd)
  return wd
