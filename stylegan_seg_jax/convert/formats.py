"""Recognises a checkpoint's format and maps it onto the Flax tree.

Each format is mapped tensor by tensor onto the variable tree of
`stylegan2.StyleGAN2` (docs/formats.md), by its own module over the shared
`tensor_mapping`:

* `rosinality`: rosinality/stylegan2-pytorch `.pt` checkpoints;
* `nvidia_pytorch`: NVIDIA stylegan2-ada-pytorch / stylegan3 `.pkl`;
* `nvidia_tf`: NVIDIA TensorFlow stylegan2 `.pkl`.

Conventions:

* mapping W_i: rosinality `style.{i+1}.weight` (transposed), NVIDIA
  `mapping.fc{i}.weight` (transposed), TF `Dense{i}/weight`;
* const: `input.input`, `synthesis.b4.const`, `4x4/Const/const`;
* conv kernels: PyTorch OIHW -> HWIO, the up-conv kernel flipped
  spatially; TF is already HWIO in correlation orientation (no flip);
* affine (style) bias: PyTorch as stored (it has StyleGAN2's +1); TF
  `mod_bias` + 1;
* noise buffers: `noises.noise_{n}`, `b{R}.conv{0,1}.noise_const`,
  `noise{n}`.

The architecture is inferred from tensor shapes (and NVIDIA's init kwargs /
TF's static kwargs for what shapes cannot tell: conv_clamp, mapping lr
multiplier). FIR buffers stored in the files are derived values: they are
checked against the filter the generator uses, then dropped.
"""

from __future__ import annotations

from typing import Any

from stylegan_seg_jax.convert import nvidia_pytorch
from stylegan_seg_jax.convert import nvidia_tf
from stylegan_seg_jax.convert import rosinality
from stylegan_seg_jax.convert.stand_ins import TFNetwork
from stylegan_seg_jax.convert.tensor_mapping import FORMATS
from stylegan_seg_jax.convert.tensor_mapping import ConversionError
from stylegan_seg_jax.convert.tensor_mapping import Converted
from stylegan_seg_jax.convert.tensor_mapping import SourceFormat

__all__ = ['detect_format', 'convert_object']


def detect_format(obj: Any) -> SourceFormat:
  """Recognises the checkpoint format from the unpickled object."""
  if isinstance(obj, dict):
    if 'G_ema' in obj:
      return 'nvidia'
    if 'g_ema' in obj or 'style.1.weight' in obj:
      return 'rosinality'
  if isinstance(obj, (tuple, list)) and any(
      isinstance(n, TFNetwork) for n in obj):
    return 'tf'
  raise ConversionError(
      'unknown checkpoint format: expected a rosinality .pt (g_ema), an '
      'NVIDIA .pkl (G_ema) or a TF .pkl (G, D, Gs)')


def convert_object(obj: Any, fmt: str = 'auto') -> Converted:
  """Maps an unpickled checkpoint onto the Flax variable tree.

  Args:
    obj: result of `readers.read_checkpoint_file`.
    fmt: 'auto' or one of 'rosinality', 'nvidia', 'tf'.

  Returns:
    The `Converted` result at the source's resolution.
  """
  found = detect_format(obj)
  if fmt not in ('auto',) + FORMATS:
    raise ConversionError(f'unknown --format {fmt!r}; use auto, '
                          + ', '.join(FORMATS))
  if fmt != 'auto' and fmt != found:
    raise ConversionError(f'the file is a {found} checkpoint, not {fmt}')
  return {'rosinality': rosinality.convert, 'nvidia': nvidia_pytorch.convert,
          'tf': nvidia_tf.convert}[found](obj)
