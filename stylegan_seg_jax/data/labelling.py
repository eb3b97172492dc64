"""Labelling one sample: export it, import its painted mask.

The library behind `stylegan-seg label export` and `label import`
(docs/cli.md); the reference's test data is imported by `reference_data`.

* `export` renders the sample of one seed (z = `stylegan2.z_from_seeds`,
  w = mapping(z) untruncated, image = synthesis(truncate(w, psi)) with the
  stored noise) into a new directory: `image.png` (to paint over),
  `latent.npz` (w, psi, seed, z, class names, image), `palette.png` and
  `palette.json` ({name: [r, g, b]}, class id = position, the
  `pictures.palette` colours).
* `import_mask` reads a painted PNG mask of the same size (a regular file;
  its header is checked before anything is decoded), either an index image
  (mode 'L' or 'P': each pixel value, or palette index, is the class id)
  or a colour image in the palette's colours (mode 'RGB' or 'RGBA'; alpha
  ignored), and writes a `labelled_set.OneShotExample` file. A colour mask is
  read through a palette JSON whose names must be classes of the export; they
  map to their class ids by name, so a palette may list fewer classes or list
  them in another order.
Bad input raises ValueError or OSError with a one-line message, and nothing
is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import json
import os
import pathlib
import stat
import sys
from typing import Any
import warnings

import numpy as np
from PIL import Image

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import pictures

__all__ = ['parse_class_names', 'render', 'export', 'read_mask', 'open_png',
           'import_mask', 'EXPORT_FORMAT', 'EXPORT_FILES', 'Log']

EXPORT_FORMAT = 'stylegan_seg_jax.label_export.v1'
EXPORT_FILES = ('image.png', 'latent.npz', 'palette.png', 'palette.json')

Log = Callable[[str], None]


def _warn(msg: str) -> None:
  print(f'label: warning: {msg}', file=sys.stderr, flush=True)


def parse_class_names(text: str | Sequence[str]) -> tuple[str, ...]:
  """'a,b,c' (or a sequence) -> ('a', 'b', 'c'); names non-empty, unique."""
  names = text.split(',') if isinstance(text, str) else list(text)
  names = tuple(str(n).strip() for n in names)
  if not names or not all(names):
    raise ValueError(f'class names must be non-empty, got {text!r}')
  dupes = sorted({n for n in names if names.count(n) > 1})
  if dupes:
    raise ValueError(f'class names must be unique, got {dupes} twice')
  return names


def render(gen: stylegan2.Generator, w: np.ndarray, psi: float,
           batch: int = 16) -> np.ndarray:
  """uint8 images [N, R, R, 3] of untruncated w (or W+), truncated by psi.

  Args:
    gen: the generator; truncation uses its stored w_avg.
    w: [N, w_dim] or [N, num_ws, w_dim] untruncated latents.
    psi: truncation psi (1 = none).
    batch: images per generator call.

  Returns:
    The images with the stored ('const') noise, in [0, 255].
  """
  out = []
  for i in range(0, len(w), batch):
    img, _ = gen.synthesis(gen.truncate(w[i:i + batch], psi),
                           noise_mode='const')
    img = np.asarray(img)
    if img.shape[-1] == 1:
      img = np.repeat(img, 3, axis=-1)
    out.append(pictures.to_uint8(img[..., :3]))
  return np.concatenate(out)


def _palette_json(class_names: Sequence[str]) -> str:
  """{name: [r, g, b]} in class id order, one class per line."""
  colours = pictures.palette(len(class_names))
  lines = [f'  {json.dumps(n)}: {json.dumps([int(c) for c in col])}'
           for n, col in zip(class_names, colours)]
  return '{\n' + ',\n'.join(lines) + '\n}\n'


def export(gen: stylegan2.Generator, seed: int, out: str | os.PathLike[str],
           *, psi: float, class_names: str | Sequence[str],
           generator_name: str, overwrite: bool = False,
           log: Log = print) -> dict[str, pathlib.Path]:
  """Renders one seed's sample into a new export directory.

  Args:
    gen: the generator.
    seed: z seed (`stylegan2.z_from_seeds`), >= 0.
    out: export directory; refused if it exists and is not empty, unless
      `overwrite`.
    psi: truncation applied to the image (w is stored untruncated).
    class_names: names of the class ids, 'a,b,c' or a sequence.
    generator_name: how the config names the generator ('toy:NAME' or a
      directory), recorded in the export.
    overwrite: replace an existing export.
    log: receives one line per file written.

  Returns:
    file name -> path of each file written.
  """
  seed = int(seed)
  psi = float(psi)
  if seed < 0:
    raise ValueError(f'--seed must be non-negative, got {seed}')
  if not np.isfinite(psi):
    raise ValueError(f'--psi must be finite, got {psi}')
  names = parse_class_names(class_names)
  if domains.is_spec(generator_name) and psi != 1.0:
    _warn(f'psi={psi}: a toy domain\'s generator matches its exact ground '
          'truth only at psi=1')
  out = pathlib.Path(out)
  if out.exists() and not out.is_dir():
    raise FileExistsError(f'{out} exists and is not a directory')
  if out.is_dir() and any(out.iterdir()) and not overwrite:
    what = ('an export' if (out / 'latent.npz').exists()
            else 'other files')
    raise FileExistsError(f'{out} already contains {what}; choose an empty '
                          'directory (or pass --overwrite to replace it)')
  if len(np.unique(pictures.palette(len(names)), axis=0)) < len(names):
    _warn(f'{len(names)} classes share palette colours; paint an index '
          'image (mode L or P) instead of colours')
  z = stylegan2.z_from_seeds([seed], gen.config.z_dim)
  w = np.asarray(gen.mapping(z, psi=1.0), np.float32)
  image = render(gen, w, psi)[0]
  with files.atomic_directory(out, overwrite=overwrite) as tmp:
    Image.fromarray(image).save(tmp / 'image.png')
    with open(tmp / 'latent.npz', 'wb') as f:
      np.savez(f, format=np.array(EXPORT_FORMAT), w=w[0],
               psi=np.array(psi, np.float64), seed=np.array(seed, np.int64),
               z=z[0], class_names=np.array(names, dtype=str), image=image,
               generator=np.array(generator_name))
    Image.fromarray(pictures.legend(names)).save(tmp / 'palette.png')
    (tmp / 'palette.json').write_text(_palette_json(names))
  paths = {name: out / name for name in EXPORT_FILES}
  for path in paths.values():
    log(f'wrote {path}')
  log(f'seed {seed}, psi {psi}, {image.shape[0]}x{image.shape[1]}, classes: '
      + ', '.join(f'{i}={n}' for i, n in enumerate(names)))
  return paths


def _read_export(export_dir: pathlib.Path) -> dict[str, Any]:
  path = export_dir / 'latent.npz'
  if not path.is_file():
    raise ValueError(f'{export_dir} is not an export directory (no '
                     'latent.npz); create one with the export command')
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {k: data[k] for k in data.files}
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'{path}: unreadable ({type(e).__name__}: {e})') from None
  missing = [k for k in ('format', 'w', 'psi', 'seed', 'class_names', 'image')
             if k not in arrays]
  if missing:
    raise ValueError(f'{path}: not an export: missing key(s) {missing}')
  if str(arrays['format']) != EXPORT_FORMAT:
    raise ValueError(f'{path}: unsupported format {str(arrays["format"])!r}')
  image = arrays['image']
  if image.ndim != 3 or image.shape[0] != image.shape[1] or (
      image.shape[2] != 3):
    raise ValueError(f'{path}: image must be [R, R, 3], got {image.shape}')
  return arrays


def _read_palette(path: pathlib.Path,
                  class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
  """(colours [K, 3] int, class ids [K]) of a palette JSON file."""
  try:
    doc = json.loads(path.read_text())
  except json.JSONDecodeError as e:
    raise ValueError(f'{path}: not valid JSON ({e})') from None
  if not isinstance(doc, dict) or not doc:
    raise ValueError(f'{path}: expected a JSON object {{class name: '
                     '[r, g, b]}}')
  colours, ids = [], []
  for name, rgb in doc.items():
    if name not in class_names:
      raise ValueError(f'{path}: class {name!r} is not one of the export\'s '
                       f'classes {list(class_names)}')
    if not (isinstance(rgb, list) and len(rgb) == 3 and all(
        isinstance(c, int) and 0 <= c <= 255 for c in rgb)):
      raise ValueError(f'{path}: colour of {name!r} must be [r, g, b] with '
                       f'integers in 0..255, got {rgb!r}')
    colours.append(rgb)
    ids.append(list(class_names).index(name))
  colours = np.array(colours, np.int64)
  uniq, counts = np.unique(colours, axis=0, return_counts=True)
  if (counts > 1).any():
    dup = tuple(int(c) for c in uniq[counts > 1][0])
    raise ValueError(f'{path}: colour {dup} is used by more than one class')
  return colours, np.array(ids, np.int64)


_INDEX_MODES = ('L', 'P', '1', 'I', 'I;16', 'LA', 'PA')
_COLOUR_MODES = ('RGB', 'RGBA')


def open_png(path: pathlib.Path, what: str = 'mask') -> Image.Image:
  """Opens a PNG image lazily (header only); refuses anything else.

  A FIFO or device would block or never end, other formats can start
  external programs (EPS) or hide huge sizes: only regular PNG files are
  read, and Pillow's pixel-count guard stops absurd headers.

  Args:
    path: the file.
    what: what the file is meant to be, for error messages ('mask').

  Raises:
    ValueError: not a regular, readable PNG file of a sane size.
  """
  try:
    info = os.stat(path)
  except OSError as e:
    raise ValueError(f'{path}: cannot read the {what} ({e.strerror})'
                     ) from None
  if not stat.S_ISREG(info.st_mode):
    raise ValueError(f'{path}: the {what} is not a regular file')
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('error', Image.DecompressionBombWarning)
      return Image.open(path, formats=['PNG'])
  except (Image.DecompressionBombError, Image.DecompressionBombWarning):
    raise ValueError(f'{path}: the PNG header claims an image too large to '
                     f'be a {what}') from None
  except Image.UnidentifiedImageError:
    raise ValueError(f'{path}: not a PNG image ({what}s are PNG files)'
                     ) from None


def read_mask(path: str | os.PathLike[str], class_names: Sequence[str],
              resolution: int,
              palette: tuple[np.ndarray, np.ndarray] | None = None
              ) -> np.ndarray:
  """Reads a painted mask PNG into class ids.

  Args:
    path: the mask image.
    class_names: the classes; ids must be < len(class_names).
    resolution: the expected width and height.
    palette: (colours [K, 3], class ids [K]) for colour images.

  Returns:
    uint8 [R, R] class ids.

  Raises:
    ValueError: wrong size, unsupported mode, a colour not in the palette or
      a class index out of range.
  """
  path = pathlib.Path(path)
  with open_png(path) as img:
    mode, size = img.mode, img.size
    if size != (resolution, resolution):
      raise ValueError(f'{path}: mask is {size[0]}x{size[1]}, the image is '
                       f'{resolution}x{resolution}')
    if mode not in _INDEX_MODES + _COLOUR_MODES:
      raise ValueError(f'{path}: unsupported image mode {mode!r}; paint an '
                       'index image (mode L or P) or a colour image (RGB or '
                       'RGBA)')
    img.load()
    pixels = np.asarray(img)
  num = len(class_names)
  if mode in _COLOUR_MODES:
    if palette is None:
      raise ValueError(f'{path}: a colour mask needs a palette')
    rgb = pixels[..., :3].astype(np.int64)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    colours, ids = palette
    pal_codes = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
    order = np.argsort(pal_codes)
    pal_codes, ids = pal_codes[order], ids[order]
    pos = np.minimum(np.searchsorted(pal_codes, codes), len(pal_codes) - 1)
    known = pal_codes[pos] == codes
    if not known.all():
      y, x = np.argwhere(~known)[0]
      colour = tuple(int(c) for c in rgb[y, x])
      raise ValueError(
          f'{path}: {int((~known).sum())} pixels have colours not in the '
          f'palette; the first is {colour} at row {y}, column {x}')
    return ids[pos].astype(np.uint8)
  if pixels.ndim == 3:  # LA / PA: alpha ignored
    pixels = pixels[..., 0]
  ids = pixels.astype(np.int64)
  bad = ids >= num
  if bad.any():
    y, x = np.argwhere(bad)[0]
    raise ValueError(
        f'{path}: class index {int(ids[y, x])} at row {y}, column {x} is out '
        f'of range for {num} classes (0..{num - 1}); {int(bad.sum())} pixels '
        'are out of range')
  return ids.astype(np.uint8)


def import_mask(export_dir: str | os.PathLike[str],
                mask: str | os.PathLike[str], out: str | os.PathLike[str], *,
                palette: str | os.PathLike[str] | None = None,
                overwrite: bool = False,
                log: Log = print) -> labelled_set.OneShotExample:
  """Turns an export plus a painted mask into a one-shot example file.

  Args:
    export_dir: directory written by `export`.
    mask: the painted mask (index or colour image, see the module doc).
    out: the `.npz` file to write (`labelled_set.save_example`); the CLI
      writes `OUT/example.npz`.
    palette: palette JSON for colour masks (default: the export's).
    overwrite: replace an existing `out`.
    log: receives the summary lines.

  Returns:
    The example written.
  """
  export_dir = pathlib.Path(export_dir)
  out = pathlib.Path(out)
  if out.exists() and not overwrite:
    raise FileExistsError(f'{out} already exists (pass --overwrite to '
                          'replace)')
  arrays = _read_export(export_dir)
  names = tuple(arrays['class_names'].tolist())
  palette_path = pathlib.Path(palette) if palette else (
      export_dir / 'palette.json')
  pal = None
  with open_png(pathlib.Path(mask)) as img:
    if img.mode in _COLOUR_MODES:
      pal = _read_palette(palette_path, names)
  ids = read_mask(mask, names, arrays['image'].shape[0], pal)
  example = labelled_set.OneShotExample(
      w=arrays['w'], psi=float(arrays['psi']), mask=ids, class_names=names,
      seed=int(arrays['seed']), image=arrays['image'])
  labelled_set.save_example(out, example, overwrite=overwrite)
  counts = np.bincount(ids.ravel(), minlength=len(names))
  width = max(len(n) for n in names)
  log(f'wrote {out} (seed {example.seed}, psi {example.psi}, '
      f'{ids.shape[0]}x{ids.shape[1]})')
  for i, (name, n) in enumerate(zip(names, counts)):
    log(f'  {i:3d} {name:<{width}} {int(n):8d} px '
        f'{100.0 * n / ids.size:6.2f}%')
  return example
