"""FFHQ at 256 (the reference's `ffhq-256` with `hfc_with_swav_ffhq_config.py`).

Convert the FFHQ generator first (any format; the 1024 model is run up to
256, as the paper's code does), import the reference's labelled test
samples (or label your own, README), then train and evaluate:

  python convert_weights.py --src=stylegan2-ffhq-config-f.pt --out=ffhq
  stylegan-seg label import_reference \
      --config=configs/ffhq256.py --latents=latents.pt --labels=labels.pt \
      --name=ffhq --out=data
  stylegan-seg train --config=configs/ffhq256.py \
      --workdir=workdirs/ffhq256 --config.stage=swav,oneshot
  stylegan-seg evaluate --config=configs/ffhq256.py \
      --workdir=workdirs/ffhq256

Reference settings: 100 steps of one image, K = 5000, eps = 0.005, uniform
marginals, 5 x 20000 pixels, tau = 0.01, SGD 0.01 + LARC 0.01, psi 0.7,
XXS head, one-shot sample 0 of the test set, 8 classes.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'ffhq'
  c.resolution = 256
  common.use_reference_test_set(c, 'ffhq', 0)
  return c
