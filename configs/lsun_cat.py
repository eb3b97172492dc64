"""LSUN cat at 256 (the reference's `cat-256`, `hfc_with_swav_cat_config`).

  python convert_weights.py --src=stylegan2-cat-config-f.pt --out=lsun_cat
  stylegan-seg train --config=configs/lsun_cat.py \
      --workdir=workdirs/lsun_cat --config.stage=swav,oneshot

Differs from ffhq256: eps = 0.003, the reference's `image` marginals, the
XS head, 10 classes.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'lsun_cat'
  c.resolution = 256
  c.swav.epsilon = 0.003
  c.swav.marginals = 'image'
  c.oneshot.head = 'XS'
  c.data.class_names = ('background', 'head', 'eye', 'nose', 'ear', 'neck',
                        'torso', 'tail', 'f_leg', 'b_leg')
  common.use_reference_test_set(c, 'lsun_cat', 0)
  return c
