"""Report binary: mean ± std of evaluations over several runs.

  python -m stylegan_seg_jax.report workdirs/toy_report/seed_0 \
      workdirs/toy_report/seed_1 workdirs/toy_report/seed_2 \
      --out=workdirs/toy_report

Reads each run's WORKDIR/eval/metrics.json and prints, per method, the mean
and sample standard deviation of every table metric as a markdown table;
`--out=DIR` also writes it to DIR/report.md.
"""

import pathlib

from stylegan_seg_jax.runtime import cli

USAGE = 'usage: python -m stylegan_seg_jax.report WORKDIR... [--out=DIR]'

_OUT = cli.out_flag()


def main(argv: list[str]) -> None:
  from stylegan_seg_jax.eval import summary  # pylint: disable=g-import-not-at-top
  runs = summary.load_runs(argv[1:])
  text = summary.format_summary(summary.summarize(runs), runs)
  print(text, end='')
  if _OUT.value:
    out = pathlib.Path(_OUT.value)
    if out.suffix == '.md':  # the old spelling named the file itself
      cli.warn('report', '--out is a directory; naming the file is '
               'deprecated')
    else:
      out = out / summary.REPORT_FILE
    from stylegan_seg_jax.runtime import files  # pylint: disable=g-import-not-at-top
    with files.atomic_file(out) as tmp:
      tmp.write_text(text)


if __name__ == '__main__':
  cli.run(main, name='report', usage=USAGE, min_args=1, max_args=None,
          expected=(ValueError, OSError))
