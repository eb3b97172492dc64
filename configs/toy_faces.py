"""Trains the built-in toy generator (procedural faces, 64x64, exact masks).

  python -m stylegan_seg_jax.toy_training --config=configs/toy_faces.py \
      --workdir=workdirs/toy_faces

Expected: about 45 minutes on a 2-core CPU (48k steps of batch 4, 0.055
s/step), held-out PSNR of G(z) against render(f(z)) above 25 dB (see README).
A quick smoke run: --config.num_steps=20 --config.eval_every=10.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.generator = ml_collections.ConfigDict(dict(
      # Block resolution -> channels; cheap blocks get the width.
      channels={'4': 128, '8': 128, '16': 128, '32': 64, '64': 32},
      w_dim=128,
      mapping_layers=4,
      # StyleGAN's 0.01 keeps the mapping network almost still under Adam;
      # the regression has to learn f through it (measured: 1.0 is better).
      mapping_lr_multiplier=1.0,
  ))
  # Small batches: more steps per CPU second won (B=4 beat 8 and 16 at equal
  # wall time in 3-minute trials).
  c.batch_size = 4
  c.num_steps = 48_000
  c.lr = 4e-3
  c.warmup_steps = 500
  c.b1 = 0.9
  c.b2 = 0.99
  # Loss weight per ground-truth class: background, skin, hair, eye, eyebrow,
  # nose, mouth, ear (small parts x4 so they are drawn).
  c.class_weights = (1.0, 1.0, 1.0, 4.0, 4.0, 4.0, 4.0, 4.0)
  c.log_every = 100
  c.eval_every = 4000
  c.eval_samples = 64
  c.checkpoint_every = 2000
  return c
