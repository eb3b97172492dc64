r"""The command line: one `stylegan-seg` command with a subcommand per tool.

  stylegan-seg train     --config=CONFIG --workdir=DIR      # the stages
  stylegan-seg evaluate  --config=CONFIG --workdir=DIR      # the metrics
  stylegan-seg generate  --config=CONFIG --workdir=DIR --out=DIR \
      --num_samples=N                                       # a dataset
  stylegan-seg label     serve|export|import|import_reference ...
  stylegan-seg report    --workdir=DIR [--workdir=DIR ...] [--out=DIR]
  stylegan-seg predict   --workdir=DIR --images=DIR --out=DIR  # masks
  stylegan-seg convert   --src=CHECKPOINT --out=DIR         # a generator
  stylegan-seg toy       grid|testset|report ...

`python -m stylegan_seg_jax COMMAND ...` is the same without the installed
script. Each command is a module here (`commands.train`, ...) whose
`run(argv)` parses its flags through `bootstrap.run`: a flag name means
the same thing in every command, errors are one line, and the exit status
is 0 on success, 1 on bad input or a failed run, 2 on a bad command line.
"""

from __future__ import annotations

from collections.abc import Sequence
import importlib
import os
import sys

from stylegan_seg_jax.runtime.messages import quote

__all__ = ['COMMANDS', 'PROGRAM', 'main']

PROGRAM = 'stylegan-seg'
# Each command and what it does (the module commands.NAME runs it).
COMMANDS = {
    'train': 'run the config\'s training stages in a workdir',
    'evaluate': 'score the trained methods on the labelled test set',
    'generate': 'write an annotated dataset from a trained workdir',
    'label': 'label samples: serve (browser), export, import, '
             'import_reference',
    'report': 'mean and std of evaluations over several runs',
    'predict': 'segment a folder of images with the downstream network',
    'convert': 'convert a StyleGAN2 checkpoint into a generator directory',
    'toy': 'the toy domains: list, grid, testset, report',
}


def usage() -> str:
  """The command list, as `stylegan-seg` with no command prints it."""
  width = max(map(len, COMMANDS))
  lines = [f'usage: {PROGRAM} COMMAND [flags]   ({PROGRAM} COMMAND --help '
           'lists its flags)', '', 'commands:']
  lines += [f'  {name:<{width}}  {text}' for name, text in COMMANDS.items()]
  return '\n'.join(lines)


def main(argv: Sequence[str] | None = None) -> None:
  """Runs `stylegan-seg COMMAND [flags]`; exits with the command's status.

  Args:
    argv: the command line, program name first (default: `sys.argv`).
  """
  argv = list(sys.argv if argv is None else argv)
  if len(argv) < 2 or argv[1] in ('-h', '--help', 'help'):
    print(usage(), file=sys.stdout if len(argv) > 1 else sys.stderr)
    sys.exit(0 if len(argv) > 1 else 2)
  command = argv[1]
  if command not in COMMANDS:
    print(usage(), file=sys.stderr)
    print(f'{PROGRAM}: error: unknown command {quote(command)}; choose from '
          f'{", ".join(COMMANDS)}', file=sys.stderr)
    sys.exit(2)
  module = importlib.import_module(f'stylegan_seg_jax.commands.{command}')
  # absl's --help prints the __main__ module's docstring: the command's.
  sys.modules['__main__'].__doc__ = module.__doc__
  program = os.path.basename(argv[0]) or PROGRAM
  if program in ('__main__.py', '-c'):
    program = 'python -m stylegan_seg_jax'
  module.run([f'{program} {command}', *argv[2:]])
