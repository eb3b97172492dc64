"""SwAV on LSUN cat at 256 (reference `hfc_with_swav_cat_config.py`).

  python convert_weights.py --src=stylegan2-cat-config-f.pt --out=lsun_cat
  python -m stylegan_seg_jax.train --config=configs/lsun_cat.py \
      --config.generator_dir=lsun_cat --workdir=workdirs/lsun_cat

Differs from ffhq256: eps = 0.003 and the reference's `image` marginals.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'lsun_cat'
  c.resolution = 256
  c.swav.epsilon = 0.003
  c.swav.marginals = 'image'
  # One labelled sample from `label export` / `label import`; no test set.
  c.data.oneshot = 'labels/lsun_cat_example'
  c.data.test_set = ''
  c.data.class_names = ('background', 'head', 'eye', 'nose', 'ear', 'neck',
                        'torso', 'tail', 'f_leg', 'b_leg')
  return c
