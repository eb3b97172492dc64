"""Fine faces at 128 x 128: `toy:faces_fine` (21 parts) and `toy:faces_glasses`.

One renderer (`render`: yaw and roll, expressions, hair styles, glasses,
earrings, hats, neck, clothes, textured skin and hair, cluttered
backgrounds) and one generator (`assets/generator`, trained by
configs/toy_generator.py:faces_fine), two label sets:

* `faces_fine`: every part of the renderer, left and right separate, in the
  spirit of FFHQ-34 / CelebAMask-HQ;
* `faces_glasses`: the rare-part benchmark (background, glasses), as the
  reference's eyeglasses config: its test samples and one-shot examples
  are the seeds whose faces wear glasses (about 1 in 10).
"""

import pathlib

from stylegan_seg_jax.domains import registry
from stylegan_seg_jax.domains.faces_fine import render

__all__ = ['FINE', 'GLASSES', 'render']

_GENERATOR = pathlib.Path(__file__).parent / 'assets' / 'generator'

# The shifted rendered set: head roll up to +-30 degrees (trained +-10).
_SHIFT = (('roll', -1.0, 2.0),)

FINE = registry.register(registry.Domain(
    name='faces_fine',
    description='procedural faces with fine parts, 128 px, 21 classes',
    renderer=render, generator_dir=_GENERATOR, shift=_SHIFT))

_NAMES, _LOOKUP = render.LABEL_SETS['glasses']
GLASSES = registry.register(registry.Domain(
    name='faces_glasses',
    description='the glasses of the fine faces (a rare part), 128 px',
    renderer=render, generator_dir=_GENERATOR, class_names=tuple(_NAMES),
    label_lookup=tuple(int(k) for k in _LOOKUP), requires=('glasses',),
    shift=_SHIFT))
