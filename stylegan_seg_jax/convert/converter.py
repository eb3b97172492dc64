"""Converts a checkpoint file into a converted-generator directory.

`convert_file` reads the file with the restricted readers (`readers`), maps
it onto the Flax variable tree (`formats`), estimates w_avg when the source
has none, optionally drops the blocks above a resolution, and writes the
directory atomically (`stylegan2.save`). `convert_weights.py` is its CLI.

The file is untrusted: whatever goes wrong while reading and mapping it is
reported as one `ValueError` line (docs/formats.md, "Hostile files"). JAX is
imported only once the file has been read, so a bad file is refused fast.
"""

from __future__ import annotations

from collections.abc import Callable
import os
import pathlib
from typing import Any

import numpy as np

from stylegan_seg_jax.convert import readers
from stylegan_seg_jax.convert.bounds import CheckpointReadError
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime.messages import quote

__all__ = ['convert_file']


def convert_file(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fmt: str = 'auto',
    resolution: int | None = None,
    overwrite: bool = False,
    w_avg_seed: int = 0,
    log: Callable[[str], None] = lambda msg: None,
) -> Any:
  """Converts a checkpoint file into a generator directory (atomically).

  Args:
    src: rosinality `.pt`, NVIDIA `.pkl` or TF `.pkl` file.
    out: output directory (`generator.json` + orbax `variables/`); a
      symbolic link is refused.
    fmt: 'auto', 'rosinality', 'nvidia' or 'tf'.
    resolution: keep only the blocks up to this resolution.
    overwrite: replace an existing output directory.
    w_avg_seed: seed of the w_avg estimate when the source has none.
    log: progress callback.

  Returns:
    The written `stylegan2.GeneratorConfig`.

  Raises:
    FileNotFoundError: `src` does not exist.
    FileExistsError: `out` exists and `overwrite` is False (also when it
      appears while converting), or is not a directory or a link.
    ValueError (ConversionError, CheckpointReadError): bad input.
  """
  src = pathlib.Path(src)
  if not src.exists():
    raise FileNotFoundError(f'no such checkpoint file: {src}')
  if not src.is_file():
    raise CheckpointReadError(f'{src} is not a regular file')
  out = files.check_output_directory(out, overwrite=overwrite)
  log(f'reading {src}')
  try:
    obj = readers.read_checkpoint_file(src)
    from stylegan_seg_jax.convert import formats  # pylint: disable=g-import-not-at-top
    from stylegan_seg_jax.convert.tensor_mapping import ConversionError  # pylint: disable=g-import-not-at-top
    with np.errstate(all='ignore'):  # bad values are refused, not warned
      conv = formats.convert_object(obj, fmt)
  except ValueError:
    raise  # CheckpointReadError, ConversionError: already one clear line
  except Exception as e:  # pylint: disable=broad-except
    # The file's structure is not what the format writes (a wrong type, a
    # missing key, ...): name the problem, never echo the file's values.
    raise CheckpointReadError(
        f'{quote(src.name)} is not a well-formed checkpoint '
        f'({type(e).__name__}: {quote(str(e), 160)})') from None
  del obj
  from stylegan_seg_jax import stylegan2  # pylint: disable=g-import-not-at-top
  config = conv.config
  log(f'{conv.format} checkpoint: {config.resolution}x{config.resolution}, '
      f'channels {dict(config.channels)}, mapping {config.mapping_layers} '
      f'layers, conv_clamp {config.conv_clamp}')
  if resolution is not None:
    if resolution > config.resolution:
      raise ConversionError(
          f'requested resolution {resolution} is above the '
          f"checkpoint's {config.resolution}")
    if resolution < 4 or resolution & (resolution - 1):
      raise ConversionError(
          f'resolution must be a power of two >= 4, got {resolution}')
  variables = conv.variables
  if conv.w_avg_source is None:
    log(f'no average latent in the source: estimating it from '
        f'{stylegan2.W_AVG_SAMPLES} mapped samples (seed {w_avg_seed})')
    variables['buffers']['mapping']['w_avg'] = stylegan2.estimate_w_avg(
        config, variables, stylegan2.W_AVG_SAMPLES, w_avg_seed)
    w_avg = {'source': 'estimated', 'num_samples': stylegan2.W_AVG_SAMPLES,
             'seed': w_avg_seed}
  else:
    w_avg = {'source': 'checkpoint', 'tensor': conv.w_avg_source}
  source_resolution = config.resolution
  if resolution is not None and resolution != config.resolution:
    config = config.replace(resolution=resolution)
    variables = stylegan2.prune_to_resolution(variables, resolution)
  metadata = {
      'source_format': conv.format,
      'source_file': src.name,
      'source_sha256': files.sha256_file(src),
      'source_resolution': source_resolution,
      'w_avg': w_avg,
  }
  stylegan2.save(out, config, variables, metadata, overwrite=overwrite)
  log(f'wrote {out}')
  return config
