"""LSUN horse riders, a rare part (the reference's `horse-256-rp`).

The horse generator and the reference's generic SwAV config (K = 8000),
two classes, one-shot sample 4:

  stylegan-seg train --config=configs/lsun_horse_rider.py \
      --workdir=workdirs/lsun_horse_rider --config.stage=swav,oneshot
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'lsun_horse'
  c.resolution = 256
  c.swav.num_prototypes = 8000
  c.data.class_names = ('background', 'rider')
  common.use_reference_test_set(c, 'lsun_horse_rider', 4)
  return c
