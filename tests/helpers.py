"""What the tests share besides fixtures: paths, the tiny config, subprocesses.

Import these (`from tests.helpers import tiny_config`); `conftest.py` keeps
only the process setup (8 forced CPU devices) and the session fixtures.
"""

import os
import pathlib

import ml_collections

# The repository root (configs/, launch/, README.md).
ROOT = pathlib.Path(__file__).resolve().parents[1]


def tiny_config(**overrides) -> ml_collections.ConfigDict:
  """configs/tiny.py with dotted-name overrides ({'oneshot.num_steps': 3})."""
  from configs import tiny  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.update_from_flattened_dict(overrides)
  return config


def subprocess_env(**extra: str) -> dict[str, str]:
  """The environment for the binaries that tests start.

  The checkout comes first on PYTHONPATH; the CPU and 8 forced devices are
  inherited from the test process; `extra` is added last.
  """
  path = os.environ.get('PYTHONPATH')
  return {**os.environ, 'PYTHONPATH': str(ROOT) + (f':{path}' if path else ''),
          'JAX_PLATFORMS': 'cpu', **extra}
