"""Initialisers shared by the method's heads (PyTorch's defaults).

The reference heads (SwAV projection, prototypes, segmentation heads) are
PyTorch modules initialised with torch's defaults; the Flax heads start from
the same distributions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ['torch_default_init']


def torch_default_init(fan_in: int):
  """PyTorch's default Linear / Conv init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

  Args:
    fan_in: inputs per output unit (in_features, or in_channels * k * k).

  Returns:
    A Flax initialiser `(key, shape, dtype) -> array`.
  """
  bound = 1.0 / float(fan_in) ** 0.5

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init
