"""Deprecated: trains the toy generator; use the training binary.

  python -m stylegan_seg_jax.train --config=configs/toy_generator.py \
      --workdir=workdirs/toy_generator

This alias translates the first release's command line (config
`configs/toy_faces.py`, its top-level fields) and runs the training binary.
The generator is now written to WORKDIR/toy_generator/generator. It will be
removed in the next release.
"""

import runpy
import sys

# Top-level fields of the old toy config that now live in `toy_generator`.
_MOVED = ('batch_size', 'num_steps', 'lr', 'warmup_steps', 'b1', 'b2',
          'class_weights', 'eval_every', 'eval_samples', 'checkpoint_every')


def translate(argv: list[str]) -> list[str]:
  """The first release's arguments in the training binary's vocabulary."""
  out = []
  for arg in argv:
    arg = arg.replace('configs/toy_faces.py', 'configs/toy_generator.py')
    if arg.startswith('--config.generator.'):
      arg = '--config.toy_generator.' + arg[len('--config.generator.'):]
    for name in _MOVED:
      if arg.startswith(f'--config.{name}='):
        arg = f'--config.toy_generator.{arg[len("--config."):]}'
    out.append(arg)
  return out


if __name__ == '__main__':
  print('toy_training: warning: deprecated; use python -m '
        'stylegan_seg_jax.train --config=configs/toy_generator.py',
        file=sys.stderr)
  sys.argv = [sys.argv[0]] + translate(sys.argv[1:])
  runpy.run_module('stylegan_seg_jax.train', run_name='__main__',
                   alter_sys=True)
