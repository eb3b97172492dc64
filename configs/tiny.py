"""Tiny run of every stage on the shipped toy generator (tests, smoke checks).

  stylegan-seg train --config=configs/tiny.py \
      --workdir=/tmp/tiny --config.stage=swav,oneshot
  stylegan-seg evaluate --config=configs/tiny.py \
      --workdir=/tmp/tiny

A few seconds per stage on a CPU: 64x64 generator, K = 16, 2 patches of 256
pixels, a 32-d SimCLR projection trained for 4 steps, psi = 1 (the toy
domain's ground truth holds only there).
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'toy:faces'
  c.batch_size = 8
  c.num_steps = 6
  c.checkpoint_every = 2
  c.swav.dim = 32
  c.swav.num_prototypes = 16
  c.swav.epsilon = 0.05
  c.swav.sinkhorn_iters = 3
  c.swav.num_patches = 2
  c.swav.patch_size = 256
  c.swav.temperature = 0.1
  c.views.num_blocks = 4
  c.views.psi = 1.0
  c.oneshot.num_steps = 30
  c.oneshot.checkpoint_every = 10
  c.baselines.datasetgan_members = 3
  c.baselines.hfc_samples = 2
  c.baselines.kmeans_iters = 10
  c.baselines.kmeans_inits = 1
  c.simclr.num_steps = 4
  c.simclr.dim = 32
  c.simclr.batch_size = 8
  c.data.num_test = 16
  return c
