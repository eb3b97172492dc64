"""SwAV on AFHQ at 256 (the reference's generic `hfc_with_swav_config.py`).

  python convert_weights.py --src=afhq.pkl --out=afhq --resolution=256
  python -m stylegan_seg_jax.train --config=configs/afhq.py \
      --config.generator_dir=afhq --workdir=workdirs/afhq

Differs from ffhq256: K = 8000.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'afhq'
  c.resolution = 256
  c.swav.num_prototypes = 8000
  # One labelled sample from `label export` / `label import`; no test set.
  c.data.oneshot = 'labels/afhq_example'
  c.data.test_set = ''
  c.data.class_names = ('background', 'head', 'neck', 'mouth', 'eye', 'nose',
                        'ear')
  return c
