"""Labelling: export a sample, import its painted mask, import test data.

The library behind `python -m stylegan_seg_jax.label` (docs/cli.md):

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
* `import_reference` converts the reference code's test data (`latents.pt`:
  a tuple or list whose first element is W [N, w_dim], or a bare W+ tensor
  [N, num_ws, w_dim]; `labels.pt`: an [N, H, W] integer map, torch tensor or
  numpy array, multiplied by 255 when its max is below 1) into a labelled
  TFDS set (`labelled_set.write`, split 'test'), reading the files without
  torch. Each image is rendered from the stored (untruncated) w with
  truncation psi and the stored noise; seeds are -1 and z zeros (unknown).

Bad input raises ValueError or OSError with a one-line message, and nothing
is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
import contextlib
import io
import json
import os
import pathlib
import re
import shutil
import stat
import sys
from typing import Any
import warnings

import numpy as np
from PIL import Image

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.convert import readers
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import pictures

__all__ = ['parse_class_names', 'render', 'export', 'read_mask',
           'import_mask', 'import_reference', 'pad_labels', 'resize_nearest',
           'EXPORT_FORMAT', 'EXPORT_FILES']

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
    generator_name: how the config names the generator ('toy' or a
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
  if generator_name == 'toy' and psi != 1.0:
    _warn(f'psi={psi}: the toy generator matches its exact ground truth only '
          'at psi=1')
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


def _open_png(path: pathlib.Path) -> Image.Image:
  """Opens a PNG mask lazily (header only); refuses anything else.

  A FIFO or device would block or never end, other formats can start
  external programs (EPS) or hide huge sizes: only regular PNG files are
  read, and Pillow's pixel-count guard stops absurd headers.
  """
  try:
    info = os.stat(path)
  except OSError as e:
    raise ValueError(f'{path}: cannot read the mask ({e.strerror})') from None
  if not stat.S_ISREG(info.st_mode):
    raise ValueError(f'{path}: the mask is not a regular file')
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('error', Image.DecompressionBombWarning)
      return Image.open(path, formats=['PNG'])
  except (Image.DecompressionBombError, Image.DecompressionBombWarning):
    raise ValueError(f'{path}: the PNG header claims an image too large to '
                     'be a mask') from None
  except Image.UnidentifiedImageError:
    raise ValueError(f'{path}: not a PNG image (masks are PNG files)'
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
  with _open_png(path) as img:
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
  with _open_png(pathlib.Path(mask)) as img:
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


@contextlib.contextmanager
def _quiet_tfds() -> Iterator[None]:
  """Hides TFDS's chatter (it names the scratch directory, not the result)."""
  from absl import logging  # pylint: disable=g-import-not-at-top
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)
  try:
    with contextlib.redirect_stdout(io.StringIO()):
      yield
  finally:
    logging.set_verbosity(verbosity)


def _reference_latents(path: pathlib.Path) -> np.ndarray:
  obj = readers.read_checkpoint_file(path)
  if isinstance(obj, (tuple, list)):
    if not obj:
      raise ValueError(f'{path}: empty {type(obj).__name__}')
    obj = obj[0]
  if not isinstance(obj, np.ndarray):
    raise ValueError(f'{path}: expected a tensor, or a tuple whose first '
                     f'element is one, got {type(obj).__name__}')
  if obj.dtype.kind != 'f' and obj.dtype.name != 'bfloat16':
    raise ValueError(f'{path}: latents must be floating point, got '
                     f'{obj.dtype}')
  w = np.array(obj, np.float32)
  if w.ndim not in (2, 3) or not w.size:
    raise ValueError(f'{path}: latents must be W [N, w_dim] or W+ '
                     f'[N, num_ws, w_dim], got shape {w.shape}')
  if not np.all(np.isfinite(w)):
    raise ValueError(f'{path}: latents have non-finite values')
  return w


def _reference_labels(path: pathlib.Path) -> tuple[np.ndarray, bool]:
  """(int64 labels [N, H, W], whether they were scaled by 255)."""
  obj = readers.read_checkpoint_file(path)
  if not isinstance(obj, np.ndarray):
    raise ValueError(f'{path}: expected a tensor or numpy array, got '
                     f'{type(obj).__name__}')
  if obj.ndim != 3 or not obj.size:
    raise ValueError(f'{path}: labels must be [N, H, W], got shape '
                     f'{obj.shape}')
  if obj.dtype.kind not in 'biuf' and obj.dtype.name != 'bfloat16':
    raise ValueError(f'{path}: labels must be numeric, got {obj.dtype}')
  labels = np.array(obj, np.float64 if obj.dtype.kind == 'f' or
                    obj.dtype.name == 'bfloat16' else np.int64)
  scaled = bool(labels.max() < 1)
  if scaled:  # as the reference: labels stored as id / 255
    labels = labels * 255
  if labels.dtype.kind == 'f':
    if not np.all(np.isfinite(labels)):
      raise ValueError(f'{path}: labels have non-finite values')
    rounded = np.rint(labels)
    if np.max(np.abs(labels - rounded)) > 1e-3:
      raise ValueError(f'{path}: labels are not integer class ids')
    labels = rounded.astype(np.int64)
  if labels.min() < 0:
    raise ValueError(f'{path}: negative class id {int(labels.min())}')
  return labels, scaled


