"""The converted-generator directory: `generator.json` plus orbax `variables/`.

    DIR/generator.json   {"format_version": 1, "config": ..., "metadata": ...}
    DIR/variables/       orbax checkpoint of {'params', 'buffers'}

`save` writes it atomically (a scratch directory renamed into place);
`load` reads it back as a `Generator`, optionally run only up to a lower
resolution. `docs/formats.md` documents the layout.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.stylegan2.generator import Generator
from stylegan_seg_jax.stylegan2.generator import abstract_variables
from stylegan_seg_jax.stylegan2.generator import prune_to_resolution
from stylegan_seg_jax.stylegan2.networks import GeneratorConfig
from stylegan_seg_jax.stylegan2.networks import StyleGAN2

__all__ = ['save', 'load', 'CONFIG_FILE', 'VARIABLES_DIR', 'FORMAT_VERSION']

CONFIG_FILE = 'generator.json'
VARIABLES_DIR = 'variables'
FORMAT_VERSION = 1


def save(path: str | os.PathLike[str], config: GeneratorConfig,
         variables: Any, metadata: Mapping[str, Any] | None = None,
         *, overwrite: bool = False) -> None:
  """Writes a converted-checkpoint directory, atomically.

  Layout: `generator.json` (format version, architecture, metadata) and
  `variables/` (an orbax checkpoint of `{'params', 'buffers'}`).

  Args:
    path: output directory; refused if it exists and is non-empty, unless
      `overwrite`.
    config: the architecture of `variables`.
    variables: the variable tree; must match `StyleGAN2(config)` exactly.
    metadata: JSON-serialisable provenance.
    overwrite: replace an existing directory.
  """
  _check_tree(variables, abstract_variables(config))
  variables = jax.tree.map(lambda a: np.asarray(a, np.float32), variables)
  doc = {'format_version': FORMAT_VERSION, 'config': config.to_json(),
         'metadata': dict(metadata or {})}
  with files.atomic_directory(path, overwrite=overwrite,
                              last=(CONFIG_FILE,)) as tmp:
    checkpointing.save_pytree(tmp / VARIABLES_DIR, variables)
    (tmp / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True))


def load(path: str | os.PathLike[str],
         resolution: int | None = None) -> Generator:
  """Loads a converted-generator directory.

  Args:
    path: directory written by `stylegan-seg convert` or `save`.
    resolution: run only the blocks up to this resolution (<= the
      checkpoint's); the image is then that block's skip-RGB output, as the
      paper's code does with the 1024 FFHQ model at 256.

  Returns:
    The `Generator`.

  Raises:
    FileNotFoundError: not a converted-checkpoint directory.
    ValueError: bad resolution or unsupported format version.
  """
  root = files.as_path(path)
  cfg_file = root / CONFIG_FILE
  if not cfg_file.is_file():
    raise FileNotFoundError(
        f'{root} is not a converted generator directory (no {CONFIG_FILE}); '
        'create one with stylegan-seg convert')
  doc = json.loads(cfg_file.read_text())
  if doc.get('format_version') != FORMAT_VERSION:
    raise ValueError(f'{cfg_file}: unsupported format_version '
                     f'{doc.get("format_version")!r}')
  config = GeneratorConfig.from_json(doc['config'])
  variables = checkpointing.restore_pytree(root / VARIABLES_DIR,
                                        abstract_variables(config))
  if resolution is not None and resolution != config.resolution:
    if resolution > config.resolution or resolution < 4 or (
        resolution & (resolution - 1)):
      raise ValueError(
          f'resolution {resolution} must be a power of two in '
          f'[4, {config.resolution}] for this checkpoint')
    config = config.replace(resolution=resolution)
    variables = prune_to_resolution(variables, resolution)
  variables = jax.tree.map(jnp.asarray, variables)
  return Generator(StyleGAN2(config), variables, config,
                   dict(doc.get('metadata', {})))


def _check_tree(tree: Any, reference: Any) -> None:
  """Raises ValueError naming missing, extra or mis-shaped variables."""
  got = {jax.tree_util.keystr(k): np.shape(v)
         for k, v in jax.tree_util.tree_leaves_with_path(tree)}
  want = {jax.tree_util.keystr(k): tuple(v.shape)
          for k, v in jax.tree_util.tree_leaves_with_path(reference)}
  missing = sorted(set(want) - set(got))
  extra = sorted(set(got) - set(want))
  bad = sorted(k for k in set(got) & set(want) if got[k] != want[k])
  if missing or extra or bad:
    parts = []
    if missing:
      parts.append(f'missing {missing[:5]}')
    if extra:
      parts.append(f'unexpected {extra[:5]}')
    if bad:
      parts.append('shape mismatch ' + ', '.join(
          f'{k}: {got[k]} vs {want[k]}' for k in bad[:5]))
    raise ValueError('variables do not match the architecture: '
                     + '; '.join(parts))
