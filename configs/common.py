"""Shared defaults of the experiment configs: the reference SwAV settings.

Every value below is the reference code's (METHOD.md §5, §6); benchmark
configs override only what their reference config changes.
"""

import ml_collections


def swav_config() -> ml_collections.ConfigDict:
  """The SwAV stage with the ffhq-256 reference hyperparameters."""
  c = ml_collections.ConfigDict()
  c.stage = 'swav'
  # A converted generator directory (convert_weights.py), or 'toy'.
  c.generator_dir = 'toy'
  # Run the generator's blocks up to this resolution (None = all).
  c.resolution = ml_collections.config_dict.placeholder(int)
  c.seed = 0
  c.batch_size = 1          # images per step, over all devices
  c.num_steps = 100         # the reference's "epochs" (1 image each)
  c.parallel = 'shard_map'  # or 'pmap'
  c.log_every = 1
  c.checkpoint_every = 25

  c.swav = ml_collections.ConfigDict()
  c.swav.layers = ml_collections.config_dict.placeholder(tuple)  # None = all
  c.swav.interpolation = 'nearest'
  c.swav.dim = 512
  c.swav.head = 'linear'            # 'linear' | '1-layer' | '2-layer'
  c.swav.num_prototypes = 5000
  c.swav.epsilon = 0.005
  c.swav.sinkhorn_iters = 10
  c.swav.marginals = 'uniform'      # 'uniform' | 'image' (reference option)
  c.swav.temperature = 0.01
  c.swav.num_patches = 5
  c.swav.patch_size = 20000
  # Score rows alive at once in the loss (memory only; same result).
  c.swav.chunk_size = 2048

  c.views = ml_collections.ConfigDict()
  c.views.n_layers = 6              # W+ blocks eligible for resampling
  c.views.strength = 1.0
  c.views.psi = 0.7
  c.views.double_truncation = False  # True = the reference's quirk
  c.views.max_degrees = 10.0
  c.views.align_views = False        # False = the reference's pairing

  c.optim = ml_collections.ConfigDict()
  c.optim.lr = 0.01
  c.optim.momentum = 0.9
  c.optim.trust_coefficient = 0.01
  c.optim.schedule = 'constant'     # or 'warmup_cosine'
  c.optim.warmup_steps = 10
  c.optim.start_lr = 0.0
  c.optim.final_lr = 0.0001
  return c
