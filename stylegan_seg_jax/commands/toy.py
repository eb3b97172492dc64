"""`stylegan-seg toy`: a toy domain's sample grids, test set and fidelity.

  stylegan-seg toy grid --out=DIR [--domain=NAME --num_samples=16 --seed=0]
  stylegan-seg toy testset --out=DIR [--domain=NAME]
  stylegan-seg toy report [--domain=NAME]
  stylegan-seg toy list

`grid` writes DIR/toy_NAME_grid.png: the samples of seeds SEED ..
SEED + N - 1 on the odd rows, the same with their exact masks overlaid
below. `testset` writes the domain's labelled test samples as a TFDS
dataset under DIR and prints the directory to read it from. `report`
prints the shipped generator's fidelity on the domain's held-out seeds.
`list` prints every registered domain. A domain's generator is trained by
`stylegan-seg train --config=configs/toy_generator.py`
(`--config.toy_generator.domain=NAME`).
"""

from __future__ import annotations

import json
import pathlib

from absl import flags

from stylegan_seg_jax.commands import bootstrap
from stylegan_seg_jax.runtime import errors

__all__ = ['run', 'grid_file']

USAGE = ('usage: stylegan-seg toy grid --out=DIR [--domain=NAME '
         '--num_samples=16 --seed=0] | testset --out=DIR [--domain=NAME] | '
         'report [--domain=NAME] | list')

_OUT = bootstrap.out_flag()
_NUM_SAMPLES = bootstrap.num_samples_flag(16)
_SEED = bootstrap.seed_flag(0)
_DOMAIN = flags.DEFINE_string(
    'domain', None, 'the toy domain (`stylegan-seg toy list`; default: the '
    'default domain)')


def grid_file(domain: str) -> str:
  """The file `grid` writes into --out for a domain."""
  return f'toy_{domain}_grid.png'


def _out(command: str) -> pathlib.Path:
  if _OUT.value is None:
    raise errors.UsageError(f'{command} needs --out=DIR')
  return pathlib.Path(_OUT.value)


def main(argv: list[str]) -> None:
  """Runs the action named by the positional argument."""
  from stylegan_seg_jax import domains  # pylint: disable=g-import-not-at-top
  command = argv[1]
  if command == 'list':
    for name in domains.names():
      d = domains.get(name)
      missing = '' if d.has_generator else '  (no trained generator yet)'
      print(f'{d.spec:20s} {len(d.class_names):2d} classes  {d.description}'
            f'{missing}')
    return
  domain = (domains.get(_DOMAIN.value) if _DOMAIN.value
            else domains.default())
  from stylegan_seg_jax.domains import fidelity  # pylint: disable=g-import-not-at-top
  if command == 'grid':
    num, seed = _NUM_SAMPLES.value, _SEED.value
    path = _out(command) / grid_file(domain.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fidelity.save_sample_grid(domain, path, list(range(seed, seed + num)))
    print(f'wrote {path} (seeds {seed}..{seed + num - 1})')
  elif command == 'testset':
    from stylegan_seg_jax.data import experiment  # pylint: disable=g-import-not-at-top
    print(experiment.build_domain_test_set(domain, _out(command)))
  else:
    print(json.dumps(fidelity.fidelity_report(
        domain, domain.load_generator(),
        domain.latents(domain.eval_seeds)), indent=2))


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='toy', argv=argv, usage=USAGE,
                commands=('grid', 'testset', 'report', 'list'),
                expected=(ValueError, OSError), local_paths=('out',))
