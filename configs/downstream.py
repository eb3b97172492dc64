"""The downstream segmenter on an experiment's data (stage 'downstream').

  stylegan-seg generate --config=configs/toy_swav.py --workdir=workdirs/toy \
      --num_samples=1000 --out=workdirs/toy/datasets/ours
  stylegan-seg train --config=configs/downstream.py \
      --workdir=workdirs/toy/downstream_ours \
      --config.downstream.train_set=workdirs/toy/datasets/ours

`configs/downstream.py:EXPERIMENT` starts from configs/EXPERIMENT.py
(default toy_swav: the 64-px faces) and adds the downstream stage: a U-Net
(8, 16, 32, 64 channels) trained from scratch for 1500 steps of 8 images,
scored on the experiment's toy domain drawn by its renderer
('toy:NAME:rendered') and shifted outside the generator's training range
('toy:NAME:shifted'). `downstream.train_set='oneshot'` trains on the
experiment's one labelled example alone (the floor of docs/results.md),
'toy:NAME:rendered' with `downstream.num_train=N` on N renderer images
with exact masks (the ceiling).
"""

import importlib


def get_config(experiment: str = 'toy_swav'):
  if not experiment.isidentifier() or experiment == 'downstream':
    raise ValueError(f'configs/downstream.py:{experiment[:40]!r}: name an '
                     'experiment config, e.g. toy_swav or toy_cars')
  c = importlib.import_module(f'configs.{experiment}').get_config()
  c.stage = ('downstream',)
  spec = str(c.generator_dir)
  if spec.startswith('toy:'):
    c.downstream.test_sets = (f'{spec}:rendered', f'{spec}:shifted')
  return c
