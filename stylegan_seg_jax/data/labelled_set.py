"""Labelled generator samples as a TFDS dataset (ArrayRecord, no TensorFlow).

Each example is one generated sample with its integer part mask:

| feature | type | meaning |
|---|---|---|
| `seed` | int64 | the sample's seed (-1 when it came from elsewhere) |
| `z` | float32 [z_dim] | the input latent (zeros when unknown) |
| `w` | float32 [w_dim] or [num_ws, w_dim] | the latent of the image |
| `mask` | uint8 [R, R] | class id per pixel |
| `image` | uint8 [R, R, 3] | the generated image when the set was written |

`w` is stored untruncated (the generator input before truncation); the
images were made from `truncate(w, w_avg, psi)` with the psi recorded in the
metadata key `truncation_psi`. The class names, the generator's description
and any provenance are in the dataset's metadata (`info.metadata`). The files
need nothing of this package to be read:

    import tensorflow_datasets as tfds
    ds = tfds.builder_from_directory(DIR).as_data_source('test')
    example = ds[0]   # dict of numpy arrays

The one labelled training example is a single `.npz` file instead
(`OneShotExample`, `save_example`, `load_example`), with the keys

| key | type | meaning |
|---|---|---|
| `format` | str | `ONE_SHOT_FORMAT` |
| `w` | float32 [w_dim] or [num_ws, w_dim] | untruncated latent |
| `psi` | float64 scalar | truncation applied with the generator's w_avg |
| `mask` | uint8 [R, R] | class id per pixel |
| `class_names` | str [C] | name of each class id |
| `seed` | int64 scalar | the z seed (-1 when unknown) |
| `image` | uint8 [R, R, 3] (optional) | the generated image |

readable with plain `numpy.load(path)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import dataclasses
import io
import math
import os
import pathlib
from typing import Any
import zipfile

import numpy as np
import tensorflow_datasets as tfds

from stylegan_seg_jax.runtime import files

__all__ = ['features', 'LabelledSamplesConfig', 'LabelledSamples', 'write',
           'read',
           'OneShotExample', 'save_example', 'load_example']

VERSION = '1.0.0'
ONE_SHOT_FORMAT = 'stylegan_seg_jax.one_shot_example.v1'


def features(resolution: int, z_dim: int, w_shape: tuple[int, ...], *,
             uncertainty: bool = False) -> tfds.features.FeaturesDict:
  """The feature spec of a labelled-samples example (table above).

  Args:
    resolution: image and mask size R.
    z_dim: size of `z`.
    w_shape: shape of `w`.
    uncertainty: add a float32 scalar `uncertainty` (datasets written by
      `stages.generation`: the segmenter's per-image uncertainty).
  """
  r = resolution
  zlib = tfds.features.Encoding.ZLIB
  spec = {
      'seed': tfds.features.Scalar(np.int64),
      'z': tfds.features.Tensor(shape=(z_dim,), dtype=np.float32),
      'w': tfds.features.Tensor(shape=tuple(w_shape), dtype=np.float32),
      'mask': tfds.features.Tensor(shape=(r, r), dtype=np.uint8,
                                   encoding=zlib),
      'image': tfds.features.Tensor(shape=(r, r, 3), dtype=np.uint8,
                                    encoding=zlib),
  }
  if uncertainty:
    spec['uncertainty'] = tfds.features.Scalar(np.float32)
  return tfds.features.FeaturesDict(spec)


@dataclasses.dataclass(eq=False)
class LabelledSamplesConfig(tfds.core.BuilderConfig):
  """Shapes and class names of one labelled-samples dataset.

  Attributes:
    resolution: image and mask size.
    z_dim: size of `z`.
    w_shape: shape of `w`: (w_dim,) or (num_ws, w_dim).
    class_names: name of each mask class id.
    metadata: JSON-serialisable provenance (generator, `truncation_psi`,
      ...).
  """

  resolution: int = 0
  z_dim: int = 0
  w_shape: tuple[int, ...] = ()
  class_names: tuple[str, ...] = ()
  metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class LabelledSamples(tfds.core.GeneratorBasedBuilder):
  """Builder of labelled generator samples; examples are given in memory."""

  VERSION = tfds.core.Version(VERSION)

  def __init__(self, *,
               examples: Mapping[str, list[dict[str, Any]]] | None = None,
               **kwargs):
    """Creates the builder, with the rows `download_and_prepare` writes.

    Args:
      examples: split name -> list of examples (none when only reading).
      **kwargs: `tfds.core.GeneratorBasedBuilder` arguments.
    """
    self._examples = examples or {}
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    # `write` always builds this builder with its own config class.
    assert isinstance(cfg, LabelledSamplesConfig)
    return tfds.core.DatasetInfo(
        builder=self,
        description=f'Labelled generator samples ({cfg.name}).',
        features=features(cfg.resolution, cfg.z_dim, cfg.w_shape),
        metadata=tfds.core.MetadataDict(
            class_names=list(cfg.class_names), **dict(cfg.metadata)),
        disable_shuffling=True,  # examples stay in the order written
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(rows)
            for split, rows in self._examples.items()}

  def _generate_examples(self, rows: Iterable[dict[str, Any]]):
    yield from enumerate(rows)


def write(data_dir: str | os.PathLike[str], name: str,
          splits: Mapping[str, list[dict[str, Any]]], *, resolution: int,
          z_dim: int, w_shape: tuple[int, ...], class_names: Iterable[str],
          metadata: Mapping[str, Any] | None = None) -> pathlib.Path:
  """Writes a labelled-samples dataset; returns the directory to read it from.

  Args:
    data_dir: TFDS data directory (created if needed).
    name: dataset (builder config) name, e.g. 'toy_faces'.
    splits: split name -> list of examples (dicts with the features above).
    resolution: image and mask size R.
    z_dim: size of `z`.
    w_shape: shape of `w`: (w_dim,) or (num_ws, w_dim).
    class_names: name of each mask class id.
    metadata: JSON-serialisable provenance. Expected keys: `truncation_psi`
      (the psi the images were made with from the stored, untruncated `w`;
      readers that re-render samples use it) and `generator` (a description
      of the generator); anything else (noise mode, seeds, source files) is
      free-form.

  Returns:
    `data_dir/labelled_samples/<name>/<version>`, the directory for
    `tfds.builder_from_directory`.
  """
  names = tuple(class_names)
  for split, rows in splits.items():
    for row in rows:
      if int(np.max(row['mask'])) >= len(names):
        raise ValueError(f'{split}: mask class id {int(np.max(row["mask"]))} '
                         f'out of range for {len(names)} classes')
  config = LabelledSamplesConfig(
      name=name, version=VERSION, resolution=resolution, z_dim=z_dim,
      w_shape=tuple(w_shape), class_names=names, metadata=dict(metadata or {}))
  builder = LabelledSamples(examples=splits, config=config,
                            data_dir=os.fspath(data_dir),
                            file_format='array_record')
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(try_download_gcs=False))
  return files.as_path(builder.data_dir)


def read(directory: str | os.PathLike[str], split: str):
  """(random-access data source, class names, metadata) of a written dataset."""
  builder = tfds.builder_from_directory(os.fspath(directory))
  meta = dict(builder.info.metadata or {})
  # wrapt's typing of tfds's logging decorator drops `split` from the
  # method's signature, as if it were `self`.
  source = builder.as_data_source(
      split=split)  # pyright: ignore[reportCallIssue]
  return source, tuple(meta.get('class_names', ())), meta


@dataclasses.dataclass(frozen=True, eq=False)
class OneShotExample:
  """The one labelled example a segmentor is trained from.

  Construction checks and normalises the fields (arrays become numpy arrays
  of the stated dtypes) and raises ValueError on bad shapes or class ids.

  Attributes:
    w: float32 [w_dim] or W+ [num_ws, w_dim], untruncated (the generator
      input before truncation).
    psi: truncation to apply with the generator's w_avg to get the image.
    mask: uint8 [R, R] class id per pixel, each < len(class_names).
    class_names: name of each class id.
    seed: the seed of z (`stylegan2.z_from_seeds`), -1 if unknown.
    image: uint8 [R, R, 3], the generated image (for pictures and checks), or
      None.
  """

  w: np.ndarray
  psi: float
  mask: np.ndarray
  class_names: tuple[str, ...]
  seed: int = -1
  image: np.ndarray | None = None

  def __post_init__(self):
    """Checks and normalises the fields (see the class docstring)."""
    w = np.asarray(self.w)
    if w.ndim not in (1, 2) or w.size == 0:
      raise ValueError(f'w must be [w_dim] or [num_ws, w_dim], got shape '
                       f'{w.shape}')
    if not np.issubdtype(w.dtype, np.floating):
      raise ValueError(f'w must be floating point, got {w.dtype}')
    w = w.astype(np.float32)
    if not np.all(np.isfinite(w)):
      raise ValueError('w has non-finite values')
    psi = float(self.psi)
    if not math.isfinite(psi):
      raise ValueError(f'psi must be finite, got {psi}')
    names = tuple(str(n) for n in self.class_names)
    if not names or not all(names) or len(set(names)) != len(names):
      raise ValueError(f'class_names must be non-empty and unique, got '
                       f'{list(names)}')
    mask = np.asarray(self.mask)
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1] or mask.size == 0:
      raise ValueError(f'mask must be [R, R], got shape {mask.shape}')
    if not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == bool):
      raise ValueError(f'mask must hold integer class ids, got {mask.dtype}')
    if mask.min() < 0 or mask.max() >= len(names):
      bad = int(mask.min()) if mask.min() < 0 else int(mask.max())
      raise ValueError(f'mask class id {bad} out of range for '
                       f'{len(names)} classes')
    mask = mask.astype(np.uint8)
    image = self.image
    if image is not None:
      image = np.asarray(image)
      if image.shape != mask.shape + (3,) or image.dtype != np.uint8:
        raise ValueError(f'image must be uint8 {mask.shape + (3,)}, got '
                         f'{image.dtype} {image.shape}')
    object.__setattr__(self, 'w', w)
    object.__setattr__(self, 'psi', psi)
    object.__setattr__(self, 'mask', mask)
    object.__setattr__(self, 'class_names', names)
    object.__setattr__(self, 'seed', int(self.seed))
    object.__setattr__(self, 'image', image)

  @property
  def resolution(self) -> int:
    """The mask (and image) size R."""
    return int(self.mask.shape[0])


_EXAMPLE_KEYS = ('format', 'w', 'psi', 'mask', 'class_names', 'seed')


def save_example(path: str | os.PathLike[str], example: OneShotExample, *,
                 overwrite: bool = False) -> pathlib.Path:
  """Writes a one-shot example as a single `.npz` file, atomically.

  The file is written next to `path` under a temporary name and renamed, so
  `path` is either absent, the old file or the complete new one.

  Args:
    path: output file (conventionally `*.npz`; no suffix is added).
    example: the example.
    overwrite: replace an existing file; otherwise refuse.

  Returns:
    The path written.

  Raises:
    FileExistsError: `path` exists and `overwrite` is False.
  """
  path = pathlib.Path(path)
  arrays: dict[str, Any] = dict(
      format=np.array(ONE_SHOT_FORMAT), w=example.w,
      psi=np.array(example.psi, np.float64), mask=example.mask,
      class_names=np.array(example.class_names, dtype=str),
      seed=np.array(example.seed, np.int64))
  if example.image is not None:
    arrays['image'] = example.image
  with files.atomic_file(path, overwrite=overwrite) as tmp:
    with open(tmp, 'wb') as f:
      np.savez(f, **arrays)
  return path


def load_example(path: str | os.PathLike[str]) -> OneShotExample:
  """Reads a file written by `save_example`.

  Raises:
    ValueError: not a one-shot example file, a missing key, bad shapes or
      class ids out of range (the message names the file).
    OSError: the file cannot be read.
  """
  src = files.as_path(path)
  try:
    data = np.load(io.BytesIO(src.read_bytes()) if files.is_url(src)
                   else src, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
      raise ValueError('a single array, not an .npz archive')
    with data:
      arrays = {k: data[k] for k in data.files}
  except (ValueError, EOFError, zipfile.BadZipFile) as e:
    raise ValueError(f'{src}: not a one-shot example file ({e})') from None
  missing = [k for k in _EXAMPLE_KEYS if k not in arrays]
  if missing:
    raise ValueError(f'{src}: not a one-shot example file: missing key(s) '
                     f'{missing}')
  if str(arrays['format']) != ONE_SHOT_FORMAT:
    raise ValueError(f'{src}: unsupported format {str(arrays["format"])!r} '
                     f'(expected {ONE_SHOT_FORMAT!r})')
  for key in ('psi', 'seed'):
    if arrays[key].shape != ():
      raise ValueError(f'{src}: {key} must be a scalar, got shape '
                       f'{arrays[key].shape}')
  if arrays['class_names'].ndim != 1 or arrays['class_names'].dtype.kind != 'U':
    raise ValueError(f'{src}: class_names must be a 1-D string array')
  try:
    return OneShotExample(
        w=arrays['w'], psi=float(arrays['psi']), mask=arrays['mask'],
        class_names=tuple(arrays['class_names'].tolist()),
        seed=int(arrays['seed']), image=arrays.get('image'))
  except ValueError as e:
    raise ValueError(f'{src}: {e}') from None
