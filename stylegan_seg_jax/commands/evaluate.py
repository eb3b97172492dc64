"""`stylegan-seg evaluate`: scores ours and the baselines on a test set.

  stylegan-seg evaluate --config=configs/toy_swav.py --workdir=workdirs/toy

Restores every method of `config.oneshot.methods` trained in the workdir,
segments `config.data.test_set` on the fly, prints the metric table and
writes WORKDIR/eval/ (metrics.json, metrics.md, overlays, IoU-PD plots).
With a config whose stages include 'downstream' (configs/downstream.py) it
scores the downstream network on `config.downstream.test_sets` instead and
writes WORKDIR/downstream/eval/.
"""

from __future__ import annotations

from stylegan_seg_jax.commands import bootstrap
from stylegan_seg_jax.runtime import files

__all__ = ['run']

_CONFIG = bootstrap.config_flag()
_WORKDIR = bootstrap.workdir_flag()


def main(argv: list[str]) -> None:
  """Evaluates the workdir's methods and prints the metric table."""
  del argv
  from stylegan_seg_jax.eval import evaluator  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import config as config_lib  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import downstream  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import evaluation  # pylint: disable=g-import-not-at-top
  if 'downstream' in config_lib.stages_of(_CONFIG.value):
    downstream.evaluate_workdir(_CONFIG.value, _WORKDIR.value)
    out = f'{_WORKDIR.value}/{downstream.STAGE_DIR}/{downstream.EVAL_DIR}'
    print(files.as_path(out).joinpath('metrics.md').read_text(), end='')
    print(f'wrote {out}')
    return
  results = evaluation.evaluate_workdir(_CONFIG.value, _WORKDIR.value)
  print(evaluator.markdown_table(results), end='')
  print(f'wrote {_WORKDIR.value}/{evaluation.EVAL_DIR}')


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='evaluate', argv=argv, distributed=True,
                required=('config', 'workdir'),
                check_inputs=bootstrap.check_config_inputs)
