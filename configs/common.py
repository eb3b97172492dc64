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


def add_oneshot(c: ml_collections.ConfigDict, *, oneshot: str = 'toy_seed:0',
                test_set: str = 'toy') -> ml_collections.ConfigDict:
  """Adds the one-shot stage, the baselines, the data and the evaluation.

  Every value is the reference's (METHOD.md §7, §8, §11) unless marked as a
  corrected default; `reference_*` switches restore the released behaviour.

  Args:
    c: the config to extend.
    oneshot: default `data.oneshot` (real domains: the file `label import`
      writes).
    test_set: default `data.test_set` ('' = none: evaluation needs one).
  """
  c.oneshot = ml_collections.ConfigDict()
  # Methods trained by the `oneshot` stage and scored by the evaluator.
  c.oneshot.methods = ('ours', 'repurposegan', 'datasetgan',
                       'datasetgan_ensemble', 'hfc_kmeans')
  c.oneshot.head = 'XXS'             # ours: XXS | XS | S | M | L | Lin
  c.oneshot.reference_logits = False  # True = XXS emits 12 logits (reference)
  c.oneshot.num_steps = 200
  c.oneshot.lr = 1e-3
  c.oneshot.b1 = 0.9
  c.oneshot.b2 = 0.99
  c.oneshot.weight_decay = 0.0
  c.oneshot.checkpoint_every = 50
  c.oneshot.eval_every = 0           # > 0: also evaluate during training

  c.baselines = ml_collections.ConfigDict()
  c.baselines.repurposegan_head = 'XS'
  # Upsampling of the raw generator maps fed to RepurposeGAN and DatasetGAN
  # ('nearest' = the reference's; 'bilinear' matches swav.interpolation
  # = 'bilinear' for a like-for-like comparison).
  c.baselines.interpolation = 'nearest'
  c.baselines.datasetgan_members = 10
  c.baselines.hfc_blocks = 5
  c.baselines.hfc_clusters = (4, 8, 16, 32, 64)
  c.baselines.hfc_samples = 4
  c.baselines.hfc_head = 'S'
  c.baselines.kmeans_iters = 100
  c.baselines.kmeans_inits = 3

  c.data = ml_collections.ConfigDict()
  # Labelled test set: a TFDS directory (labelled_set / label import_reference),
  # 'toy' (the shipped generator's test set, built under the workdir) or ''
  # (none; training and dataset generation need none).
  c.data.test_set = test_set
  # The one labelled example: 'index:N' or 'seed:N' (taken from the test set
  # and excluded from it), 'toy_seed:N' (toy ground truth of a one-shot
  # seed), or a path to an example written by `label import`.
  c.data.oneshot = oneshot
  c.data.num_test = -1               # -1 = all (the reference evaluates 10)

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 8              # images per segmentation call
  c.eval.num_overlays = 8            # images in each overlay grid

  # Annotated dataset generation (python -m stylegan_seg_jax.generate).
  c.generate = ml_collections.ConfigDict()
  c.generate.method = 'ours'         # any trained method of oneshot.methods
  c.generate.seed_start = 0          # seeds seed_start .. seed_start + N - 1
  c.generate.shard_size = 256        # seeds per ArrayRecord shard
  c.generate.batch_size = 16         # images per segmentation call
  # Truncation of the generated samples (None = views.psi).
  c.generate.psi = ml_collections.config_dict.placeholder(float)
  c.generate.drop_uncertain = 0.0    # drop this most-uncertain share per shard
  return c
