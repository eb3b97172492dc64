"""What the benchmarks share: flags, timing, the random config-f generator.

Run from the repository root (the benchmarks import `configs/` and the
test-only PyTorch references of `tests/references/`):

  python -m benchmarks.generator   # Flax vs the PyTorch generators
  python -m benchmarks.parity      # converted checkpoints vs the originals
  python -m benchmarks.swav        # one SwAV step, lean vs naive embedding
  python -m benchmarks.segment     # on-the-fly segmentation paths
  python -m benchmarks.pipeline    # every stage of the main job

Each prints its setup line and a markdown table (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import statistics
import time

from absl import flags

from stylegan_seg_jax.commands import bootstrap

__all__ = ['Timing', 'time_calls', 'random_generator', 'setup_line',
           'BATCH_SIZE', 'REPEATS', 'RESOLUTION', 'CHANNEL_MULTIPLIER']

BATCH_SIZE = bootstrap.batch_size_flag(4)
REPEATS = flags.DEFINE_integer('repeats', 5,
                               'Timed repeats after one warm-up call.')
# The size of the randomly initialised model (not a pruning, as
# --config.resolution and `convert --resolution` are).
RESOLUTION = flags.DEFINE_integer('model_resolution', 256,
                                  'Resolution of the random generator.')
CHANNEL_MULTIPLIER = flags.DEFINE_integer(
    'channel_multiplier', 2, 'rosinality channel multiplier (2 = config-f; '
    'NVIDIA channel_base = 16384 * cm).')


@dataclasses.dataclass
class Timing:
  """Seconds per call of one implementation."""

  name: str
  seconds: list[float]
  batch: int

  @property
  def median(self) -> float:
    return statistics.median(self.seconds)

  @property
  def images_per_s(self) -> float:
    return self.batch / self.median


def time_calls(fn: Callable[[], object], repeats: int) -> list[float]:
  """Calls `fn` once to warm up, then `repeats` timed times."""
  fn()
  out = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    out.append(time.perf_counter() - t0)
  return out


def random_generator(resolution: int, cm: int, seed: int = 0):
  """A randomly initialised config-f generator (rosinality channel table)."""
  import jax  # pylint: disable=g-import-not-at-top

  from stylegan_seg_jax import stylegan2  # pylint: disable=g-import-not-at-top
  config = stylegan2.GeneratorConfig(
      resolution=resolution,
      channels=tuple(stylegan2.rosinality_channels(resolution, cm).items()))
  return stylegan2.init(config, jax.random.key(seed))


def setup_line(batch: bool = True) -> str:
  """The device and model the numbers were measured on."""
  import jax  # pylint: disable=g-import-not-at-top
  line = (f'device: {jax.devices()[0].device_kind}, {jax.device_count()} '
          f'device(s); {RESOLUTION.value}x{RESOLUTION.value}, channel '
          f'multiplier {CHANNEL_MULTIPLIER.value}, 8-layer mapping, w_dim '
          '512, random weights')
  return line + (f'; batch {BATCH_SIZE.value}' if batch else '')
