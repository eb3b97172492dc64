"""Pictures: a fixed class palette, mask overlays, PNG grids and line plots."""

from __future__ import annotations

from collections.abc import Sequence
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

__all__ = ['palette', 'colorize', 'overlay', 'to_uint8', 'save_grid',
           'legend', 'save_curves']

# Distinct colours for class ids 0.. (background black); repeats after 32.
_PALETTE = np.array([
    [0, 0, 0], [255, 204, 153], [140, 70, 20], [0, 230, 255], [255, 0, 200],
    [0, 200, 0], [255, 30, 30], [255, 240, 0], [90, 90, 255], [255, 140, 0],
    [0, 140, 140], [170, 255, 170], [150, 0, 90], [128, 128, 128],
    [255, 255, 255], [100, 60, 160], [0, 90, 0], [255, 150, 200],
    [0, 0, 160], [200, 200, 90], [90, 200, 255], [160, 40, 40],
    [60, 60, 60], [210, 120, 255], [255, 255, 170], [0, 255, 140],
    [120, 90, 40], [255, 90, 120], [40, 120, 200], [190, 255, 60],
    [110, 0, 200], [230, 180, 60]], np.uint8)


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
    img = img.resize((img.width * scale, img.height * scale),
                     Image.Resampling.NEAREST)
  if footer is not None:
    out = Image.new('RGB', (max(img.width, footer.shape[1]),
                            img.height + footer.shape[0]), (255, 255, 255))
    out.paste(img, (0, 0))
    out.paste(Image.fromarray(footer), (0, img.height))
    img = out
  img.save(os.fspath(path), format='PNG')


def save_curves(path: str | os.PathLike[str], x: Sequence[float],
                curves: Sequence[tuple[str, Sequence[float | None]]], *,
                title: str, x_label: str, y_label: str,
                highlight: str | None = None, size: int = 480) -> None:
  """Writes a PNG line plot of y(x) curves on [0, 1] x [0, 1].

  Args:
    path: output PNG.
    x: the shared x values, in [0, 1].
    curves: (name, y values) pairs; None values are skipped.
    title: the plot's title.
    x_label: the x axis label.
    y_label: the y axis label.
    highlight: the name of a curve drawn thick and black (e.g. a mean).
    size: the plot area's side in pixels.
  """
  left, top, right, bottom = 48, 28, 16, 40
  legend_w = 12 + 7 * max(len(n) for n, _ in curves) + 16
  img = Image.new('RGB', (left + size + right + legend_w,
                          top + size + bottom), (255, 255, 255))
  draw = ImageDraw.Draw(img)
  px = lambda v: left + v * size
  py = lambda v: top + (1.0 - v) * size
  for t in np.linspace(0, 1, 6):  # grid and ticks
    draw.line([px(t), top, px(t), top + size], fill=(225, 225, 225))
    draw.line([left, py(t), left + size, py(t)], fill=(225, 225, 225))
    draw.text((px(t) - 8, top + size + 4), f'{t:.1f}', fill=(0, 0, 0))
    draw.text((left - 26, py(t) - 6), f'{t:.1f}', fill=(0, 0, 0))
  draw.rectangle([left, top, left + size, top + size], outline=(0, 0, 0))
  draw.text((left, 8), title, fill=(0, 0, 0))
  draw.text((left + size // 2 - 3 * len(x_label), top + size + 22), x_label,
            fill=(0, 0, 0))
  draw.text((4, top - 18), y_label, fill=(0, 0, 0))
  colours = palette(len(curves) + 1)[1:]
  for i, (name, ys) in enumerate(curves):
    colour = (0, 0, 0) if name == highlight else tuple(int(c) for c in
                                                       colours[i])
    width = 3 if name == highlight else 1
    points = [(px(a), py(b)) for a, b in zip(x, ys) if b is not None]
    if len(points) > 1:
      draw.line(points, fill=colour, width=width)
    ly = top + 14 * i
    draw.line([left + size + 12, ly + 6, left + size + 24, ly + 6],
              fill=colour, width=width)
    draw.text((left + size + 28, ly), name, fill=(0, 0, 0))
  img.save(os.fspath(path), format='PNG')
