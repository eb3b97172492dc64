"""Segments a folder of PNG images with a trained downstream network.

    OUT/masks/NAME.png      class id per pixel (8-bit greyscale), at the
                            input image's size
    OUT/overlays/NAME.png   the image with the class colours blended in
    OUT/classes.json        class names, their overlay colours, the network

Each image is converted to RGB (alpha dropped), resized to the network's
resolution (bilinear) when its size differs, segmented, and the mask
resized back (nearest). Only regular PNG files are read (`*.png`, not
recursive) and an image over `MAX_PIXELS` is refused, so a hostile folder
can neither hang the run nor exhaust memory. OUT is written under a
scratch name and renamed when complete: a failed run leaves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import json
import os
import pathlib
import stat
from typing import Any

import numpy as np
from PIL import Image

from stylegan_seg_jax.data import labelling
from stylegan_seg_jax.downstream import exported
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import pictures

__all__ = ['image_files', 'read_image', 'predict_folder', 'MAX_PIXELS',
           'CLASSES_FILE']

# The largest input image (pixels); 4096 x 4096.
MAX_PIXELS = 1 << 24
CLASSES_FILE = 'classes.json'


def image_files(directory: str | os.PathLike[str]) -> list[pathlib.Path]:
  """The `*.png` regular files of a directory (not recursive), sorted.

  Raises:
    ValueError: not a directory, or no PNG files in it.
  """
  root = pathlib.Path(directory)
  if not root.is_dir():
    raise ValueError(f'--images {root}: not a directory')
  found = []
  with os.scandir(root) as entries:
    for entry in entries:
      if (entry.name.lower().endswith('.png')
          and not entry.name.startswith('.')
          and stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode)):
        found.append(root / entry.name)
  if not found:
    raise ValueError(f'--images {root}: no PNG files there')
  return sorted(found)


def read_image(path: pathlib.Path) -> np.ndarray:
  """uint8 [H, W, 3] RGB of a PNG file.

  Raises:
    ValueError: not a readable PNG image, or over `MAX_PIXELS` pixels.
  """
  with labelling.open_png(path, 'image') as img:
    w, h = img.size
    if w * h > MAX_PIXELS:
      raise ValueError(f'{path}: {w}x{h} pixels is over the limit of '
                       f'{MAX_PIXELS} for an image to segment')
    try:
      return np.asarray(img.convert('RGB'), np.uint8)
    except (OSError, SyntaxError) as e:  # truncated or corrupt data
      raise ValueError(f'{path}: cannot decode the image ({e})') from None


def _resized(image: np.ndarray, size: int) -> np.ndarray:
  if image.shape[:2] == (size, size):
    return image
  return np.asarray(Image.fromarray(image).resize((size, size),
                                                  Image.Resampling.BILINEAR))


def _batches(paths: list[pathlib.Path], batch_size: int
             ) -> Iterator[list[tuple[pathlib.Path, np.ndarray]]]:
  for i in range(0, len(paths), batch_size):
    yield [(p, read_image(p)) for p in paths[i:i + batch_size]]


def predict_folder(net: exported.Network, images: str | os.PathLike[str],
                   out: str | os.PathLike[str], *, batch_size: int = 32,
                   overwrite: bool = False,
                   progress: Callable[[int], Any] | None = None) -> int:
  """Writes masks and overlays of every PNG image of a folder.

  Args:
    net: the trained network.
    images: the folder of PNG images.
    out: the output directory (layout above).
    batch_size: images per network call.
    overwrite: replace a non-empty `out`; otherwise refuse.
    progress: called with the number of images done after each batch.

  Returns:
    The number of images segmented.

  Raises:
    ValueError: a bad folder or image (nothing is written).
    FileExistsError: `out` exists and is not empty, without `overwrite`.
  """
  paths = image_files(images)
  files.check_output_directory(out, overwrite=overwrite)
  c = len(net.class_names)
  with files.atomic_directory(out, overwrite=overwrite) as tmp:
    (tmp / 'masks').mkdir()
    (tmp / 'overlays').mkdir()
    for batch in _batches(paths, batch_size):
      x = np.stack([_resized(img, net.resolution) for _, img in batch])
      pred = net.segment(x, batch_size)
      for (path, img), mask in zip(batch, pred):
        h, w = img.shape[:2]
        if (h, w) != mask.shape:
          mask = np.asarray(Image.fromarray(mask).resize(
              (w, h), Image.Resampling.NEAREST))
        name = path.name
        Image.fromarray(mask).save(tmp / 'masks' / name)
        Image.fromarray(pictures.overlay(img, mask, c)).save(
            tmp / 'overlays' / name)
      if progress is not None:
        progress(len(batch))
    (tmp / CLASSES_FILE).write_text(json.dumps({
        'class_names': list(net.class_names),
        'palette': pictures.palette(c).tolist(),
        'network_resolution': net.resolution,
        'network_train_set': net.train_set}, indent=2))
  return len(paths)
