"""Mean and spread of evaluations over several runs (one-shot choices).

Reads `WORKDIR/eval/metrics.json` of each run (written by the evaluation
binary) and summarises, per method, the mean and the sample standard
deviation over the runs of every metric of `evaluator.TABLE_METRICS` (and
images/s), as a markdown table. `stylegan-seg report` is its
CLI.

`load_ablation` / `format_ablation` summarise variants of the self-supervised
stage instead: each variant directory holds the SwAV run
(`swav_run/swav/metrics.jsonl`) and one workdir per one-shot seed
(`seed_*/eval/metrics.json`); a row gives one method's scores over the
seeds next to what the SwAV run did (loss, how far the projection moved,
time).

`load_downstream` / `format_downstream` summarise downstream networks
(`stages.downstream`) over the one-shot seeds: a row per training set (the
one labelled image, each method's generated dataset, renderer images), a
column per test set and metric.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import json
import pathlib
import statistics
from typing import Any

from stylegan_seg_jax.eval import evaluator
from stylegan_seg_jax.runtime import files

__all__ = ['load_runs', 'summarize', 'format_summary', 'REPORT_FILE',
           'ABLATION_FILE', 'Variant', 'load_ablation', 'format_ablation',
           'DOWNSTREAM_FILE', 'load_downstream', 'format_downstream']

# The files `stylegan-seg report --out=DIR` writes.
REPORT_FILE = 'report.md'
ABLATION_FILE = 'ablation.md'
_LOSS_WINDOW = 20  # steps averaged for the first and last SwAV loss


def load_runs(workdirs: Sequence[str | pathlib.Path]) -> list[dict[str, Any]]:
  """The `eval/metrics.json` payload of each run.

  Raises:
    ValueError: a run without evaluation results.
  """
  runs = []
  for w in workdirs:
    path = files.as_path(w) / 'eval' / evaluator.METRICS_FILE
    if not path.is_file():
      raise ValueError(f'{path} not found (run stylegan-seg evaluate '
                       'there first)')
    runs.append(json.loads(path.read_text()))
  return runs


def summarize(runs: Sequence[dict[str, Any]]
              ) -> dict[str, dict[str, tuple[float, float, int]]]:
  """Per method and metric: (mean, sample std (0 for one run), number of runs).

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


@dataclasses.dataclass(frozen=True)
class Variant:
  """One variant of the self-supervised stage and its evaluations.

  Attributes:
    name: the variant directory's name.
    runs: `eval/metrics.json` of each seed's workdir, in seed order.
    swav: the SwAV run's `metrics.jsonl` records, in step order.
  """

  name: str
  runs: list[dict[str, Any]]
  swav: list[dict[str, Any]]


def load_ablation(variant_dirs: Sequence[str | pathlib.Path]
                  ) -> list[Variant]:
  """Reads each variant directory (`swav_run/` and `seed_*/`).

  Raises:
    ValueError: a directory without a SwAV log or without evaluations.
  """
  out = []
  for d in map(files.as_path, variant_dirs):
    log = d / 'swav_run' / 'swav' / 'metrics.jsonl'
    if not log.is_file():
      raise ValueError(f'{log} not found (train the variant\'s SwAV stage in '
                       f'{d / "swav_run"} first)')
    records = [json.loads(line) for line in log.read_text().splitlines()
               if line.strip()]
    if not records:
      raise ValueError(f'{log} is empty (the SwAV run logged no step)')
    by_step = {r['step']: r for r in records}  # a resumed run logs again
    seeds = sorted((p for p in d.glob('seed_*') if p.name[5:].isdigit()),
                   key=lambda p: int(p.name[5:]))
    if not seeds:
      raise ValueError(f'{d} has no seed_* workdirs')
    variant = Variant(d.name, load_runs(seeds),
                      [by_step[k] for k in sorted(by_step)])
    if out and _examples(variant) != _examples(out[0]):
      raise ValueError(
          f'variant {d.name} was evaluated on {_examples(variant)}, variant '
          f'{out[0].name} on {_examples(out[0])}: compare like with like '
          '(remove the extra seed_* workdirs)')
    out.append(variant)
  return out


def _examples(variant: Variant) -> tuple[Any, ...]:
  """The one-shot examples and test-set size a variant was scored on."""
  return (tuple(r.get('oneshot') for r in variant.runs),
          variant.runs[0].get('num_test'))


def _loss_summary(swav: Sequence[dict[str, Any]]
                  ) -> tuple[float, float, int | None]:
  """Summarises a loss curve.

  Returns:
    (mean loss of the first and of the last steps, step reaching 90% of the
    drop of the running mean, None when the loss did not fall).
  """
  losses = [float(r['loss']) for r in swav]
  n = min(_LOSS_WINDOW, len(losses))
  first = statistics.fmean(losses[:n])
  last = statistics.fmean(losses[-n:])
  reached = None
  if last < first:
    target = first + 0.9 * (last - first)
    for i in range(n, len(losses) + 1):
      if statistics.fmean(losses[i - n:i]) <= target:
        reached = int(swav[i - 1]['step'])
        break
  return first, last, reached


