"""SwAV on LSUN horse at 256 (reference `hfc_with_swav_horse_config.py`).

  python convert_weights.py --src=stylegan2-horse-config-f.pt --out=lsun_horse
  python -m stylegan_seg_jax.train --config=configs/lsun_horse.py \
      --config.generator_dir=lsun_horse --workdir=workdirs/lsun_horse

Differs from ffhq256: 50 steps, eps = 0.003.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'lsun_horse'
  c.resolution = 256
  c.num_steps = 50
  c.swav.epsilon = 0.003
  # One labelled sample from `label export` / `label import`; no test set.
  c.data.oneshot = 'labels/lsun_horse_example'
  c.data.test_set = ''
  c.data.class_names = ('background', 'f_leg', 'b_leg', 'torso', 'neck',
                        'tail', 'head', 'rider')
  return c
