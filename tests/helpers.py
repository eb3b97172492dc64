"""What the tests share besides fixtures: paths, the tiny config, subprocesses.

Import these (`from tests.helpers import tiny_config`); `conftest.py` keeps
only the process setup (8 forced CPU devices) and the session fixtures.
"""

import os
import pathlib
from typing import Any

import ml_collections
import numpy as np

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


def single_device_step(stage: Any, model: Any, gen: Any,
                       config: ml_collections.ConfigDict):
  """A training stage's first state and its step on one device.

  What the parity tests run against their PyTorch re-creations.

  Args:
    stage: the stage module (`stages.swav` or `stages.simclr`).
    model: its model.
    gen: the frozen generator.
    config: the experiment config.

  Returns:
    (state, step, put): the initial host state, the jitted step (not
    donating its state), and `put`, which replicates a tree onto the device.
  """
  import jax  # pylint: disable=g-import-not-at-top

  from stylegan_seg_jax.runtime import parallel  # pylint: disable=g-import-not-at-top
  tx = stage.make_optimizer(config)
  state = stage.init_state(model, tx, jax.random.key(config.seed))
  mesh = parallel.make_mesh(jax.devices()[:1])
  step = parallel.shard_step(
      stage.make_device_step(model, gen, config, tx, 1), mesh,
      donate_state=False)
  return state, step, lambda tree: parallel.replicate(tree, mesh)


def mask_interior(mask: np.ndarray) -> np.ndarray:
  """[N, H, W] bool: pixels whose 8 neighbours share their class.

  The pixels away from any class edge (no anti-aliasing there).
  """
  m = np.pad(mask, ((0, 0), (1, 1), (1, 1)), mode='edge')
  same = np.ones(mask.shape, bool)
  for dy in (-1, 0, 1):
    for dx in (-1, 0, 1):
      same &= m[:, 1 + dy:1 + dy + mask.shape[1],
                1 + dx:1 + dx + mask.shape[2]] == mask
  return same
