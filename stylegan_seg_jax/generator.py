"""Deprecated: the first release's flat generator module.

Use `stylegan_seg_jax.stylegan2` (same names; `Generator.variables` instead
of `Generator.params`, `StyleGAN2.mapping` / `synthesis` instead of `map` /
`synthesize`) and `stylegan_seg_jax.toy.load_generator()` instead of
`load('toy')`. This alias will be removed in the next release.
"""

import os
import warnings

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.stylegan2 import *  # noqa: F403  pylint: disable=wildcard-import,unused-wildcard-import

warnings.warn('stylegan_seg_jax.generator is deprecated; use '
              'stylegan_seg_jax.stylegan2', DeprecationWarning, stacklevel=2)


def load(path, resolution=None):  # noqa: F811
  """`stylegan2.load`, plus the first release's name 'toy'."""
  if os.fspath(path) == 'toy':
    from stylegan_seg_jax import toy  # pylint: disable=g-import-not-at-top
    return toy.load_generator(resolution)
  return stylegan2.load(path, resolution)
