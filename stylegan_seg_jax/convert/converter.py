"""Converts a checkpoint file into a converted-generator directory.

`convert_file` reads the file with the restricted readers (`readers`), maps
it onto the Flax variable tree (`formats`), estimates w_avg when the source
has none, optionally drops the blocks above a resolution, and writes the
directory atomically (`stylegan2.save`). `convert_weights.py` is its CLI.
"""

from __future__ import annotations

from collections.abc import Callable
import os
import pathlib

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.convert import formats
from stylegan_seg_jax.convert import readers
from stylegan_seg_jax.runtime import files

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
) -> stylegan2.GeneratorConfig:
  """Converts a checkpoint file into a generator directory (atomically).

  Args:
    src: rosinality `.pt`, NVIDIA `.pkl` or TF `.pkl` file.
    out: output directory (`generator.json` + orbax `variables/`).
    fmt: 'auto', 'rosinality', 'nvidia' or 'tf'.
    resolution: keep only the blocks up to this resolution.
    overwrite: replace an existing output directory.
    w_avg_seed: seed of the w_avg estimate when the source has none.
    log: progress callback.

  Returns:
    The written config.

  Raises:
    FileNotFoundError: `src` does not exist.
    FileExistsError: `out` exists and `overwrite` is False.
    ValueError (ConversionError, CheckpointReadError): bad input.
  """
  src = pathlib.Path(src)
  if not src.is_file():
    raise FileNotFoundError(f'no such checkpoint file: {src}')
  out = pathlib.Path(out)
  if out.exists() and (not out.is_dir() or any(out.iterdir())) and (
      not overwrite):
    raise FileExistsError(f'{out} already exists (pass --overwrite to replace)')
  log(f'reading {src}')
  obj = readers.read_checkpoint_file(src)
  conv = formats.convert_object(obj, fmt)
  config = conv.config
  log(f'{conv.format} checkpoint: {config.resolution}x{config.resolution}, '
      f'channels {dict(config.channels)}, mapping {config.mapping_layers} '
      f'layers, conv_clamp {config.conv_clamp}')
  if resolution is not None:
    if resolution > config.resolution:
      raise formats.ConversionError(
          f'requested resolution {resolution} is above the '
          f"checkpoint's {config.resolution}")
    if resolution < 4 or resolution & (resolution - 1):
      raise formats.ConversionError(
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
