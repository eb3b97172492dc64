"""Training binary: runs a config's stages in a workdir.

  python -m stylegan_seg_jax.train --config=configs/toy_swav.py \
      --workdir=workdirs/toy --config.stage=swav,oneshot
  python -m stylegan_seg_jax.train --config=configs/ffhq256.py \
      --config.generator_dir=ffhq --workdir=workdirs/ffhq256 --distributed

`config.stage` chooses the stages (`swav`, `oneshot`, `toy_generator`); a
rerun of the same command resumes each stage from its newest checkpoint. A
stage trained with other settings is refused, naming the fields that
differ; `--restart` deletes its training and starts it again.
Prints one JSON line per process with the last step's metrics.
"""

import json

from absl import flags

from stylegan_seg_jax.runtime import cli

_CONFIG = cli.config_flag()
_WORKDIR = cli.workdir_flag()
_RESTART = flags.DEFINE_bool(
    'restart', False, 'Delete the previous training of the configured stages '
    'in the workdir and train them again (otherwise a stage trained with '
    'other settings is refused).')


def main(argv: list[str]) -> None:
  del argv
  from stylegan_seg_jax.stages import runner  # pylint: disable=g-import-not-at-top
  result = runner.train_and_evaluate(_CONFIG.value, _WORKDIR.value,
                                     restart=_RESTART.value)
  print(json.dumps(runner.summary(result)))



def check_inputs() -> None:
  """The inputs the config names exist (launch/tpu_pod.sh, before start)."""
  from stylegan_seg_jax.stages import config as config_lib  # pylint: disable=g-import-not-at-top
  config_lib.check_inputs(_CONFIG.value)


if __name__ == '__main__':
  cli.run(main, name='train', expected=(FloatingPointError,),
          distributed=True, required=('config', 'workdir'),
          check_inputs=check_inputs)
