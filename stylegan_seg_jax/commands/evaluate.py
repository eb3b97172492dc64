"""`stylegan-seg evaluate`: scores ours and the baselines on a test set.

  stylegan-seg evaluate --config=configs/toy_swav.py --workdir=workdirs/toy

Restores every method of `config.oneshot.methods` trained in the workdir,
segments `config.data.test_set` on the fly, prints the metric table and
writes WORKDIR/eval/ (metrics.json, metrics.md, overlays, IoU-PD plots).
"""

from __future__ import annotations

from stylegan_seg_jax.commands import bootstrap

__all__ = ['run']

_CONFIG = bootstrap.config_flag()
_WORKDIR = bootstrap.workdir_flag()


def main(argv: list[str]) -> None:
  """Evaluates the workdir's methods and prints the metric table."""
  del argv
  from stylegan_seg_jax.eval import evaluator  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import evaluation  # pylint: disable=g-import-not-at-top
  results = evaluation.evaluate_workdir(_CONFIG.value, _WORKDIR.value)
  print(evaluator.markdown_table(results), end='')
  print(f'wrote {_WORKDIR.value}/{evaluation.EVAL_DIR}')


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='evaluate', argv=argv, distributed=True,
                required=('config', 'workdir'),
                check_inputs=bootstrap.check_config_inputs)
