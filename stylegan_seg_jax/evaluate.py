"""Evaluation binary: scores ours and the baselines on a labelled test set.

  python -m stylegan_seg_jax.evaluate --config=configs/toy_swav.py \
      --workdir=workdirs/toy

Restores every method of `config.oneshot.methods` trained in the workdir,
segments `config.data.test_set` on the fly, prints the metric table and
writes WORKDIR/eval/ (metrics.json, metrics.md, predictions, overlays).
"""

from stylegan_seg_jax.runtime import cli

_CONFIG = cli.config_flag()
_WORKDIR = cli.workdir_flag()


def main(argv: list[str]) -> None:
  del argv
  from stylegan_seg_jax.eval import evaluator  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import evaluation  # pylint: disable=g-import-not-at-top
  results = evaluation.evaluate_workdir(_CONFIG.value, _WORKDIR.value)
  print(evaluator.markdown_table(results), end='')
  print(f'wrote {_WORKDIR.value}/{evaluation.EVAL_DIR}')



def check_inputs() -> None:
  """The inputs the config names exist (launch/tpu_pod.sh, before start)."""
  from stylegan_seg_jax.stages import config as config_lib  # pylint: disable=g-import-not-at-top
  config_lib.check_inputs(_CONFIG.value)


if __name__ == '__main__':
  cli.run(main, name='evaluate', distributed=True,
          required=('config', 'workdir'), check_inputs=check_inputs)
