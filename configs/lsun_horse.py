"""LSUN horse at 256 (the reference's `horse-256`, its horse SwAV config).

  python convert_weights.py --src=stylegan2-horse-config-f.pt --out=lsun_horse
  stylegan-seg train --config=configs/lsun_horse.py \
      --workdir=workdirs/lsun_horse --config.stage=swav,oneshot

Differs from ffhq256: 50 steps, eps = 0.003, one-shot sample 4, 8 classes.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'lsun_horse'
  c.resolution = 256
  c.num_steps = 50
  c.swav.epsilon = 0.003
  c.data.class_names = ('background', 'f_leg', 'b_leg', 'torso', 'neck',
                        'tail', 'head', 'rider')
  common.use_reference_test_set(c, 'lsun_horse', 4)
  return c
