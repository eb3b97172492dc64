"""`stylegan-seg train`: runs a config's training stages in a workdir.

  stylegan-seg train --config=configs/toy_swav.py --workdir=workdirs/toy \
      --config.stage=swav,oneshot
  stylegan-seg train --config=configs/ffhq256.py \
      --config.generator_dir=ffhq --workdir=workdirs/ffhq256 --distributed

`config.stage` chooses the stages (`swav`, `oneshot`, `toy_generator`); a
rerun of the same command resumes each stage from its newest checkpoint. A
stage trained with other settings is refused, naming the fields that
differ; `--overwrite` deletes its training and trains it again.
Prints one JSON line per process with the last step's metrics.
"""

from __future__ import annotations

import json

from stylegan_seg_jax.commands import bootstrap

__all__ = ['run']

_CONFIG = bootstrap.config_flag()
_WORKDIR = bootstrap.workdir_flag()
_OVERWRITE = bootstrap.overwrite_flag()


def main(argv: list[str]) -> None:
  """Trains the configured stages and prints the summary line."""
  del argv
  from stylegan_seg_jax.stages import runner  # pylint: disable=g-import-not-at-top
  result = runner.train_and_evaluate(_CONFIG.value, _WORKDIR.value,
                                     restart=_OVERWRITE.value)
  print(json.dumps(runner.summary(result)))


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='train', argv=argv, expected=(FloatingPointError,),
                distributed=True, required=('config', 'workdir'),
                check_inputs=bootstrap.check_config_inputs)
