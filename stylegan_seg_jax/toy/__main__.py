"""The toy domain's CLI: sample grids, the labelled test set, fidelity.

  python -m stylegan_seg_jax.toy grid --out=DIR [--num_samples=16 --seed=0]
  python -m stylegan_seg_jax.toy testset --out=DIR
  python -m stylegan_seg_jax.toy report

`grid` writes DIR/toy_faces_grid.png: the samples of seeds SEED ..
SEED + N - 1 on the odd rows, the same with their exact masks overlaid below.
`testset` writes the 256 labelled test samples (`toy.TEST_SEEDS`) as a TFDS
dataset under DIR and prints the directory to read it from. `report` prints
the shipped generator's fidelity on the held-out seeds (`toy.EVAL_SEEDS`).
The toy generator itself is trained by the training binary
(`--config=configs/toy_generator.py`).
"""

import json
import pathlib

from absl import flags

from stylegan_seg_jax.runtime import cli

USAGE = ('usage: python -m stylegan_seg_jax.toy grid --out=DIR '
         '[--num_samples=16 --seed=0] | testset --out=DIR | report')
GRID_FILE = 'toy_faces_grid.png'

_OUT = cli.out_flag()
_NUM_SAMPLES = cli.num_samples_flag(16)
_SEED = cli.seed_flag(0)
_NUM = cli.deprecated_flag('num', '--num_samples', flags.DEFINE_integer, None)
_FIRST_SEED = cli.deprecated_flag('first_seed', '--seed',
                                  flags.DEFINE_integer, None)
_DATA_DIR = cli.deprecated_flag('data_dir', '--out', flags.DEFINE_string, None)


def _out(command: str) -> pathlib.Path:
  out = _OUT.value
  if _DATA_DIR.present:
    cli.warn('toy', '--data_dir is deprecated; use --out')
    out = out or _DATA_DIR.value
  if out is None:
    raise cli.UsageError(f'{command} needs --out=DIR')
  return pathlib.Path(out)


def main(argv: list[str]) -> None:
  command = argv[1]
  if command == 'grid':
    num, seed = _NUM_SAMPLES.value, _SEED.value
    if _NUM.present:
      cli.warn('toy', '--num is deprecated; use --num_samples')
      num = _NUM.value
    if _FIRST_SEED.present:
      cli.warn('toy', '--first_seed is deprecated; use --seed')
      seed = _FIRST_SEED.value
    out = _out(command)
    if out.suffix == '.png':  # the old spelling named the file itself
      cli.warn('toy', '--out is a directory; writing the grid to the named '
               'file is deprecated')
      path = out
    else:
      path = out / GRID_FILE
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


if __name__ == '__main__':
  cli.run(main, name='toy', usage=USAGE, commands=('grid', 'testset', 'report'),
          expected=(ValueError, OSError),
          local_paths=('out', 'data_dir'))
