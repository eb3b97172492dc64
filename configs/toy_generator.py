"""Trains the built-in toy generator (procedural faces, 64x64, exact masks).

  stylegan-seg train --config=configs/toy_generator.py \
      --workdir=workdirs/toy_generator

The `toy_generator` stage: regression of G(z) onto render(f(z)), settings in
`config.toy_generator` (configs/common.py). Expected: about 48 minutes on a
2-core CPU (48k steps of batch 4), held-out PSNR of G(z) against
render(f(z)) above 25 dB (docs/toy_domain.md); the generator is written to
WORKDIR/toy_generator/generator. A smoke run:
--config.toy_generator.num_steps=20 --config.toy_generator.eval_every=10.

The other sections are the toy experiment's (configs/toy_swav.py), so the
same config trains the method on the new generator:
--config.stage=swav,oneshot
--config.generator_dir=WORKDIR/toy_generator/generator.
"""

from configs import toy_swav


def get_config():
  c = toy_swav.get_config()
  c.stage = ('toy_generator',)
  c.seed = 0
  c.log_every = 100
  return c
