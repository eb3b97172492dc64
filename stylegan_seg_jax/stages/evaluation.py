"""Scores every trained method of a workdir: the evaluation binary's library.

Restores every method of `config.oneshot.methods` trained in the workdir
(`WORKDIR/oneshot/<method>`), segments the test set on the fly with the
shared evaluator and writes `WORKDIR/eval/`:

* `metrics.json`: per method every metric of `eval.metrics`, per-class
  values, images/s and seconds; the test set and one-shot example;
* `metrics.md`: the markdown table (also printed by the binary);
* `<method>_predictions.npz`: predicted masks (uint8), per-image
  uncertainty, and the seeds / dataset indices / latents they belong to;
* `<method>_overlay.png`: image | prediction | ground truth rows.

The directory is written to a scratch directory and renamed at the end, so
a failed evaluation leaves the previous results untouched. With several
processes (multi-host), every process segments its devices' share of each
batch, every process gets the whole predictions, and process 0 alone writes
the directory; the numbers equal a single-process run on as many devices.
"""

from __future__ import annotations

import jax
import ml_collections

from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.eval import evaluator
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import loop
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import oneshot

__all__ = ['evaluate_workdir', 'EVAL_DIR']

# Where the results go under the workdir.
EVAL_DIR = 'eval'


def evaluate_workdir(config: ml_collections.ConfigDict,
                     workdir: str) -> list[evaluator.MethodResult]:
  """Evaluates the configured methods; writes WORKDIR/eval. Returns results.

  Raises:
    config_lib.ConfigError: a missing generator, test set or trained method
      (nothing is written).
  """
  methods = config_lib.methods_of(config)
  gen = config_lib.load_generator(config)
  try:
    test = experiment.load_test_set(config, workdir)
    restored = [oneshot.restore(m, config, workdir, gen, len(test.class_names))
                for m in methods]
  except ValueError as e:
    raise config_lib.ConfigError(str(e)) from None
  results = []
  with loop.progress_bar(len(test) * len(methods), unit='img',
                         desc='evaluate') as bar:
    for prepared, state in restored:
      bar.set_postfix(method=prepared.segmenter.name)
      results.append(oneshot.evaluate(prepared, state, gen, test, config,
                                      bar.update))
  eval_dir = files.as_path(workdir) / EVAL_DIR

  def write() -> None:  # every process holds the same results
    with files.atomic_directory(eval_dir, overwrite=True,
                                last=(evaluator.METRICS_FILE,)) as out:
      evaluator.write_report(
          out, results, test, config.eval.num_overlays,
          extra={'oneshot': config.data.oneshot,
                 'devices': jax.device_count(),
                 'processes': jax.process_count(),
                 'platform': jax.devices()[0].platform,
                 'steps': {p.segmenter.name: int(s.step)
                           for p, s in restored}})

  parallel.on_process_0(write, f'writing {eval_dir}')
  return results
