"""Test setup: 8 forced host devices on the CPU, and the shared fixtures.

Helpers the tests import (paths, the tiny config, the subprocess
environment) live in `tests/helpers.py`; this file only sets up the
process and defines fixtures.

The device count is forced before jax is imported, whatever XLA_FLAGS the
environment holds (an outer --xla_force_host_platform_device_count is
replaced, other XLA flags are kept).

Every test is marked either `fast` (the quick subset, `pytest -m fast`,
chosen to run in a few minutes) or `slow` (it starts subprocesses, runs an
end-to-end chain or compiles a whole training step several times); a test
with neither or both is a collection error.
"""

import atexit
import os
import re
import shutil
import tempfile

_FORCE = '--xla_force_host_platform_device_count=8'
os.environ['XLA_FLAGS'] = ' '.join(
    [f for f in os.environ.get('XLA_FLAGS', '').split()
     if not re.match(r'--xla_force_host_platform_device_count=', f)]
    + [_FORCE])
os.environ['JAX_PLATFORMS'] = 'cpu'
# XLA's optimisation passes cost more compile time than they save on these
# small programs (the suite runs about a third faster); set
# JAX_DISABLE_MOST_OPTIMIZATIONS=0 to test the optimised executables.
os.environ.setdefault('JAX_DISABLE_MOST_OPTIMIZATIONS', '1')
# One persistent compilation cache per test session, in a fresh temporary
# directory: the tests and their subprocesses compile the same small
# programs many times (a tiny training step in every run of a kill-and-
# resume test, the same step in several tests), and load them from it.
_CACHE = tempfile.mkdtemp(prefix='stylegan_seg_jax-tests-jax-cache-')
atexit.register(shutil.rmtree, _CACHE, True)
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', _CACHE)
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0.3')

import pytest  # noqa: E402  pylint: disable=wrong-import-position

from tests.helpers import tiny_config  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='session')
def tiny_swav_workdir(tmp_path_factory):
  """A run of configs/tiny.py's SwAV stage (6 steps) alone; read-only."""
  from stylegan_seg_jax.stages import runner  # pylint: disable=g-import-not-at-top
  wd = str(tmp_path_factory.mktemp('tiny_swav'))
  runner.train_and_evaluate(tiny_config(), wd)
  return wd


@pytest.fixture(scope='session')
def tiny_workdir(tiny_swav_workdir, tmp_path_factory):
  """A run of configs/tiny.py: SwAV (6 steps), then every method's head
  (12 steps, periodic eval at the end). Shared by the one-shot and
  dataset-generation tests; treat it as read-only."""
  import shutil  # pylint: disable=g-import-not-at-top

  from stylegan_seg_jax.stages import runner  # pylint: disable=g-import-not-at-top
  wd = str(tmp_path_factory.mktemp('tiny_run'))
  shutil.copytree(tiny_swav_workdir, wd, dirs_exist_ok=True)
  runner.train_and_evaluate(tiny_config(**{
      'stage': ('oneshot',), 'oneshot.num_steps': 12,
      'oneshot.eval_every': 12, 'oneshot.checkpoint_every': 6}), wd)
  return wd


def pytest_collection_modifyitems(config, items):
  """Refuses a test that is not marked exactly one of `fast` and `slow`."""
  del config
  wrong = [item.nodeid for item in items
           if len({m.name for m in item.iter_markers()}
                  & {'fast', 'slow'}) != 1]
  if wrong:
    raise pytest.UsageError(
        f'{len(wrong)} test(s) not marked exactly one of fast and slow: '
        + ', '.join(wrong[:5]))
