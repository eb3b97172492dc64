"""stylegan_seg_jax: one-shot segmentation of StyleGAN2 images in JAX/Flax.

A reimplementation of Manerikar & Kak, "Self-Supervised One-Shot Learning for
Automatic Segmentation of StyleGAN Images" (arXiv 2303.05639).
"""

__version__ = '0.1.0'
