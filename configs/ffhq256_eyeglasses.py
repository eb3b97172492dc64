"""FFHQ eyeglasses, a rare part (the reference's `ffhq-256-eg`).

The FFHQ generator and the reference's generic SwAV config (K = 8000), two
classes, one-shot sample 21 of the eyeglasses test set:

  stylegan-seg label import_reference \
      --config=configs/ffhq256_eyeglasses.py --latents=latents.pt \
      --labels=labels.pt --name=ffhq_eyeglasses --out=data
  stylegan-seg train --config=configs/ffhq256_eyeglasses.py \
      --workdir=workdirs/ffhq_eyeglasses --config.stage=swav,oneshot
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'ffhq'
  c.resolution = 256
  c.swav.num_prototypes = 8000
  c.data.class_names = ('background', 'glasses')
  common.use_reference_test_set(c, 'ffhq_eyeglasses', 21)
  return c
