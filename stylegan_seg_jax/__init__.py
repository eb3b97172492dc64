"""stylegan_seg_jax: one-shot segmentation of StyleGAN2 images in JAX/Flax.

A reimplementation of Manerikar & Kak, "Self-Supervised One-Shot Learning for
Automatic Segmentation of StyleGAN Images" (arXiv 2303.05639).

Sub-packages, in data-flow order (docs/ and README.md give the tour):

* `stylegan2`: the generator in Flax (no project knowledge);
* `convert`: torch-free reading of rosinality / NVIDIA / TF checkpoints;
* `toy`: the built-in toy domain (a shipped generator with exact masks);
* `method`: features, views, SwAV, heads, k-means, segmenters;
* `data`: labelled sets, the experiment's data, labelling;
* `eval`: metrics, on-the-fly segmentation, the evaluator, summaries;
* `stages`: training stages, evaluation and dataset generation of a workdir;
* `labeller`: the browser labeller (a session, its web app and page);
* `runtime`: devices, checkpoints, files, logs, the loop, the CLI bootstrap.

The binaries are the top-level modules: `python -m stylegan_seg_jax.train`,
`evaluate`, `generate`, `label`, `report`, `toy` (docs/cli.md).
Importing the package imports nothing else.
"""

__version__ = '0.3.0'
