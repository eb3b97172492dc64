"""Deprecated: the benchmarks moved out of the package, to `benchmarks/`.

  python -m benchmarks.swav --repeats=2    (from the repository root)

`python -m stylegan_seg_jax.benchmark COMMAND [flags]` still runs
`python -m benchmarks.COMMAND` in a subprocess when the package sits in a
source checkout (the benchmarks need the test requirements and `configs/`),
translating `--batch` to `--batch_size`. It will be removed in the next
release.
"""

import pathlib
import subprocess
import sys

COMMANDS = ('generator', 'parity', 'swav', 'segment', 'pipeline')


def main() -> int:
  """Runs the benchmark named on the command line; returns its status."""
  root = pathlib.Path(__file__).resolve().parents[1]
  args = sys.argv[1:]
  if len(args) < 1 or args[0] not in COMMANDS:
    print(f'usage: python -m benchmarks.{{{",".join(COMMANDS)}}} [flags]',
          file=sys.stderr)
    return 2
  if not (root / 'benchmarks' / f'{args[0]}.py').is_file():
    print('benchmark: error: the benchmarks live in the source checkout '
          '(benchmarks/); run them from there', file=sys.stderr)
    return 1
  print(f'benchmark: warning: deprecated; use python -m '
        f'benchmarks.{args[0]}', file=sys.stderr, flush=True)
  flags = [a.replace('--batch=', '--batch_size=') for a in args[1:]]
  return subprocess.call([sys.executable, '-m', f'benchmarks.{args[0]}',
                          *flags], cwd=root)


if __name__ == '__main__':
  sys.exit(main())
