"""Dataset generation binary: N annotated samples from a trained workdir.

  python -m stylegan_seg_jax.generate --config=configs/toy_swav.py \
      --workdir=workdirs/toy --num_samples=10000 --out=datasets/toy_10k

Writes a sharded TFDS dataset (ArrayRecord, split `train`) that plain tfds
reads; a rerun after a kill resumes (docs/formats.md). Settings:
`config.generate` (method, seed_start, shard_size, batch_size, psi,
drop_uncertain). Prints one JSON line per process.
"""

import json

from stylegan_seg_jax.runtime import cli

_CONFIG = cli.config_flag()
_WORKDIR = cli.workdir_flag()
_OUT = cli.out_flag()
_NUM_SAMPLES = cli.num_samples_flag()


def main(argv: list[str]) -> None:
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



def check_inputs() -> None:
  """The inputs the config names exist (launch/tpu_pod.sh, before start)."""
  from stylegan_seg_jax.stages import config as config_lib  # pylint: disable=g-import-not-at-top
  config_lib.check_inputs(_CONFIG.value)


if __name__ == '__main__':
  cli.run(main, name='generate', distributed=True,
          required=('config', 'workdir', 'out', 'num_samples'),
          check_inputs=check_inputs)
