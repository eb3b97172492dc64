"""Mean and spread of evaluations over several runs (one-shot choices).

Reads `WORKDIR/eval/metrics.json` of each run (written by the evaluation
binary) and summarises, per method, the mean and the sample standard
deviation over the runs of every metric of `evaluator.TABLE_METRICS` (and
images/s), as a markdown table. `python -m stylegan_seg_jax.report` is its
CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
import json
import pathlib
import statistics
from typing import Any

from stylegan_seg_jax.eval import evaluator

__all__ = ['load_runs', 'summarize', 'format_summary', 'REPORT_FILE']

# The file `python -m stylegan_seg_jax.report --out=DIR` writes.
REPORT_FILE = 'report.md'


def load_runs(workdirs: Sequence[str | pathlib.Path]) -> list[dict[str, Any]]:
  """The `eval/metrics.json` payload of each run.

  Raises:
    ValueError: a run without evaluation results.
  """
  runs = []
  for w in workdirs:
    path = pathlib.Path(w) / 'eval' / 'metrics.json'
    if not path.is_file():
      raise ValueError(f'{path} not found (run stylegan_seg_jax.evaluate '
                       'there first)')
    runs.append(json.loads(path.read_text()))
  return runs


def summarize(runs: Sequence[dict[str, Any]]
              ) -> dict[str, dict[str, tuple[float, float, int]]]:
  """method -> metric -> (mean, sample std (0 for one run), number of runs).

  Methods are those every run evaluated, in the first run's order.
  """
  methods = [m for m in runs[0]['methods']
             if all(m in r['methods'] for r in runs)]
  out: dict[str, dict[str, tuple[float, float, int]]] = {}
  for m in methods:
    out[m] = {}
    for key in (*evaluator.TABLE_METRICS, 'images_per_s'):
      values = [float(r['methods'][m][key]) for r in runs
                if r['methods'][m].get(key) is not None]
      if values:
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        out[m][key] = (statistics.fmean(values), std, len(values))
  return out


def format_summary(summary: dict[str, dict[str, tuple[float, float, int]]],
                   runs: Sequence[dict[str, Any]]) -> str:
  """Markdown: one row per method, `mean ± std` cells, and the runs used."""
  cols = [c for c in (*evaluator.TABLE_METRICS, 'images_per_s')
          if any(c in v for v in summary.values())]
  lines = ['| method | ' + ' | '.join(cols) + ' |',
           '|---' * (len(cols) + 1) + '|']
  for m, values in summary.items():
    cells = []
    for c in cols:
      if c not in values:
        cells.append('n/a')
        continue
      mean, std, _ = values[c]
      fmt = '.1f' if c == 'images_per_s' else '.3f'
      cells.append(f'{mean:{fmt}} ± {std:{fmt}}')
    lines.append(f'| {m} | ' + ' | '.join(cells) + ' |')
  choices = ', '.join(str(r.get('oneshot', '?')) for r in runs)
  lines += ['', f'mean ± sample std over {len(runs)} run(s); one-shot '
            f'examples: {choices}; {runs[0]["num_test"]} test images.']
  return '\n'.join(lines) + '\n'
