"""Report binary: mean ± std of evaluations over several runs.

  python -m stylegan_seg_jax.report workdirs/toy_report/seed_0 \
      workdirs/toy_report/seed_1 workdirs/toy_report/seed_2 \
      --out=workdirs/toy_report

Reads each run's WORKDIR/eval/metrics.json and prints, per method, the mean
and sample standard deviation of every table metric as a markdown table;
`--out=DIR` also writes it to DIR/report.md.

  python -m stylegan_seg_jax.report --ablation \
      workdirs/toy_ablation/random_init workdirs/toy_ablation/reference \
      --out=workdirs/toy_ablation

With `--ablation` the arguments are variant directories of the
self-supervised stage (`launch/toy_ablation.sh` makes them: `swav_run/` and
`seed_*/`), and the table (DIR/ablation.md) has one row per variant: ours'
scores over the seeds, their change from the first variant, and what the
SwAV run did (loss, relative change of the projection, time per step).
"""

from absl import flags

from stylegan_seg_jax.runtime import cli
from stylegan_seg_jax.runtime import files

USAGE = ('usage: python -m stylegan_seg_jax.report WORKDIR... [--out=DIR]\n'
         '       python -m stylegan_seg_jax.report --ablation VARIANT_DIR... '
         '[--out=DIR]')

_OUT = cli.out_flag()
_ABLATION = flags.DEFINE_bool(
    'ablation', False, 'The arguments are variant directories of the SwAV '
    'stage (swav_run/ and seed_*/): one row per variant.')


def main(argv: list[str]) -> None:
  from stylegan_seg_jax.eval import summary  # pylint: disable=g-import-not-at-top
  if _ABLATION.value:
    text = summary.format_ablation(summary.load_ablation(argv[1:]))
    name = summary.ABLATION_FILE
  else:
    runs = summary.load_runs(argv[1:])
    text = summary.format_summary(summary.summarize(runs), runs)
    name = summary.REPORT_FILE
  print(text, end='')
  if _OUT.value:
    out = files.as_path(_OUT.value)
    if out.suffix == '.md':  # the old spelling named the file itself
      cli.warn('report', '--out is a directory; naming the file is '
               'deprecated')
    else:
      out = out / name
    with files.atomic_file(out) as tmp:
      tmp.write_text(text)


if __name__ == '__main__':
  cli.run(main, name='report', usage=USAGE, min_args=1, max_args=None,
          expected=(ValueError, OSError))
