"""The paper's method and its baselines, on a frozen generator's features.

In data-flow order:

* `features`: per-pixel embeddings of the multi-scale hidden features
  (lean per-layer projection; the upsample-concat path as the naive twin).
* `views`: the two SwAV views (W+ block resampling, rotation, flip).
* `swav`: projection heads, prototypes, ott-jax Sinkhorn codes, the
  swapped-prediction loss.
* `heads`: the one-shot segmentation heads (dilated conv, Lin, DatasetGAN
  MLP).
* `kmeans`: k-means++ and Lloyd in JAX (HFC-KMeans).
* `simclr`: the projection and NT-Xent loss of the HFC+SimCLR baseline.
* `segmenters`: ours and every baseline behind one interface.
* `initializers`: PyTorch's default initialisation.

docs/method.md describes the method and the reference behaviours kept as
options.
"""
