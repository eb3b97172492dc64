"""LSUN church at 256 (the reference's `church-256`, generic SwAV config).

  python convert_weights.py --src=stylegan2-church-config-f.pt --out=lsun_church
  stylegan-seg train --config=configs/lsun_church.py \
      --workdir=workdirs/lsun_church --config.stage=swav,oneshot

K = 8000, 8 classes, one-shot sample 0.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'lsun_church'
  c.resolution = 256
  c.swav.num_prototypes = 8000
  c.data.class_names = ('background', 'roof', 'window', 'door', 'steps',
                        'turret', 'wall', 'road')
  common.use_reference_test_set(c, 'lsun_church', 0)
  return c
