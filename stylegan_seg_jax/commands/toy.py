"""`stylegan-seg toy`: the toy domain's sample grids, test set and fidelity.

  stylegan-seg toy grid --out=DIR [--num_samples=16 --seed=0]
  stylegan-seg toy testset --out=DIR
  stylegan-seg toy report

`grid` writes DIR/toy_faces_grid.png: the samples of seeds SEED ..
SEED + N - 1 on the odd rows, the same with their exact masks overlaid below.
`testset` writes the 256 labelled test samples (`toy.TEST_SEEDS`) as a TFDS
dataset under DIR and prints the directory to read it from. `report` prints
the shipped generator's fidelity on the held-out seeds (`toy.EVAL_SEEDS`).
The toy generator itself is trained by `stylegan-seg train
--config=configs/toy_generator.py`.
"""

from __future__ import annotations

import json
import pathlib

from stylegan_seg_jax.commands import bootstrap
from stylegan_seg_jax.runtime import errors

__all__ = ['run', 'GRID_FILE']

USAGE = ('usage: stylegan-seg toy grid --out=DIR [--num_samples=16 '
         '--seed=0] | testset --out=DIR | report')
# The file `grid` writes into --out.
GRID_FILE = 'toy_faces_grid.png'

_OUT = bootstrap.out_flag()
_NUM_SAMPLES = bootstrap.num_samples_flag(16)
_SEED = bootstrap.seed_flag(0)


def _out(command: str) -> pathlib.Path:
  if _OUT.value is None:
    raise errors.UsageError(f'{command} needs --out=DIR')
  return pathlib.Path(_OUT.value)


def main(argv: list[str]) -> None:
  """Runs the action named by the positional argument."""
  command = argv[1]
  if command == 'grid':
    num, seed = _NUM_SAMPLES.value, _SEED.value
    path = _out(command) / GRID_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    from stylegan_seg_jax import toy  # pylint: disable=g-import-not-at-top
    toy.save_sample_grid(path, list(range(seed, seed + num)))
    print(f'wrote {path} (seeds {seed}..{seed + num - 1})')
  elif command == 'testset':
    from stylegan_seg_jax.data import experiment  # pylint: disable=g-import-not-at-top
    print(experiment.build_toy_test_set(_out(command)))
  else:
    from stylegan_seg_jax import toy  # pylint: disable=g-import-not-at-top
    print(json.dumps(toy.fidelity_report(toy.load_generator(),
                                         toy.latents(toy.EVAL_SEEDS)),
                     indent=2))


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='toy', argv=argv, usage=USAGE,
                commands=('grid', 'testset', 'report'),
                expected=(ValueError, OSError), local_paths=('out',))
