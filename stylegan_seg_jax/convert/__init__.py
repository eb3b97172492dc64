"""Torch-free, TensorFlow-free conversion of StyleGAN2 checkpoints.

* `readers`: restricted unpicklers for torch zip / legacy files and pickles.
* `formats`: rosinality / NVIDIA / TF tensor mapping, architecture inference.
* `converter`: `convert_file`, from a checkpoint file to a generator
  directory (`stylegan2.load` reads it).

The names below load their module on first use, so that reading (and
refusing) a file does not wait for JAX to import.
"""

import importlib
from typing import Any

_EXPORTS = {
    'convert_file': 'converter',
    'convert_object': 'formats',
    'detect_format': 'formats',
    'Converted': 'formats',
    'ConversionError': 'formats',
    'CheckpointReadError': 'readers',
    'read_checkpoint_file': 'readers',
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
  if name not in _EXPORTS:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  module = importlib.import_module(f'{__name__}.{_EXPORTS[name]}')
  return getattr(module, name)
