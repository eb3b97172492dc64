"""Trains a toy domain's generator (its renderer, exact masks).

  stylegan-seg train --config=configs/toy_generator.py \
      --workdir=workdirs/toy_generator
  stylegan-seg train --config=configs/toy_generator.py:cars \
      --workdir=workdirs/toy_generator_cars

The `toy_generator` stage: regression of G(z) onto render(f(z)), settings in
`config.toy_generator` (configs/common.py); the part after ':' names the
domain (default faces). The generator is written to
WORKDIR/toy_generator/generator (docs/domains.md says how each shipped one
was trained and how faithful it is). A smoke run:
--config.toy_generator.num_steps=20 --config.toy_generator.eval_every=10.

faces (64 px): about 48 minutes on a 2-core CPU (48k steps of batch 4),
held-out PSNR of G(z) against render(f(z)) 27.3 dB.

The other sections are the domain's experiment config, so the same config
trains the method on the new generator: --config.stage=swav,oneshot
--config.generator_dir=WORKDIR/toy_generator/generator.
"""

import importlib

# The 128-px generators: wider low blocks, 9.7 MB of float32 weights; a
# step takes about 0.4 s on the idle 2-core CPU (batch 4, faces_fine), so 16k
# steps train in about 1.8 hours (twice that beside other jobs).
_128 = {
    'channels': {'4': 192, '8': 192, '16': 192, '32': 128, '64': 64,
                 '128': 32},
    'num_steps': 16_000,
    'checkpoint_every': 1000,
}
# Loss weights per renderer class: x4 on the classes that cover less than
# 2% of the pixels over the fidelity seeds (so that the small parts are
# drawn), 1 elsewhere.
_FACES_FINE_WEIGHTS = (1.0,) * 5 + (4.0,) * 16  # from hat on
_CARS_WEIGHTS = (1.0,) * 3 + (4.0,) * 6 + (1.0,) + (4.0,) * 9  # roof x1
# Per domain: the experiment config it extends and its generator's settings
# (those not listed keep configs/common.py's values, the faces recipe).
# Domains that share a renderer share the generator's settings.
_DOMAINS = {
    'faces': ('toy_swav', {}),
    'faces_fine': ('toy_faces_fine',
                   {**_128, 'class_weights': _FACES_FINE_WEIGHTS}),
    'faces_glasses': ('toy_faces_glasses',
                      {**_128, 'class_weights': _FACES_FINE_WEIGHTS}),
    'cars': ('toy_cars', {**_128, 'class_weights': _CARS_WEIGHTS}),
    'cars_fine': ('toy_cars_fine', {**_128, 'class_weights': _CARS_WEIGHTS}),
}


def get_config(domain: str = 'faces'):
  if domain not in _DOMAINS:
    raise ValueError(f'configs/toy_generator.py: no settings for domain '
                     f'{domain!r}; known: {", ".join(_DOMAINS)}')
  experiment, settings = _DOMAINS[domain]
  c = importlib.import_module(f'configs.{experiment}').get_config()
  c.stage = ('toy_generator',)
  c.seed = 0
  c.log_every = 100
  c.toy_generator.domain = domain
  for key, value in settings.items():
    c.toy_generator[key] = value
  return c