def pad_labels(labels: np.ndarray, size: int) -> np.ndarray:
  """Zero-pads label maps [N, H, W] to [N, size, size], centred.

  The reference does this to the PASCAL-Part car labels (384 rows into rows
  64..447 of 512).

  Raises:
    ValueError: a map larger than `size`, or an odd margin.
  """
  n, h, w = labels.shape
  if h > size or w > size or (size - h) % 2 or (size - w) % 2:
    raise ValueError(f'label maps of {h}x{w} cannot be padded to '
                     f'{size}x{size} evenly')
  top, left = (size - h) // 2, (size - w) // 2
  out = np.zeros((n, size, size), labels.dtype)
  out[:, top:top + h, left:left + w] = labels
  return out


def resize_nearest(labels: np.ndarray, size: int) -> np.ndarray:
  """Nearest resize of label maps [N, H, W] to [N, size, size].

  Output pixel i reads input floor(i * H / size), as torch's
  `interpolate(mode='nearest')` (the reference's `Resize(NEAREST)` of
  label tensors).
  """
  rows = (np.arange(size) * labels.shape[1]) // size
  cols = (np.arange(size) * labels.shape[2]) // size
  return labels[:, rows][:, :, cols]


def import_reference(latents: str | os.PathLike[str],
                     labels: str | os.PathLike[str], gen: stylegan2.Generator,
                     class_names: str | Sequence[str],
                     data_dir: str | os.PathLike[str], name: str, *,
                     psi: float, generator_name: str,
                     label_size: int | None = None,
                     log: Log = print) -> pathlib.Path:
  """Converts the reference's `latents.pt` + `labels.pt` to a labelled set.

  Args:
    latents: `latents.pt` (see the module doc).
    labels: `labels.pt`.
    gen: the generator the latents belong to.
    class_names: name of each class id, 'a,b,...' or a sequence.
    data_dir: TFDS data directory.
    name: dataset (builder config) name.
    psi: truncation the images are rendered with (recorded as the metadata
      key `truncation_psi`; w is stored as read, untruncated).
    generator_name: how the config names the generator (recorded).
    label_size: pad shorter label maps to this size first, centred (the
      reference's PASCAL-Part cars: 384 rows to 512). Label maps larger
      than the generator's images are then nearest-resized to them (the
      reference resizes every label map to its image size).
    log: receives the output directory.

  Returns:
    The directory to pass to `tfds.builder_from_directory`.
  """
  latents, labels = pathlib.Path(latents), pathlib.Path(labels)
  data_dir = pathlib.Path(data_dir)
  names = parse_class_names(class_names)
  psi = float(psi)
  if not np.isfinite(psi):
    raise ValueError(f'--psi must be finite, got {psi}')
  if not re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9_.-]*', name):
    raise ValueError(f'--name must be letters, digits, _ . or -, got {name!r}')
  final = data_dir / 'labelled_samples' / name / labelled_set.VERSION
  if final.exists():
    raise FileExistsError(f'{final} already exists; choose another --name or '
                          'remove it')
  w = _reference_latents(latents)
  masks, scaled = _reference_labels(labels)
  if label_size is not None:
    masks = pad_labels(masks, int(label_size))
  if len(w) != len(masks):
    raise ValueError(f'{latents.name} has {len(w)} latents but '
                     f'{labels.name} has {len(masks)} label maps')
  cfg = gen.config
  if w.shape[-1] != cfg.w_dim or (w.ndim == 3 and w.shape[1] < cfg.num_ws):
    want = (f'[N, {cfg.w_dim}] or [N, >={cfg.num_ws}, {cfg.w_dim}]')
    raise ValueError(f'{latents}: latents of shape {w.shape} do not fit the '
                     f'generator ({want})')
  rows, cols = masks.shape[1:]
  res = cfg.resolution
  if rows == cols and rows > res and rows % res == 0:
    masks = resize_nearest(masks, res)
  elif (rows, cols) != (res, res):
    raise ValueError(f'{labels}: label maps are {cols}x{rows}, the generator '
                     f'renders {res}x{res}')
  if masks.max() >= len(names):
    i = int(np.argmax(masks.reshape(len(masks), -1).max(axis=1) >= len(names)))
    raise ValueError(f'{labels}: sample {i} has class id {int(masks[i].max())}'
                     f', out of range for {len(names)} classes')
  images = render(gen, w, psi)
  masks = masks.astype(np.uint8)
  rows = [dict(seed=-1, z=np.zeros(cfg.z_dim, np.float32), w=w[i],
               mask=masks[i], image=images[i]) for i in range(len(w))]
  metadata = {
      'generator': generator_name,
      'generator_metadata': dict(gen.metadata),
      'truncation_psi': psi,
      'noise_mode': 'const',
      'latents': f'w as stored in {latents.name} (untruncated); z unknown '
                 '(zeros), seed -1',
      'labels_scaled_by_255': scaled,
      'sources': {
          'latents': {'file': latents.name,
                  'sha256': files.sha256_file(latents)},
          'labels': {'file': labels.name, 'sha256': files.sha256_file(labels)},
      },
  }
  # Written into a scratch data dir and renamed: a failure leaves no
  # half-written dataset for TFDS to mistake for a finished one.
  data_dir.mkdir(parents=True, exist_ok=True)
  scratch = files.scratch_name(data_dir / name)
  try:
    with _quiet_tfds():
      written = labelled_set.write(
          scratch, name, {'test': rows}, resolution=cfg.resolution,
          z_dim=cfg.z_dim, w_shape=w.shape[1:], class_names=names,
          metadata=metadata)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(written, final)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  log(str(final))
  return final
