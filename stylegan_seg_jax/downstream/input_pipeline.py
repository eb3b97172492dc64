"""What the downstream network trains on: a labelled image source, batched.

A training source holds images and masks with random access:

* `TfdsSource`: a TFDS directory with `image` and `mask` features (what
  `generate` writes, or a labelled-samples dataset), read record by record
  as batches are drawn, so a dataset of any size streams;
* `experiment.ImageSet`: images in memory (the one labelled example;
  images drawn by a toy domain's renderer).

`batch_indices` orders the examples: a fresh permutation per epoch from
(seed, epoch), so the batch of any step is known without replaying the
ones before it and a resumed run sees the same data as an uninterrupted
one. `Prefetcher` reads the next batches on a thread. `augment` is the
jitted, on-device augmentation: horizontal flips (left/right classes
swapped), a random zoom and shift, and colour jitter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import concurrent.futures
import dataclasses
import math
import os
from typing import Any, Protocol, cast

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from stylegan_seg_jax.data import generated_set

__all__ = ['Source', 'Indices', 'TfdsSource', 'Augmentation',
           'batch_indices', 'Prefetcher', 'flip_classes', 'augment']


Indices = Sequence[int] | np.ndarray


class Source(Protocol):
  """Labelled images with random access."""

  @property
  def class_names(self) -> tuple[str, ...]:
    """The name of each class id."""
    ...

  @property
  def resolution(self) -> int:
    """Image size R."""
    ...

  @property
  def source(self) -> str:
    """Where the examples came from, in words."""
    ...

  def __len__(self) -> int:
    """The number of examples."""
    ...

  def batch(self, indices: Indices) -> tuple[np.ndarray, np.ndarray]:
    """(images [B, R, R, 3] uint8, masks [B, R, R] uint8) of `indices`."""
    ...


class TfdsSource:
  """A TFDS directory's examples, read as they are needed.

  The split is 'train' when the dataset has one, else its only split.
  `num_examples` keeps the first N (dataset order: seed order for a
  generated dataset); `drop_uncertain` then drops the most uncertain
  fraction of those by the stored per-image `uncertainty` (datasets written
  by `generate`; `generated_set.keep_confident`).
  """

  def __init__(self, directory: str | os.PathLike[str], *,
               num_examples: int = 0, drop_uncertain: float = 0.0):
    """Opens the dataset.

    Args:
      directory: a TFDS dataset directory (with dataset_info.json).
      num_examples: keep the first N examples (0: all).
      drop_uncertain: fraction in [0, 1) of the kept examples to drop, most
        uncertain first.

    Raises:
      ValueError: no dataset, no usable split, too few examples, missing
        features, or a filter on a dataset without uncertainties.
    """
    path = os.fspath(directory)
    if not os.path.isfile(os.path.join(path, 'dataset_info.json')):
      raise ValueError(f'{path}: no TFDS dataset there (expected a directory '
                       'with dataset_info.json)')
    builder = tfds.builder_from_directory(path)
    splits = list(builder.info.splits)
    if 'train' in splits:
      split = 'train'
    elif len(splits) == 1:
      split = splits[0]
    else:
      raise ValueError(f'{path}: no train split and several others '
                       f'({", ".join(splits)})')
    features = set(cast(Any, builder.info.features).keys())
    missing = [k for k in ('image', 'mask') if k not in features]
    if missing:
      raise ValueError(f'{path}: the examples lack {", ".join(missing)}')
    meta = dict(builder.info.metadata or {})
    self.class_names = tuple(str(n) for n in meta.get('class_names', ()))
    if not self.class_names:
      raise ValueError(f'{path}: metadata lacks class_names')
    # wrapt's typing of tfds's logging decorator drops `split`.
    self._data = builder.as_data_source(
        split=split)  # pyright: ignore[reportCallIssue]
    total = len(self._data)
    if not total:
      raise ValueError(f'{path}: the {split} split is empty')
    self.resolution = int(np.asarray(self._data[0]['mask']).shape[0])
    count = total if num_examples <= 0 else num_examples
    if count > total:
      raise ValueError(f'{path}: {count} examples wanted, the {split} split '
                       f'has {total}')
    kept = np.arange(count)
    if drop_uncertain:
      if not 0.0 <= drop_uncertain < 1.0:
        raise ValueError(f'drop_uncertain must be in [0, 1), got '
                         f'{drop_uncertain}')
      if 'uncertainty' not in features:
        raise ValueError(f'{path}: no per-image uncertainty stored (only '
                         'datasets written by generate have one)')
      unc = np.array([float(self._data[int(i)]['uncertainty'])
                      for i in kept], np.float64)
      kept = kept[generated_set.keep_confident(unc, drop_uncertain)]
    self._indices = kept
    dropped = (f', the {drop_uncertain:g} most uncertain dropped'
               if drop_uncertain else '')
    self.source = (f'{path} ({split}: {len(kept)} of {total} '
                        f'examples{dropped})')

  def __len__(self) -> int:
    """The number of examples kept."""
    return len(self._indices)

  def batch(self, indices: Indices) -> tuple[np.ndarray, np.ndarray]:
    """(images, masks) of kept examples `indices`."""
    rows = [self._data[int(self._indices[i])] for i in indices]
    return (np.stack([np.asarray(r['image'], np.uint8) for r in rows]),
            np.stack([np.asarray(r['mask'], np.uint8) for r in rows]))


def batch_indices(num_examples: int, batch_size: int, seed: int,
                  step: int) -> np.ndarray:
  """The examples of step `step`'s batch (0-based), in order.

  Position p = step * batch_size + j of the stream is example
  perm_e[p mod n] of epoch e = p // n, perm_e a permutation drawn from
  (seed, e): every example once per epoch, any step computable alone.
  """
  n = num_examples
  out = np.empty(batch_size, np.int64)
  perms: dict[int, np.ndarray] = {}
  for j in range(batch_size):
    p = step * batch_size + j
    epoch = p // n
    if epoch not in perms:
      perms[epoch] = np.random.default_rng([seed, epoch]).permutation(n)
    out[j] = perms[epoch][p % n]
  return out


class Prefetcher:
  """Reads the batches of steps `start`, `start + 1`, ... on a thread."""

  def __init__(self, source: Source, batch_size: int, seed: int, start: int,
               depth: int = 2):
    """Starts reading.

    Args:
      source: the examples.
      batch_size: examples per batch.
      seed: the order's seed (`batch_indices`).
      start: the first step.
      depth: batches read ahead.
    """
    self._source, self._batch, self._seed = source, batch_size, seed
    self._pool = concurrent.futures.ThreadPoolExecutor(1)
    self._next = start
    self._queue: list[concurrent.futures.Future[Any]] = []
    for _ in range(depth):
      self._submit()

  def _submit(self) -> None:
    idx = batch_indices(len(self._source), self._batch, self._seed,
                        self._next)
    self._queue.append(self._pool.submit(self._source.batch, idx))
    self._next += 1

  def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The batches in step order, without end."""
    while True:
      future = self._queue.pop(0)
      self._submit()
      yield future.result()

  def close(self) -> None:
    """Stops reading ahead."""
    for f in self._queue:
      f.cancel()
    self._pool.shutdown(wait=True)


