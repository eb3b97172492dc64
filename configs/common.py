"""The one schema of every experiment config, with the reference defaults.

`base_config()` returns every field any binary reads, set to the reference
code's values for FFHQ at 256 (docs/method.md); each config file starts from
it and changes only what its experiment changes. Any field can be overridden
on the command line: `--config.swav.epsilon=0.003`.
"""

import ml_collections

FFHQ_CLASSES = ('background', 'skin', 'hair', 'eye', 'eyebrow', 'nose',
                'mouth', 'ear')


def base_config() -> ml_collections.ConfigDict:
  """A new config with every section, at the ffhq-256 reference settings."""
  c = ml_collections.ConfigDict()
  # Training stages to run, in order: 'toy_generator', 'swav', 'simclr',
  # 'oneshot' (on the command line also --config.stage=swav,oneshot). The
  # oneshot stage runs 'simclr' first when it trains 'hfc_simclr'.
  c.stage = ('swav',)
  # A converted generator directory (convert_weights.py), or a toy domain's
  # shipped generator, 'toy:NAME' (`stylegan-seg toy list`).
  c.generator_dir = 'toy:faces'
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
  # The reference re-normalises the prototype rows in place before each step,
  # outside autograd ('before_step'); 'in_loss' differentiates through the
  # normalisation instead.
  c.swav.prototype_normalization = 'before_step'
  # True: each layer's rows of the initial projection are scaled by
  # mean RMS / layer RMS (as if every layer were normalised to one scale);
  # False: the reference's plain initialisation.
  c.swav.layer_norm_init = False
  c.swav.num_patches = 5
  c.swav.patch_size = 20000
  # Score rows alive at once in the loss (memory only; same result).
  c.swav.chunk_size = 2048

  c.views = ml_collections.ConfigDict()
  c.views.num_blocks = 6            # W+ blocks (row pairs) resampled
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

  # The one-shot stage. Every value is the reference's unless marked as a
  # corrected default; `reference_*` switches restore the released behaviour.
  c.oneshot = ml_collections.ConfigDict()
  # Methods trained by the `oneshot` stage and scored by the evaluator.
  c.oneshot.methods = ('ours', 'repurposegan', 'datasetgan',
                       'datasetgan_ensemble', 'hfc_kmeans', 'hfc_simclr')
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
  # k-means as scikit-learn's defaults, which the reference uses: 10 runs
  # of at most 300 Lloyd iterations, tolerance 1e-4 (relative).
  c.baselines.kmeans_iters = 300
  c.baselines.kmeans_inits = 10
  c.baselines.kmeans_tol = 1e-4
  c.baselines.simclr_head = 'XS'

  # The HFC+SimCLR baseline's projection (stage 'simclr'): `batch_size`
  # images per step as every stage (the reference: 1), `simclr.batch_size`
  # pixels of each read in both views. Its features are upsampled as
  # `baselines.interpolation`.
  c.simclr = ml_collections.ConfigDict()
  c.simclr.layers = ml_collections.config_dict.placeholder(tuple)  # None = all
  c.simclr.num_steps = 100
  c.simclr.batch_size = 20
  c.simclr.dim = 512
  c.simclr.temperature = 1.0
  c.simclr.lr = 0.01
  c.simclr.momentum = 0.9
  c.simclr.trust_coefficient = 0.01
  # The reference's loss as coded: cosines between the first 2 x batch_size
  # projected channels instead of the samples, positive pairs (2k - 1, 2k)
  # instead of (2k, 2k + 1); and BatchNorm left in train mode when
  # segmenting (each image's own statistics).
  c.simclr.reference_similarity = False
  c.simclr.reference_pairs = False
  c.simclr.reference_bn_train = False

  c.data = ml_collections.ConfigDict()
  # Labelled test set: a TFDS directory (labelled_set / label import_reference),
  # 'toy:NAME' (a toy domain's test set, built under the workdir) or ''
  # (none; training and dataset generation need none).
  c.data.test_set = 'toy:faces'
  # The one labelled example: 'index:N' or 'seed:N' (taken from the test set
  # and excluded from it), 'toy:NAME:seed:N' (a toy domain's ground truth of
  # one of its one-shot seeds), or a path to an example written by
  # `label import`.
  c.data.oneshot = 'toy:faces:seed:0'
  c.data.num_test = -1               # -1 = all (the reference evaluates 10)
  # Names of the class ids (labelling; one-shot examples carry their own).
  c.data.class_names = FFHQ_CLASSES
  # The reference's labelled test data (`label import_reference`): the
  # truncation its images are rendered with (None = the generated samples'
  # psi; PASCAL-Part inversions: 1), and a label size to pad shorter label
  # maps to, centred, before resizing to the generator's (None = none).
  c.data.reference_psi = ml_collections.config_dict.placeholder(float)
  c.data.reference_label_size = ml_collections.config_dict.placeholder(int)

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 8              # images per segmentation call
  c.eval.num_overlays = 8            # images in each overlay grid
  # Bounding-box metrics: 'inclusive' boxes, or the reference's 'exclusive'
  # slicing (drops the box's last row and column outside the mask).
  c.eval.bbox_bounds = 'inclusive'

  # Annotated dataset generation (stylegan-seg generate).
  c.generate = ml_collections.ConfigDict()
  c.generate.method = 'ours'         # any trained method of oneshot.methods
  c.generate.seed_start = 0          # seeds seed_start .. seed_start + N - 1
  c.generate.shard_size = 256        # seeds per ArrayRecord shard
  c.generate.batch_size = 16         # images per segmentation call
  # Truncation of the generated samples (None = views.psi).
  c.generate.psi = ml_collections.config_dict.placeholder(float)
  c.generate.drop_uncertain = 0.0    # drop this most-uncertain share per shard

  # A toy domain's generator (stage 'toy_generator',
  # configs/toy_generator.py): the domain whose renderer it learns.
  c.toy_generator = ml_collections.ConfigDict()
  c.toy_generator.domain = 'faces'
  # Block resolution -> channels; cheap blocks get the width.
  c.toy_generator.channels = {'4': 128, '8': 128, '16': 128, '32': 64,
                              '64': 32}
  c.toy_generator.w_dim = 128
  c.toy_generator.mapping_layers = 4
  # StyleGAN's 0.01 keeps the mapping network almost still under Adam; the
  # regression has to learn the scene map through it (1.0 measured better).
  c.toy_generator.mapping_lr_multiplier = 1.0
  # Small batches: more steps per CPU second won (batch 4 beat 8 and 16 at
  # equal wall time in 3-minute trials).
  c.toy_generator.batch_size = 4
  c.toy_generator.num_steps = 48_000
  c.toy_generator.lr = 4e-3
  c.toy_generator.warmup_steps = 500
  c.toy_generator.b1 = 0.9
  c.toy_generator.b2 = 0.99
  # Loss weight per ground-truth class: background, skin, hair, eye, eyebrow,
  # nose, mouth, ear (small parts x4 so they are drawn).
  c.toy_generator.class_weights = (1.0, 1.0, 1.0, 4.0, 4.0, 4.0, 4.0, 4.0)
  c.toy_generator.eval_every = 4000
  c.toy_generator.eval_samples = 64
  c.toy_generator.checkpoint_every = 2000

  # The downstream segmenter (stage 'downstream', configs/downstream.py): a
  # U-Net trained from scratch on labelled images, scored on test images.
  c.downstream = ml_collections.ConfigDict()
  # What it trains on: a dataset directory written by `generate` (or any
  # TFDS directory with image and mask features), 'oneshot' (the config's
  # labelled example(s), drawn by its generator) or 'toy:NAME:rendered'
  # (images drawn by a toy domain's renderer, with exact masks).
  c.downstream.train_set = ''
  c.downstream.num_train = 0         # the first N examples (0 = all)
  c.downstream.drop_uncertain = 0.0  # then drop this most-uncertain share
  # Labelled test images: 'toy:NAME:rendered', 'toy:NAME:shifted' (images
  # the generator did not make) or TFDS directories with images (split
  # 'test').
  c.downstream.test_sets = ()
  c.downstream.widths = (8, 16, 32, 64)  # U-Net channels per level
  c.downstream.batch_size = 8
  c.downstream.num_steps = 1500
  c.downstream.lr = 3e-3
  c.downstream.warmup_steps = 100
  c.downstream.weight_decay = 1e-4
  c.downstream.checkpoint_every = 500
  c.downstream.eval_every = 0        # > 0: also evaluate during training
  c.downstream.eval_batch_size = 64
  c.downstream.augment = ml_collections.ConfigDict()
  c.downstream.augment.flip = True   # left/right classes swap
  c.downstream.augment.zoom = 0.25
  c.downstream.augment.shift = 0.1
  c.downstream.augment.brightness = 0.1
  c.downstream.augment.contrast = 0.2
  c.downstream.augment.saturation = 0.2
  c.downstream.augment.hue = 10.0    # degrees
  return c


