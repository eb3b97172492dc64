"""Cars at 128 x 128, seen all round: `toy:cars` (8 classes), `toy:cars_fine`.

One renderer (`render`: a rigid 3-D car of three body types projected in
perspective from any azimuth and some elevation, with shadows and
backgrounds) and one generator (`assets/generator`, trained by
configs/toy_generator.py:cars), two label sets:

* `cars`: the reference's LSUN-car classes (background, body, door, window,
  windshield, hood, wheel, lights);
* `cars_fine`: every part of the renderer, in the spirit of Car-20 (rims,
  tail lights, licence plate, mirrors, grille, bumpers, ground, ...).
"""

import pathlib

from stylegan_seg_jax.domains import registry
from stylegan_seg_jax.domains.cars import render

__all__ = ['COARSE', 'FINE', 'render']

_GENERATOR = pathlib.Path(__file__).parent / 'assets' / 'generator'

_NAMES, _LOOKUP = render.LABEL_SETS['coarse']
# The shifted rendered set: seen from 30 to 55 degrees above the horizon
# (trained 5 to 30).
_SHIFT = (('pitch', 1.0, 2.0),)
COARSE = registry.register(registry.Domain(
    name='cars',
    description='procedural 3-D cars all round, 128 px, the reference\'s 8 '
                'car classes',
    renderer=render, generator_dir=_GENERATOR, class_names=tuple(_NAMES),
    label_lookup=tuple(int(k) for k in _LOOKUP), shift=_SHIFT))

FINE = registry.register(registry.Domain(
    name='cars_fine',
    description='procedural 3-D cars all round, 128 px, 19 fine parts',
    renderer=render, generator_dir=_GENERATOR, shift=_SHIFT))
