"""The whole method on the built-in toy generator (procedural faces, 64x64).

  stylegan-seg train --config=configs/toy_swav.py \
      --workdir=workdirs/toy --config.stage=swav,oneshot
  stylegan-seg evaluate --config=configs/toy_swav.py \
      --workdir=workdirs/toy

The reference settings scaled to a 64x64 image (4096 pixels): 5 patches of
2000 pixels, K = 500 (the reference's 4 sampled pixels per prototype), W+
blocks 0..3 resampled (the last two rows never are, as in the reference),
psi = 1: the toy ground truth holds only for untruncated samples, and
bilinear feature upsampling (the reference upsamples nearest; at 64x64 the
4x4..16x16 maps then become blocks of 16..4 pixels, and bilinear raised our
mIoU from 0.66 to 0.72 over toy one-shot seeds 0-2, docs/results.md), and
the best recipe of the SwAV ablation (docs/results.md): pairs of
corresponding pixels, learning rate 0.1, and a projection initialised with
every generator layer at a common scale (+0.013 mIoU over the reference
recipe; training itself adds +0.006 normalised wIoU over that
initialisation, no mIoU). The
one-shot stage fits ours and every baseline on the toy ground truth of seed
0 (`data.oneshot='toy:faces:seed:0'`; the SimCLR baseline's projection is
trained first) and the evaluator scores them on the 256 toy test samples.

Expected on a 2-core CPU: training 262 s, evaluation 56 s; ours scores mIoU
per image 0.744 and normalised wIoU 0.864 (docs/results.md).
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'toy:faces'
  c.batch_size = 1
  c.num_steps = 100
  c.swav.dim = 512
  c.swav.num_prototypes = 500
  c.swav.patch_size = 2000
  c.swav.interpolation = 'bilinear'
  c.views.num_blocks = 4
  c.views.psi = 1.0
  # The best variant of the SwAV ablation (docs/results.md): pairs of
  # corresponding pixels, a 10x larger step, and a projection initialised
  # so that every generator layer starts at a common scale. The mIoU gain
  # over the reference recipe comes from the initialisation; training adds
  # normalised wIoU only.
  c.views.align_views = True
  c.optim.lr = 0.1
  c.swav.layer_norm_init = True
  return c
