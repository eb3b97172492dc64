"""`stylegan-seg report`: mean ± std of evaluations over several runs.

  stylegan-seg report --workdir=workdirs/toy_report/seed_0 \
      --workdir=workdirs/toy_report/seed_1 \
      --workdir=workdirs/toy_report/seed_2 --out=workdirs/toy_report

Reads each run's WORKDIR/eval/metrics.json and prints, per method, the mean
and sample standard deviation of every table metric as a markdown table;
`--out=DIR` also writes it to DIR/report.md.

  stylegan-seg report --ablation --workdir=workdirs/toy_ablation/random_init \
      --workdir=workdirs/toy_ablation/reference --out=workdirs/toy_ablation

With `--ablation` each `--workdir` is a variant directory of the
self-supervised stage (`launch/toy_ablation.sh` makes them: `swav_run/` and
`seed_*/`), and the table (DIR/ablation.md) has one row per variant: ours'
scores over the seeds, their change from the first variant, and what the
SwAV run did (loss, relative change of the projection, time per step).

  stylegan-seg report --downstream --workdir=workdirs/toy_report/seed_0 ...

With `--downstream` it summarises the downstream networks of each workdir
(`WORKDIR/downstream/RUN/`, `launch/downstream_table.sh`): one row per
training set, its test-set scores over the workdirs (DIR/downstream.md).
"""

from __future__ import annotations

from absl import flags

from stylegan_seg_jax.commands import bootstrap
from stylegan_seg_jax.runtime import errors
from stylegan_seg_jax.runtime import files

__all__ = ['run']

USAGE = ('usage: stylegan-seg report [--downstream] --workdir=DIR '
         '[--workdir=DIR ...] [--out=DIR]\n'
         '       stylegan-seg report --ablation --workdir=VARIANT_DIR '
         '[--workdir=VARIANT_DIR ...] [--out=DIR]')

# With --ablation, each is a variant directory (swav_run/ and seed_*/).
_WORKDIRS = bootstrap.workdirs_flag()
_OUT = bootstrap.out_flag()
_ABLATION = flags.DEFINE_bool(
    'ablation', False, 'Each --workdir is a variant directory of the SwAV '
    'stage (swav_run/ and seed_*/): one row per variant.')
_DOWNSTREAM = flags.DEFINE_bool(
    'downstream', False, 'Summarise the downstream networks of each '
    '--workdir (WORKDIR/downstream/RUN/): one row per training set.')


def main(argv: list[str]) -> None:
  """Prints the table and writes it into --out when given."""
  del argv
  from stylegan_seg_jax.eval import summary  # pylint: disable=g-import-not-at-top
  workdirs = list(_WORKDIRS.value or ())
  if _ABLATION.value and _DOWNSTREAM.value:
    raise errors.UsageError('--ablation and --downstream are different '
                            'reports: give one')
  if _ABLATION.value:
    text = summary.format_ablation(summary.load_ablation(workdirs))
    name = summary.ABLATION_FILE
  elif _DOWNSTREAM.value:
    text = summary.format_downstream(summary.load_downstream(workdirs))
    name = summary.DOWNSTREAM_FILE
  else:
    runs = summary.load_runs(workdirs)
    text = summary.format_summary(summary.summarize(runs), runs)
    name = summary.REPORT_FILE
  print(text, end='')
  if _OUT.value:
    with files.atomic_file(files.as_path(_OUT.value) / name) as tmp:
      tmp.write_text(text)


def run(argv: list[str]) -> None:
  """Runs the command on `argv` (program name first) and exits."""
  bootstrap.run(main, name='report', argv=argv, usage=USAGE,
                required=('workdir',), expected=(ValueError, OSError))
