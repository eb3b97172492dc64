"""Torch-free, TensorFlow-free conversion of StyleGAN2 checkpoints.

* `readers`: restricted unpicklers for torch zip / legacy files and pickles.
* `formats`: rosinality / NVIDIA / TF tensor mapping, architecture inference.
* `converter`: `convert_file`, from a checkpoint file to a generator
  directory (`stylegan2.load` reads it).
"""

from stylegan_seg_jax.convert.converter import convert_file
from stylegan_seg_jax.convert.formats import ConversionError
from stylegan_seg_jax.convert.formats import Converted
from stylegan_seg_jax.convert.formats import convert_object
from stylegan_seg_jax.convert.formats import detect_format
from stylegan_seg_jax.convert.readers import CheckpointReadError
from stylegan_seg_jax.convert.readers import read_checkpoint_file

__all__ = ['convert_file', 'convert_object', 'detect_format', 'Converted',
           'ConversionError', 'CheckpointReadError', 'read_checkpoint_file']
