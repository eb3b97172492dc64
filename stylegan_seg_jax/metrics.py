"""Deprecated: the first release's metrics module.

Use `stylegan_seg_jax.eval.metrics`.

This alias will be removed in the next release.
"""

import warnings

from stylegan_seg_jax.eval.metrics import *  # noqa: F403  pylint: disable=wildcard-import,unused-wildcard-import

warnings.warn('stylegan_seg_jax.metrics is deprecated; use '
              'stylegan_seg_jax.eval.metrics', DeprecationWarning,
              stacklevel=2)
