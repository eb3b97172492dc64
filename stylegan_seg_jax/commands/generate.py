"""`stylegan-seg generate`: N annotated samples from a trained workdir.

  stylegan-seg generate --config=configs/toy_swav.py --workdir=workdirs/toy \
      --num_samples=10000 --out=datasets/toy_10k

Writes a sharded TFDS dataset (ArrayRecord, split `train`) that plain tfds
reads; a rerun after a kill resumes (docs/formats.md). Settings:
`config.generate` (method, seed_start, shard_size, batch_size, psi,
drop_uncertain). Prints one JSON line per process.
"""

from __future__ import annotations

import json

from stylegan_seg_jax.commands import bootstrap

__all__ = ['run']

_CONFIG = bootstrap.config_flag()
_WORKDIR = bootstrap.workdir_flag()
_OUT = bootstrap.out_flag()
_NUM_SAMPLES = bootstrap.num_samples_flag()


def main(argv: list[str]) -> None:
  """Generates the dataset and prints this process's summary line."""
  del argv
  import jax  # pylint: disable=g-import-not-at-top

  from stylegan_seg_jax.stages import generation  # pylint: disable=g-import-not-at-top
  result = generation.generate(_CONFIG.value, _WORKDIR.value, _OUT.value,
                               _NUM_SAMPLES.value)
  print(json.dumps({
      'process': jax.process_index(), 'out': str(result.out),
      'samples_generated': result.samples_generated,
      'shards_written': result.shards_written,
      'images_per_s': (None if result.images_per_s is None
                       else round(result.images_per_s, 2)),
      'complete': result.complete, 'num_examples': result.num_examples}))


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='generate', argv=argv, distributed=True,
                required=('config', 'workdir', 'out', 'num_samples'),
                check_inputs=bootstrap.check_config_inputs)
