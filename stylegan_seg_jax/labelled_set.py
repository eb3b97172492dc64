"""Labelled generator samples as a TFDS dataset (ArrayRecord, no TensorFlow).

Each example is one generated sample with its integer part mask:

| feature | type | meaning |
|---|---|---|
| `seed` | int64 | the sample's seed (-1 when it came from elsewhere) |
| `z` | float32 [z_dim] | the input latent (zeros when unknown) |
| `w` | float32 [w_dim] or [num_ws, w_dim] | the latent the image was made from |
| `mask` | uint8 [R, R] | class id per pixel |
| `image` | uint8 [R, R, 3] | the generated image when the set was written |

The class names, the generator's description and any provenance are in the
dataset's metadata (`info.metadata`). The files need nothing of this package
to be read:

    import tensorflow_datasets as tfds
    ds = tfds.builder_from_directory(DIR).as_data_source('test')
    example = ds[0]   # dict of numpy arrays
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

__all__ = ['LabelledSamplesConfig', 'LabelledSamples', 'write', 'read']

VERSION = '1.0.0'


@dataclasses.dataclass(eq=False)
class LabelledSamplesConfig(tfds.core.BuilderConfig):
  """Shapes and class names of one labelled-samples dataset.

  Attributes:
    resolution: image and mask size.
    z_dim: size of `z`.
    w_shape: shape of `w`: (w_dim,) or (num_ws, w_dim).
    class_names: name of each mask class id.
    metadata: JSON-serialisable provenance (generator, truncation, ...).
  """

  resolution: int = 0
  z_dim: int = 0
  w_shape: tuple[int, ...] = ()
  class_names: tuple[str, ...] = ()
  metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class LabelledSamples(tfds.core.GeneratorBasedBuilder):
  """Builder of labelled generator samples; examples are given in memory."""

  VERSION = tfds.core.Version(VERSION)

  def __init__(self, *, examples: Mapping[str, list[dict[str, Any]]] | None = None,
               **kwargs):
    self._examples = examples or {}
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    r = cfg.resolution
    zlib = tfds.features.Encoding.ZLIB
    return tfds.core.DatasetInfo(
        builder=self,
        description=f'Labelled generator samples ({cfg.name}).',
        features=tfds.features.FeaturesDict({
            'seed': tfds.features.Scalar(np.int64),
            'z': tfds.features.Tensor(shape=(cfg.z_dim,), dtype=np.float32),
            'w': tfds.features.Tensor(shape=tuple(cfg.w_shape),
                                      dtype=np.float32),
            'mask': tfds.features.Tensor(shape=(r, r), dtype=np.uint8,
                                         encoding=zlib),
            'image': tfds.features.Tensor(shape=(r, r, 3), dtype=np.uint8,
                                          encoding=zlib),
        }),
        metadata=tfds.core.MetadataDict(
            class_names=list(cfg.class_names), **dict(cfg.metadata)),
        disable_shuffling=True,  # examples stay in the order written
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(rows)
            for split, rows in self._examples.items()}

  def _generate_examples(self, rows: Iterable[dict[str, Any]]):
    for i, row in enumerate(rows):
      yield i, row


def write(data_dir: str | os.PathLike[str], name: str,
          splits: Mapping[str, list[dict[str, Any]]], *, resolution: int,
          z_dim: int, w_shape: tuple[int, ...], class_names: Iterable[str],
          metadata: Mapping[str, Any] | None = None) -> pathlib.Path:
  """Writes a labelled-samples dataset; returns the directory to read it from.

  Args:
    data_dir: TFDS data directory (created if needed).
    name: dataset (builder config) name, e.g. 'toy_faces'.
    splits: split name -> list of examples (dicts with the features above).
    resolution, z_dim, w_shape, class_names: the dataset's shapes and classes.
    metadata: JSON-serialisable provenance.

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
  return pathlib.Path(builder.data_dir)


def read(directory: str | os.PathLike[str], split: str):
  """(random-access data source, class names, metadata) of a written dataset."""
  builder = tfds.builder_from_directory(os.fspath(directory))
  meta = dict(builder.info.metadata or {})
  return (builder.as_data_source(split=split), tuple(meta.get('class_names', ())),
          meta)
