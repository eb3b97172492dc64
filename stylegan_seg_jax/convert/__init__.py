"""Torch-free, TensorFlow-free conversion of StyleGAN2 checkpoints.

Reading a checkpoint file (no JAX), lowest first:

* `bounds`: `CheckpointReadError`, the byte budget, the bounded reader and
  the checks of values read from the file;
* `arrays`: numpy arrays, dtypes and torch tensors as a file builds them;
* `stand_ins`: the inert stand-ins foreign objects become
  (`PersistentModule`, `TFNetwork`, ...);
* `unpickler`: the restricted unpickler (allow-listed globals, gated
  opcodes);
* `readers`: torch zip / legacy files and plain pickles,
  `read_checkpoint_file`.

Mapping it onto the generator's variable tree:

* `tensor_mapping`: what every format shares (the tensor table, the tree,
  the architecture inference and checks, `Converted`, `ConversionError`);
* `rosinality`, `nvidia_pytorch`, `nvidia_tf`: one module per format;
* `formats`: `detect_format` and `convert_object`, the dispatch.

And `converter`: `convert_file`, from a checkpoint file to a generator
directory (`stylegan2.load` reads it).

The names below load their module on first use, so that reading (and
refusing) a file does not wait for JAX to import.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what `__getattr__` loads, for the type checker
  from stylegan_seg_jax.convert.bounds import CheckpointReadError
  from stylegan_seg_jax.convert.converter import convert_file
  from stylegan_seg_jax.convert.formats import convert_object
  from stylegan_seg_jax.convert.formats import detect_format
  from stylegan_seg_jax.convert.readers import read_checkpoint_file
  from stylegan_seg_jax.convert.tensor_mapping import ConversionError
  from stylegan_seg_jax.convert.tensor_mapping import Converted

_EXPORTS = {
    'convert_file': 'converter',
    'convert_object': 'formats',
    'detect_format': 'formats',
    'Converted': 'tensor_mapping',
    'ConversionError': 'tensor_mapping',
    'CheckpointReadError': 'bounds',
    'read_checkpoint_file': 'readers',
}

__all__ = ['convert_file', 'convert_object', 'detect_format', 'Converted',
           'ConversionError', 'CheckpointReadError', 'read_checkpoint_file']


def __getattr__(name: str) -> Any:
  """Loads an exported name's module on first use."""
  if name not in _EXPORTS:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  module = importlib.import_module(f'{__name__}.{_EXPORTS[name]}')
  return getattr(module, name)