def _mirror_name(name: str) -> str | None:
  for a, b in (('left', 'right'), ('right', 'left'), ('l', 'r'),
               ('r', 'l')):
    if name.startswith(a + '_'):
      return b + name[len(a):]
    if name.endswith('_' + a):
      return name[:-len(a)] + b
  return None


def flip_classes(class_names: Sequence[str]) -> np.ndarray:
  """Class id -> its mirror image's id: 'left_X' and 'right_X' swap.

  Likewise 'l_X' / 'r_X', 'X_left' / 'X_right' and 'X_l' / 'X_r' (when
  both exist). Every other class maps to itself.
  """
  names = list(class_names)
  out = np.arange(len(names), dtype=np.int32)
  for i, name in enumerate(names):
    mirror = _mirror_name(name)
    if mirror is not None and mirror in names:
      out[i] = names.index(mirror)
  return out


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """How `augment` perturbs a batch (all off: the batch unchanged).

  Attributes:
    flip: mirror half the images left to right.
    zoom: scale factors drawn log-uniformly in [1 / (1 + zoom), 1 + zoom].
    shift: translation up to this fraction of the image size each way.
    brightness: added to every channel, uniform in +-brightness.
    contrast: contrast factor in [1 - contrast, 1 + contrast].
    saturation: saturation factor in [1 - saturation, 1 + saturation].
    hue: hue rotation in +-hue degrees.
  """

  flip: bool = True
  zoom: float = 0.25
  shift: float = 0.1
  brightness: float = 0.1
  contrast: float = 0.2
  saturation: float = 0.2
  hue: float = 10.0