def use_reference_test_set(c: ml_collections.ConfigDict, name: str,
                           one_shot_index: int) -> None:
  """Sets `c.data` to the reference benchmark: its labelled test samples
  (imported by `label import_reference --name=NAME --out=data`) and the
  reference's one-shot sample among them (removed from the test split).

  A run on a sample you labelled yourself overrides `data.oneshot` with the
  directory `label import` wrote.
  """
  c.data.test_set = f'data/labelled_samples/{name}/1.0.0'
  c.data.oneshot = f'index:{one_shot_index}'


def use_toy_domain(c: ml_collections.ConfigDict, name: str,
                   oneshot_seed: int = 0) -> None:
  """Points `c` at a toy domain (docs/domains.md).

  Its shipped generator, its test set (exact masks), the ground truth of
  one of its one-shot seeds as the labelled example and its class names;
  samples untruncated (psi = 1), where the exact masks hold.
  """
  from stylegan_seg_jax import domains  # pylint: disable=g-import-not-at-top
  domain = domains.get(name)
  c.generator_dir = domain.spec
  c.data.test_set = domain.spec
  c.data.oneshot = f'{domain.spec}:seed:{oneshot_seed}'
  c.data.class_names = tuple(domain.class_names)
  c.views.psi = 1.0


def scale_to_resolution(c: ml_collections.ConfigDict,
                        resolution: int) -> None:
  """The reference's 256-px SwAV settings scaled to another image size.

  Pixels per patch and prototypes scale with the pixel count (the same
  share of the image, the same pixels per prototype); the W+ views
  resample every block but the last, as the reference does at 256 (6 of
  7).
  """
  area = (resolution / 256) ** 2
  c.swav.patch_size = round(c.swav.patch_size * area)
  c.swav.num_prototypes = round(c.swav.num_prototypes * area)
  num_blocks = resolution.bit_length() - 2  # W+ rows / 2: 7 at 256
  c.views.num_blocks = num_blocks - 1
