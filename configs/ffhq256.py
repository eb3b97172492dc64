"""SwAV on FFHQ at 256 (reference `hfc_with_swav_ffhq_config.py`).

Convert the FFHQ generator first (any format; the 1024 model is run up to
256, as the paper's code does), then train:

  python convert_weights.py --src=stylegan2-ffhq-config-f.pt --out=ffhq
  python -m stylegan_seg_jax.train --config=configs/ffhq256.py \
      --config.generator_dir=ffhq --workdir=workdirs/ffhq256

Reference settings: 100 steps of one image, K = 5000, eps = 0.005, uniform
marginals, 5 x 20000 pixels, tau = 0.01, SGD 0.01 + LARC 0.01, psi 0.7.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'ffhq'
  c.resolution = 256
  # One labelled sample from `label export` / `label import`; no test set.
  c.data.oneshot = 'labels/ffhq_example'
  c.data.test_set = ''
  return c