_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                    [0.211, -0.523, 0.312]], np.float32)
_FROM_YIQ = np.linalg.inv(_TO_YIQ).astype(np.float32)


def _warp(images: jax.Array, masks: jax.Array, scale: jax.Array,
          offset: jax.Array, flip: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Resamples images (bilinear) and masks (nearest) on a zoomed grid.

  Output pixel (y, x) reads the source at centre + (p - centre) / scale +
  offset (p mirrored in x where `flip`); coordinates are clamped to the
  image (edge pixels repeat).
  """
  n, r = images.shape[:2]
  c = (r - 1) / 2.0
  p = jnp.arange(r, dtype=jnp.float32)
  px = jnp.where(flip[:, None], r - 1 - p[None], p[None])  # [N, R]
  sx = c + (px - c) / scale[:, None] + offset[:, 0, None] * r
  sy = c + (p[None] - c) / scale[:, None] + offset[:, 1, None] * r
  sx = jnp.clip(sx, 0.0, r - 1.0)
  sy = jnp.clip(sy, 0.0, r - 1.0)
  x0 = jnp.clip(jnp.floor(sx), 0, r - 2).astype(jnp.int32)
  y0 = jnp.clip(jnp.floor(sy), 0, r - 2).astype(jnp.int32)
  fx = (sx - x0)[:, None, :, None]
  fy = (sy - y0)[:, :, None, None]
  b = jnp.arange(n)[:, None, None]

  def at(yy: jax.Array, xx: jax.Array) -> jax.Array:
    return images[b, yy[:, :, None], xx[:, None, :]]

  top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
  bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
  out = top * (1 - fy) + bottom * fy
  yi = jnp.round(sy).astype(jnp.int32)
  xi = jnp.round(sx).astype(jnp.int32)
  return out, masks[b, yi[:, :, None], xi[:, None, :]]


def augment(rng: jax.Array, images: jax.Array, masks: jax.Array,
            aug: Augmentation, mirror: jax.Array
            ) -> tuple[jax.Array, jax.Array]:
  """A randomly perturbed batch (jittable; `aug` static).

  Args:
    rng: key.
    images: [N, R, R, 3] uint8 or float in [0, 255].
    masks: [N, R, R] integer class ids.
    aug: the perturbations.
    mirror: [C] int32 class id of each class's mirror image
      (`flip_classes`).

  Returns:
    (images [N, R, R, 3] float32 in [-1, 1], masks [N, R, R] int32).
  """
  n = images.shape[0]
  keys = jax.random.split(rng, 7)
  x = images.astype(jnp.float32) / 255.0
  masks = masks.astype(jnp.int32)
  flip = (jax.random.bernoulli(keys[0], 0.5, (n,)) if aug.flip
          else jnp.zeros((n,), bool))
  log_zoom = math.log1p(aug.zoom)
  scale = jnp.exp(jax.random.uniform(keys[1], (n,), minval=-log_zoom,
                                     maxval=log_zoom))
  offset = jax.random.uniform(keys[2], (n, 2), minval=-aug.shift,
                              maxval=aug.shift)
  if aug.flip or aug.zoom or aug.shift:
    x, masks = _warp(x, masks, scale, offset, flip)
    masks = jnp.where(flip[:, None, None], mirror[masks], masks)
  yiq = x @ jnp.asarray(_TO_YIQ).T
  bright = jax.random.uniform(keys[3], (n, 1, 1), minval=-aug.brightness,
                              maxval=aug.brightness)
  contrast = 1.0 + jax.random.uniform(keys[4], (n, 1, 1),
                                      minval=-aug.contrast,
                                      maxval=aug.contrast)
  sat = 1.0 + jax.random.uniform(keys[5], (n, 1, 1), minval=-aug.saturation,
                                 maxval=aug.saturation)
  hue = jnp.deg2rad(jax.random.uniform(keys[6], (n, 1, 1), minval=-aug.hue,
                                       maxval=aug.hue))
  luma = yiq[..., 0]
  mean = luma.mean(axis=(1, 2), keepdims=True)
  luma = (luma - mean) * contrast + mean + bright
  i, q = yiq[..., 1] * sat, yiq[..., 2] * sat
  cos, sin = jnp.cos(hue), jnp.sin(hue)
  i, q = i * cos - q * sin, i * sin + q * cos
  x = jnp.stack([luma, i, q], axis=-1) @ jnp.asarray(_FROM_YIQ).T
  return jnp.clip(x, 0.0, 1.0) * 2.0 - 1.0, masks