def format_ablation(variants: Sequence[Variant], method: str = 'ours'
                    ) -> str:
  """Markdown: one row per variant; deltas are against the first row.

  Columns: mean ± sample std over the seeds of mIoU per image and
  normalised wIoU, their change from the first variant, the SwAV loss
  (mean of the first and last 20 steps), the relative change of the
  projection head's weights, steps, seconds per step and the step at which
  the loss's 20-step running mean covered 90% of its drop.
  """
  def stats(v: Variant, key: str) -> tuple[float, float]:
    values = [float(r['methods'][method][key]) for r in v.runs]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), std

  for v in variants:
    missing = [r.get('oneshot', '?') for r in v.runs
               if method not in r['methods']]
    if missing:
      raise ValueError(f'variant {v.name}: {method!r} was not evaluated for '
                       f'{missing}')
  base = {k: stats(variants[0], k)[0]
          for k in ('miou_per_image', 'normalized_wiou')}
  lines = [f'| variant | {method} mIoU per image | normalised wIoU | '
           f'Δ mIoU vs {variants[0].name} | Δ nwIoU | SwAV loss first → last '
           '| head change | steps | s/step | 90% of loss drop at step |',
           '|---' * 10 + '|']
  for v in variants:
    miou, miou_std = stats(v, 'miou_per_image')
    nwiou, nwiou_std = stats(v, 'normalized_wiou')
    first, last, reached = _loss_summary(v.swav)
    final = v.swav[-1]
    change = final.get('head_change')
    rate = final.get('steps_per_s')
    lines.append(
        f'| {v.name} | {miou:.3f} ± {miou_std:.3f} | {nwiou:.3f} ± '
        f'{nwiou_std:.3f} | {miou - base["miou_per_image"]:+.3f} | '
        f'{nwiou - base["normalized_wiou"]:+.3f} | {first:.2f} → {last:.2f} | '
        + (f'{change:.2e}' if change is not None else 'n/a') + ' | '
        f'{int(final["step"])} | '
        + (f'{1.0 / rate:.2f}' if rate else 'n/a') + ' | '
        + (str(reached) if reached is not None else '-') + ' |')
  choices = ', '.join(str(r.get('oneshot', '?')) for r in variants[0].runs)
  lines += ['', f'mean ± sample std over {len(variants[0].runs)} one-shot '
            f'examples ({choices}); {variants[0].runs[0]["num_test"]} test '
            'images.']
  return '\n'.join(lines) + '\n'


# The file `stylegan-seg report --downstream --out=DIR` writes.
DOWNSTREAM_FILE = 'downstream.md'
# Downstream metrics in the table, per test set.
_DOWNSTREAM_METRICS = ('miou_per_image', 'normalized_wiou')


def _downstream_label(name: str) -> tuple[tuple[int, int, float, str], str]:
  """(sort key, row label) of a downstream run directory's name.

  Names: 'oneshot' (the one labelled image), 'rendered_nN' (N renderer
  images), 'METHOD_nN_dropF' (N samples of METHOD's dataset, the F most
  uncertain dropped).
  """
  if name == 'oneshot':
    return (0, 0, 0.0, ''), 'the one labelled image (floor)'
  parts = name.split('_')
  try:
    if parts[0] == 'rendered' and len(parts) == 2:
      n = int(parts[1][1:])
      return (2, n, 0.0, ''), f'{n} renderer images (ceiling)'
    drop = float(parts[-1][len('drop'):])
    n = int(parts[-2][1:])
    method = '_'.join(parts[:-2])
  except (ValueError, IndexError):
    return (3, 0, 0.0, name), name
  dropped = f', {drop:.0%} most uncertain dropped' if drop else ''
  return (1, n, drop, method), f'{method}, N = {n}{dropped}'


def load_downstream(workdirs: Sequence[str | pathlib.Path]
                    ) -> dict[str, list[dict[str, Any]]]:
  """{run name: downstream eval payload of each workdir that has it}.

  Each workdir holds `downstream/RUN/downstream/eval/metrics.json` per run
  (`launch/downstream_table.sh`).

  Raises:
    ValueError: a workdir without downstream runs.
  """
  out: dict[str, list[dict[str, Any]]] = {}
  for w in workdirs:
    root = files.as_path(w) / 'downstream'
    found = sorted(root.glob(f'*/downstream/eval/{evaluator.METRICS_FILE}'))
    if not found:
      raise ValueError(f'{root}: no downstream runs with evaluations')
    for path in found:
      out.setdefault(path.parents[2].name, []).append(
          json.loads(path.read_text()))
  return out


def format_downstream(runs: dict[str, list[dict[str, Any]]]) -> str:
  """Markdown: a row per training set, `mean ± std` per test set and metric."""
  sets = sorted({s for payloads in runs.values() for p in payloads
                 for s in p['sets']},
                key=lambda s: (s != 'rendered', s != 'shifted', s))
  cols = [(s, m) for s in sets for m in _DOWNSTREAM_METRICS]
  lines = ['| trained on | runs | ' + ' | '.join(f'{s}: {m}'
                                                 for s, m in cols) + ' |',
           '|---|---' + '|---' * len(cols) + '|']
  for name in sorted(runs, key=lambda n: _downstream_label(n)[0]):
    payloads = runs[name]
    cells = []
    for s, m in cols:
      values = [float(p['sets'][s]['metrics'][m]) for p in payloads
                if s in p['sets'] and p['sets'][s]['metrics'].get(m)
                is not None]
      if not values:
        cells.append('n/a')
        continue
      std = statistics.stdev(values) if len(values) > 1 else 0.0
      cells.append(f'{statistics.fmean(values):.3f} ± {std:.3f}')
    lines.append(f'| {_downstream_label(name)[1]} | {len(payloads)} | '
                 + ' | '.join(cells) + ' |')
  lines += ['', 'mean ± sample std over the runs (one per one-shot seed).']
  return '\n'.join(lines) + '\n'
