"""AFHQ at 256 (the reference's `afhq-256`, which uses its generic config).

  python convert_weights.py --src=afhq.pkl --out=afhq --resolution=256
  stylegan-seg train --config=configs/afhq.py \
      --workdir=workdirs/afhq --config.stage=swav,oneshot

The generic `hfc_with_swav_config.py`: differs from ffhq256 by K = 8000;
7 classes.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'afhq'
  c.resolution = 256
  c.swav.num_prototypes = 8000
  c.data.class_names = ('background', 'head', 'neck', 'mouth', 'eye', 'nose',
                        'ear')
  common.use_reference_test_set(c, 'afhq', 0)
  return c
