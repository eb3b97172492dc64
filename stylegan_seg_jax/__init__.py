"""stylegan_seg_jax: one-shot segmentation of StyleGAN2 images in JAX/Flax.

A reimplementation of Manerikar & Kak, "Self-Supervised One-Shot Learning for
Automatic Segmentation of StyleGAN Images" (arXiv 2303.05639).

Sub-packages, lowest layer first (docs/ and README.md give the tour):

* `runtime`: devices, checkpoints, files, logs, the loop, errors;
* `stylegan2`: the generator in Flax (no knowledge of the method);
* `convert`: torch-free reading of rosinality / NVIDIA / TF checkpoints;
* `toy`: the built-in toy domain (a shipped generator with exact masks);
* `method`: features, views, SwAV, heads, k-means, segmenters;
* `data`: labelled sets, the experiment's data, labelling;
* `eval`: metrics, on-the-fly segmentation, the evaluator, summaries;
* `stages`: training stages, evaluation and dataset generation of a workdir;
* `labeller`: the browser labeller (a session, its web app and page);
* `commands`: the `stylegan-seg` command line (train, evaluate, generate,
  label, report, convert, toy; also `python -m stylegan_seg_jax`).

Importing the package imports nothing else.
"""

__version__ = '0.3.0'
