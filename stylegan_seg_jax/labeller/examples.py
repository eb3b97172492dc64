"""The labelled examples of a session: the record, where they start, the draft.

An example is a generated sample (seed, untruncated latent, truncation) and
its painted class-id mask. A session starts from the autosaved draft
(`WORKDIR/labeller/draft.npz`), else from labelled example files (a labels
directory or one example file, as `save` writes them), else from a random
sample; every change is autosaved to the draft, atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
from typing import Any

import numpy as np

from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.labeller.refusals import RequestError
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import messages
from stylegan_seg_jax.stages import config as config_lib

__all__ = ['Example', 'DRAFT_FILE', 'LABELS_DIR', 'MAX_EXAMPLES', 'MAX_SEED',
           'check_seed', 'restore', 'load_files', 'load_draft', 'save_draft',
           'examples_key', 'to_one_shot']

# The autosaved draft, under the workdir.
DRAFT_FILE = pathlib.Path('labeller') / 'draft.npz'
# Where `save` writes the labelled examples, under the workdir.
LABELS_DIR = 'labels'
MAX_EXAMPLES = 32  # labelled examples in one session
MAX_SEED = 2**31 - 1
_DRAFT_FORMAT = 'stylegan_seg_jax.labeller_draft.v1'


@dataclasses.dataclass
class Example:
  """A generated sample and its painted class-id mask.

  Attributes:
    seed: z seed (`stylegan2.z_from_seeds`), -1 when the latent came from an
      imported example.
    w: untruncated latent [w_dim] or W+ [num_ws, w_dim], float32.
    psi: truncation applied to make the image.
    mask: uint8 [R, R] class ids.
  """

  seed: int
  w: np.ndarray
  psi: float
  mask: np.ndarray


def check_seed(seed: Any) -> int:
  """A valid sample seed, or RequestError."""
  if isinstance(seed, bool) or not isinstance(seed, int) or not (
      0 <= seed <= MAX_SEED):
    raise RequestError(f'seed must be an integer in 0..{MAX_SEED}, got '
                       f'{messages.quote(seed)}')
  return seed


def restore(source: str | None, draft_path: pathlib.Path,
            labels_dir: pathlib.Path, class_names: tuple[str, ...],
            resolution: int) -> tuple[list[Example], int, str] | None:
  """A session's starting examples.

  Args:
    source: a labels directory or example file to start from, or None: the
      draft, else the labels in `labels_dir`.
    draft_path: the autosaved draft.
    labels_dir: where `save` writes the labels.
    class_names: the config's class names; the examples must have them.
    resolution: the generator's resolution; the masks must have it.

  Returns:
    (examples, index of the current one, where they came from), or None
    when there is nothing to start from (no source, draft or labels).

  Raises:
    config_lib.ConfigError: the draft or the example files are unusable.
  """
  if source is None and draft_path.is_file():
    examples, current = load_draft(draft_path, class_names, resolution)
    return examples, current, str(draft_path)
  start = source if source is not None else (
      labels_dir if experiment.example_files(labels_dir) else None)
  if start is None:
    return None
  return load_files(start, class_names, resolution), 0, str(start)


def load_files(source: str | os.PathLike[str],
               class_names: tuple[str, ...],
               resolution: int) -> list[Example]:
  """The examples of a labels directory or of one example file.

  Args:
    source: the directory (its `experiment.example_files`) or the file.
    class_names: the config's class names; the examples must have them.
    resolution: the generator's resolution; the masks must have it.

  Returns:
    The examples, in file order.

  Raises:
    config_lib.ConfigError: no example there, more than MAX_EXAMPLES, or an
      unreadable or mismatched one.
  """
  path = pathlib.Path(source)
  paths = experiment.example_files(path) if path.is_dir() else [path]
  if not paths or not paths[0].is_file():
    raise config_lib.ConfigError(f'{source}: no labelled example there')
  if len(paths) > MAX_EXAMPLES:
    raise config_lib.ConfigError(
        f'{source}: {len(paths)} examples; the labeller takes at most '
        f'{MAX_EXAMPLES}')
  try:
    return [_from_file(labelled_set.load_example(p), str(p), class_names,
                       resolution) for p in paths]
  except ValueError as e:
    raise config_lib.ConfigError(str(e)) from None


def _from_file(e: labelled_set.OneShotExample, where: str,
               class_names: tuple[str, ...], resolution: int) -> Example:
  if e.class_names != class_names:
    raise config_lib.ConfigError(
        f'{where}: class names {list(e.class_names)} differ from the '
        f"config's {list(class_names)}")
  if e.mask.shape != (resolution, resolution):
    raise config_lib.ConfigError(
        f'{where}: mask {e.mask.shape} does not match the generator '
        f'resolution {resolution}')
  return Example(e.seed, e.w, e.psi, e.mask.copy())


def load_draft(path: pathlib.Path, class_names: tuple[str, ...],
               resolution: int) -> tuple[list[Example], int]:
  """The examples of an autosaved draft and the index of the current one.

  Raises:
    config_lib.ConfigError: the draft is unreadable, of another format, or
      does not match the class names or the resolution.
  """
  try:
    return _read_draft(path, class_names, resolution)
  except (ValueError, KeyError, OSError) as e:
    raise config_lib.ConfigError(
        f'{path}: unreadable draft ({messages.one_line(e)}); move it away to '
        'start afresh') from None


def _read_draft(path: pathlib.Path, class_names: tuple[str, ...],
                resolution: int) -> tuple[list[Example], int]:
  with np.load(path, allow_pickle=False) as data:
    if str(data['format']) != _DRAFT_FORMAT:
      raise ValueError(f'format {messages.quote(str(data["format"]))}')
    names = tuple(data['class_names'].tolist())
    if names != class_names:
      raise ValueError(f'class names {list(names)} differ from the '
                       f"config's {list(class_names)}")
    masks = data['masks']
    if masks.ndim != 3 or masks.shape[1:] != (resolution,) * 2:
      raise ValueError(f'masks of shape {masks.shape}')
    examples = []
    for i, mask in enumerate(masks):
      e = labelled_set.OneShotExample(
          w=data[f'w{i}'], psi=float(data['psi'][i]), mask=mask,
          class_names=names, seed=int(data['seeds'][i]))
      examples.append(Example(e.seed, e.w, e.psi, e.mask.copy()))
    current = int(data['current'])
  if not examples:
    raise ValueError('no examples')
  return examples, min(max(current, 0), len(examples) - 1)


def save_draft(path: pathlib.Path, examples: list[Example],
               class_names: tuple[str, ...], current: int) -> None:
  """Writes the draft atomically: what `load_draft` reads back."""
  arrays = {'format': np.array(_DRAFT_FORMAT),
            'class_names': np.array(class_names, dtype=str),
            'seeds': np.array([e.seed for e in examples], np.int64),
            'psi': np.array([e.psi for e in examples], np.float64),
            'masks': np.stack([e.mask for e in examples]),
            'current': np.array(current, np.int64)}
  for i, e in enumerate(examples):
    arrays[f'w{i}'] = e.w
  with files.atomic_file(path) as tmp:
    with open(tmp, 'wb') as f:
      np.savez(f, **arrays)


def examples_key(examples: list[Example]) -> str:
  """A digest of the examples' latents, truncations and masks."""
  h = hashlib.sha256()
  for e in examples:
    h.update(e.w.tobytes() + str(e.psi).encode() + e.mask.tobytes())
  return h.hexdigest()


def to_one_shot(e: Example, class_names: tuple[str, ...]
                ) -> labelled_set.OneShotExample:
  """The example as the one-shot stage reads it (no image)."""
  return labelled_set.OneShotExample(w=e.w, psi=e.psi, mask=e.mask,
                                     class_names=class_names, seed=e.seed)
