"""Pictures of masks: a fixed class palette, overlays and PNG grids."""

from __future__ import annotations

from collections.abc import Sequence
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

__all__ = ['palette', 'colorize', 'overlay', 'to_uint8', 'save_grid',
           'legend']

# Distinct colours for class ids 0.. (background black); repeats after 16.
_PALETTE = np.array([
    [0, 0, 0], [255, 204, 153], [140, 70, 20], [0, 230, 255], [255, 0, 200],
    [0, 200, 0], [255, 30, 30], [255, 240, 0], [90, 90, 255], [255, 140, 0],
    [0, 140, 140], [170, 255, 170], [150, 0, 90], [128, 128, 128],
    [255, 255, 255], [100, 60, 160]], np.uint8)


def palette(num_classes: int) -> np.ndarray:
  """[num_classes, 3] uint8 colours."""
  return _PALETTE[np.arange(num_classes) % len(_PALETTE)]


def to_uint8(images: np.ndarray, value_range: tuple[float, float] = (-1, 1)
             ) -> np.ndarray:
  """Float images in `value_range` -> uint8 [0, 255]."""
  lo, hi = value_range
  x = (np.asarray(images, np.float32) - lo) / (hi - lo)
  return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def colorize(mask: np.ndarray, num_classes: int) -> np.ndarray:
  """Integer mask [..., H, W] -> uint8 colours [..., H, W, 3]."""
  return palette(num_classes)[np.asarray(mask)]


def overlay(image: np.ndarray, mask: np.ndarray, num_classes: int,
            alpha: float = 0.5) -> np.ndarray:
  """Blends the class colours over a uint8 image (background left as is)."""
  colours = colorize(mask, num_classes).astype(np.float32)
  out = image.astype(np.float32)
  fg = (np.asarray(mask) > 0)[..., None]
  out = np.where(fg, (1 - alpha) * out + alpha * colours, out)
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


def legend(class_names: Sequence[str], height: int = 14) -> np.ndarray:
  """A uint8 strip naming each class next to its colour."""
  cols = palette(len(class_names))
  width = 12 + max(len(n) for n in class_names) * 7
  img = Image.new('RGB', (width * len(class_names), height), (255, 255, 255))
  draw = ImageDraw.Draw(img)
  for i, (name, col) in enumerate(zip(class_names, cols)):
    x = i * width
    draw.rectangle([x + 1, 2, x + 10, height - 3],
                   fill=tuple(int(c) for c in col),
                   outline=(0, 0, 0))
    draw.text((x + 13, 1), name, fill=(0, 0, 0))
  return np.asarray(img)


def save_grid(path: str | os.PathLike[str],
              rows: Sequence[Sequence[np.ndarray]],
              *, scale: int = 1, pad: int = 2,
              footer: np.ndarray | None = None) -> None:
  """Writes a PNG of uint8 tiles [H, W, 3] arranged in rows.

  Args:
    path: output PNG.
    rows: rows of equally sized tiles.
    scale: nearest-neighbour magnification.
    pad: white pixels between tiles (before scaling).
    footer: optional uint8 strip (e.g. `legend`) appended below, unscaled.
  """
  h, w = rows[0][0].shape[:2]
  ncols = max(len(r) for r in rows)
  canvas = np.full((len(rows) * (h + pad) + pad, ncols * (w + pad) + pad, 3),
                   255, np.uint8)
  for i, row in enumerate(rows):
    for j, tile in enumerate(row):
      y, x = pad + i * (h + pad), pad + j * (w + pad)
      canvas[y:y + h, x:x + w] = tile
  img = Image.fromarray(canvas)
  if scale != 1:
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
  if footer is not None:
    out = Image.new('RGB', (max(img.width, footer.shape[1]),
                            img.height + footer.shape[0]), (255, 255, 255))
    out.paste(img, (0, 0))
    out.paste(Image.fromarray(footer), (0, img.height))
    img = out
  img.save(os.fspath(path), format='PNG')
