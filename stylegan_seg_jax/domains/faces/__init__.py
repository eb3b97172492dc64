"""The `faces` domain: cartoon faces at 64 x 64 with the paper's 8 classes.

The quickstart's domain and the project's first benchmark (`toy:faces`):
the renderer of `render` (background, skin, hair, eye, eyebrow, nose,
mouth, ear) and the shipped generator under `assets/generator` (4.2 MB,
trained by configs/toy_generator.py).
"""

import pathlib

from stylegan_seg_jax.domains import registry
from stylegan_seg_jax.domains.faces import render

__all__ = ['DOMAIN', 'render']

DOMAIN = registry.register(registry.Domain(
    name='faces',
    description='procedural cartoon faces, 64 px, 8 classes',
    renderer=render,
    generator_dir=pathlib.Path(__file__).parent / 'assets' / 'generator',
    test_seeds=range(1_000_000, 1_000_256),
    # The shifted rendered set: head roll up to +-24 degrees (trained +-8).
    shift=(('rotation', -1.0, 2.0),),
    default=True))
