"""Fixtures of the labeller tests: fresh workdirs holding a trained SwAV
stage (copied from the tiny run), and the labeller's config."""

import pathlib
import shutil

import pytest

from tests.helpers import tiny_config

# The labeller trains 'ours' for this many steps in the tests.
STEPS = 6


def labeller_config(**overrides):
  """The tiny config, training only 'ours' (the labeller's method)."""
  return tiny_config(**{'oneshot.methods': ('ours',),
                        'oneshot.num_steps': STEPS, **overrides})


@pytest.fixture
def swav_workdir(tiny_swav_workdir, tmp_path) -> pathlib.Path:
  """A new workdir with the tiny run's SwAV stage and nothing else."""
  wd = tmp_path / 'run'
  wd.mkdir()
  shutil.copytree(pathlib.Path(tiny_swav_workdir) / 'swav', wd / 'swav')
  return wd
