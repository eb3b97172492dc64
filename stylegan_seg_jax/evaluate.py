"""Evaluation binary: scores ours and the baselines on a labelled test set.

  python -m stylegan_seg_jax.evaluate --config=configs/toy_swav.py \
      --workdir=workdirs/toy

Restores every method of `config.oneshot.methods` trained in the workdir
(`WORKDIR/oneshot/<method>`), segments the test set on the fly and writes
`WORKDIR/eval/`:

* `metrics.json`: per method every metric of `stylegan_seg_jax.metrics`,
  per-class values, images/s and seconds; the test set and one-shot example;
* `metrics.md`: the markdown table (also printed);
* `<method>_predictions.npz`: predicted masks (uint8), per-image
  uncertainty, and the seeds / dataset indices / latents they belong to;
* `<method>_overlay.png`: image | prediction | ground truth rows.

The directory is written to a scratch directory and renamed at the end, so
a failed evaluation leaves the previous results untouched.
"""

from __future__ import annotations

import sys

import jax
import tqdm

from stylegan_seg_jax import checkpoint
from stylegan_seg_jax import evaluation
from stylegan_seg_jax import experiment_data
from stylegan_seg_jax import oneshot_stage
from stylegan_seg_jax import train

__all__ = ['run']


def run(config, workdir: str) -> list[evaluation.MethodResult]:
  """Evaluates the configured methods; writes WORKDIR/eval. Returns results.

  Raises:
    train.ConfigError: a missing generator, test set or trained method.
  """
  gen = train.load_generator(config)
  try:
    test = experiment_data.load_test_set(config, workdir)
    methods = list(config.oneshot.methods)
    restored = [oneshot_stage.restore(m, config, workdir, gen,
                                      len(test.class_names))
                for m in methods]
  except ValueError as e:
    raise train.ConfigError(str(e)) from None
  results = []
  with tqdm.tqdm(total=len(test) * len(methods), unit='img', desc='evaluate',
                 dynamic_ncols=True) as bar:
    for prepared, state in restored:
      bar.set_postfix(method=prepared.segmenter.name)
      results.append(evaluation.evaluate_method(
          prepared, state, gen, test, config.eval.batch_size, bar.update))
  with checkpoint.atomic_directory(f'{workdir}/eval', overwrite=True) as out:
    evaluation.write_report(
        out, results, test, config.eval.num_overlays,
        extra={'oneshot': config.data.oneshot,
               'devices': jax.device_count(),
               'platform': jax.devices()[0].platform,
               'steps': {p.segmenter.name: int(s.step) for p, s in restored}})
  return results


def main(argv: list[str]) -> None:
  del argv
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)
  try:
    results = run(_CONFIG.value, _WORKDIR.value)
  except train.ConfigError as e:
    print(f'evaluate: error: {e}', file=sys.stderr)
    sys.exit(1)
  print(evaluation.markdown_table(results), end='')
  print(f'wrote {_WORKDIR.value}/eval')


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  _CONFIG = config_flags.DEFINE_config_file(
      'config', None, 'Experiment config file (configs/*.py).',
      lock_config=True)
  _WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory.')
  flags.mark_flags_as_required(['config', 'workdir'])
  app.run(main)
