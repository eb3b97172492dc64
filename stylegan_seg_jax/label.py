"""Labelling workflow: export a sample, import its painted mask, import test data.

  python -m stylegan_seg_jax.label export --generator=DIR|toy --seed=N \
      --out=DIR [--psi=1.0] [--class_names=a,b,c] [--resolution=R]
  python -m stylegan_seg_jax.label import --export=DIR --mask=PNG \
      --out=EXAMPLE.npz [--palette=JSON]
  python -m stylegan_seg_jax.label import_reference --latents=latents.pt \
      --labels=labels.pt --generator=DIR|toy --class_names=a,b,... \
      --data_dir=DIR --name=NAME [--psi=0.7] [--resolution=R]

`export` renders the sample of one seed (z = `generator.z_from_seeds`,
w = mapping(z) untruncated, image = synthesis(truncate(w, w_avg, psi)) with
the stored noise) into a new directory:

* `image.png`: the image to paint over;
* `latent.npz`: w (untruncated), psi, seed, z, class_names and the image;
* `palette.png` and `palette.json`: the colour of each class
  ({name: [r, g, b]}, class id = position, `visualize.palette` colours).

Paint a mask of the same size, either as an index image (PNG mode 'L' or 'P':
each pixel value, or palette index, is the class id) or in the palette's
colours (mode 'RGB' or 'RGBA'; alpha is ignored), then `import` it into a
`labelled_set.OneShotExample` file. A colour mask is read through
`--palette` (default: the export's palette.json); its names must be classes of
the export and map to their class ids by name, so a palette may list fewer
classes or list them in another order.

For `--generator=toy` (the shipped toy generator) the class names default to
`toy.CLASS_NAMES`. Its exact ground truth holds only at psi = 1, so another
psi is allowed but warned about.

`import_reference` converts the reference code's test data (`latents.pt`:
a tuple or list whose first element is W [N, w_dim], or a bare W+ tensor
[N, num_ws, w_dim]; `labels.pt`: an [N, H, W] integer map, torch tensor or
numpy array, multiplied by 255 when its max is below 1) into a labelled TFDS
set (`labelled_set.write`, split 'test'), reading the files without torch.
Each image is rendered from the stored (untruncated) w with truncation psi
and the stored noise; seeds are -1 and z zeros (unknown).

Exit status: 0 on success, 1 on bad input (`label: error: ...`, one line on
stderr, nothing written), 2 on usage errors.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from stylegan_seg_jax import checkpoint
from stylegan_seg_jax import checkpoint_readers
from stylegan_seg_jax import generator as gen_lib
from stylegan_seg_jax import labelled_set
from stylegan_seg_jax import visualize

__all__ = [
    'COMMANDS', 'UsageError', 'parse_class_names',
    'render', 'export', 'read_mask', 'import_mask', 'import_reference', 'run',
    'main',
]

USAGE = '''\
usage: python -m stylegan_seg_jax.label export --generator=DIR|toy --seed=N --out=DIR [--psi=1.0] [--class_names=a,b,c] [--resolution=R] [--overwrite]
       python -m stylegan_seg_jax.label import --export=DIR --mask=PNG --out=EXAMPLE.npz [--palette=JSON] [--overwrite]
       python -m stylegan_seg_jax.label import_reference --latents=latents.pt --labels=labels.pt --generator=DIR|toy --class_names=a,b,... --data_dir=DIR --name=NAME [--psi=0.7] [--resolution=R]'''

EXPORT_FORMAT = 'stylegan_seg_jax.label_export.v1'
EXPORT_FILES = ('image.png', 'latent.npz', 'palette.png', 'palette.json')

# command -> (required options, optional options with their defaults).
COMMANDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    'export': (('generator', 'seed', 'out'),
               {'psi': 1.0, 'class_names': None, 'resolution': None,
                'overwrite': False}),
    'import': (('export', 'mask', 'out'),
               {'palette': None, 'overwrite': False}),
    'import_reference': (
        ('latents', 'labels', 'generator', 'class_names', 'data_dir', 'name'),
        {'psi': 0.7, 'resolution': None}),
}

Log = Callable[[str], None]


class UsageError(ValueError):
  """The command line is wrong (missing, unknown or misplaced options)."""


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


def render(gen: gen_lib.Generator, w: np.ndarray, psi: float,
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
    out.append(visualize.to_uint8(img[..., :3]))
  return np.concatenate(out)


def _palette_json(class_names: Sequence[str]) -> str:
  """{name: [r, g, b]} in class id order, one class per line."""
  colours = visualize.palette(len(class_names))
  lines = [f'  {json.dumps(n)}: {json.dumps([int(c) for c in col])}'
           for n, col in zip(class_names, colours)]
  return '{\n' + ',\n'.join(lines) + '\n}\n'


def export(generator: str, seed: int, out: str | os.PathLike[str], *,
           psi: float = 1.0, class_names: str | Sequence[str] | None = None,
           resolution: int | None = None, overwrite: bool = False,
           log: Log = print) -> dict[str, pathlib.Path]:
  """Renders one seed's sample into a new export directory.

  Args:
    generator: converted generator directory, or 'toy'.
    seed: z seed (`generator.z_from_seeds`), >= 0.
    out: export directory; refused if it exists and is not empty, unless
      `overwrite`.
    psi: truncation applied to the image (w is stored untruncated).
    class_names: names of the class ids, 'a,b,c' or a sequence; required
      unless `generator` is 'toy'.
    resolution: render only up to this resolution (see `generator.load`).
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
  is_toy = os.fspath(generator) == 'toy'
  if class_names is None:
    if not is_toy:
      raise UsageError('--class_names is required unless --generator=toy')
    from stylegan_seg_jax import toy  # pylint: disable=g-import-not-at-top
    class_names = toy.CLASS_NAMES
  names = parse_class_names(class_names)
  if is_toy and psi != 1.0:
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
  if len(np.unique(visualize.palette(len(names)), axis=0)) < len(names):
    _warn(f'{len(names)} classes share palette colours; paint an index '
          'image (mode L or P) instead of colours')
  gen = gen_lib.load(generator, resolution)
  z = gen_lib.z_from_seeds([seed], gen.config.z_dim)
  w = np.asarray(gen.mapping(z, psi=1.0), np.float32)
  image = render(gen, w, psi)[0]
  with checkpoint.atomic_directory(out, overwrite=overwrite) as tmp:
    Image.fromarray(image).save(tmp / 'image.png')
    with open(tmp / 'latent.npz', 'wb') as f:
      np.savez(f, format=np.array(EXPORT_FORMAT), w=w[0],
               psi=np.array(psi, np.float64), seed=np.array(seed, np.int64),
               z=z[0], class_names=np.array(names, dtype=str), image=image,
               generator=np.array(os.fspath(generator)))
    Image.fromarray(visualize.legend(names)).save(tmp / 'palette.png')
    (tmp / 'palette.json').write_text(_palette_json(names))
  paths = {name: out / name for name in EXPORT_FILES}
  for name, path in paths.items():
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
  with Image.open(path) as img:
    img.load()
    mode, size = img.mode, img.size
    if size != (resolution, resolution):
      raise ValueError(f'{path}: mask is {size[0]}x{size[1]}, the image is '
                       f'{resolution}x{resolution}')
    if mode not in _INDEX_MODES + _COLOUR_MODES:
      raise ValueError(f'{path}: unsupported image mode {mode!r}; paint an '
                       'index image (mode L or P) or a colour image (RGB or '
                       'RGBA)')
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
    out: the `.npz` file to write (`labelled_set.save_example`).
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
  with Image.open(mask) as img:
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


def _sha256(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


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
  obj = checkpoint_readers.read_checkpoint_file(path)
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
  obj = checkpoint_readers.read_checkpoint_file(path)
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


def import_reference(latents: str | os.PathLike[str],
                     labels: str | os.PathLike[str], generator: str,
                     class_names: str | Sequence[str],
                     data_dir: str | os.PathLike[str], name: str, *,
                     psi: float = 0.7, resolution: int | None = None,
                     log: Log = print) -> pathlib.Path:
  """Converts the reference's `latents.pt` + `labels.pt` to a labelled set.

  Args:
    latents: `latents.pt` (see the module doc).
    labels: `labels.pt`.
    generator: converted generator directory, or 'toy'.
    class_names: name of each class id, 'a,b,...' or a sequence.
    data_dir: TFDS data directory.
    name: dataset (builder config) name.
    psi: truncation the images are rendered with (recorded as the metadata
      key `truncation_psi`; w is stored as read, untruncated).
    resolution: render only up to this resolution (see `generator.load`).
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
  if len(w) != len(masks):
    raise ValueError(f'{latents.name} has {len(w)} latents but '
                     f'{labels.name} has {len(masks)} label maps')
  gen = gen_lib.load(generator, resolution)
  cfg = gen.config
  if w.shape[-1] != cfg.w_dim or (w.ndim == 3 and w.shape[1] < cfg.num_ws):
    want = (f'[N, {cfg.w_dim}] or [N, >={cfg.num_ws}, {cfg.w_dim}]')
    raise ValueError(f'{latents}: latents of shape {w.shape} do not fit the '
                     f'generator ({want})')
  if masks.shape[1:] != (cfg.resolution, cfg.resolution):
    raise ValueError(f'{labels}: label maps are {masks.shape[2]}x'
                     f'{masks.shape[1]}, the generator renders '
                     f'{cfg.resolution}x{cfg.resolution}')
  if masks.max() >= len(names):
    i = int(np.argmax(masks.reshape(len(masks), -1).max(axis=1) >= len(names)))
    raise ValueError(f'{labels}: sample {i} has class id {int(masks[i].max())}'
                     f', out of range for {len(names)} classes')
  images = render(gen, w, psi)
  masks = masks.astype(np.uint8)
  rows = [dict(seed=-1, z=np.zeros(cfg.z_dim, np.float32), w=w[i],
               mask=masks[i], image=images[i]) for i in range(len(w))]
  metadata = {
      'generator': os.fspath(generator),
      'generator_metadata': dict(gen.metadata),
      'truncation_psi': psi,
      'noise_mode': 'const',
      'latents': f'w as stored in {latents.name} (untruncated); z unknown '
                 '(zeros), seed -1',
      'labels_scaled_by_255': scaled,
      'sources': {
          'latents': {'file': latents.name, 'sha256': _sha256(latents)},
          'labels': {'file': labels.name, 'sha256': _sha256(labels)},
      },
  }
  # Written into a scratch data dir and renamed: a failure leaves no
  # half-written dataset for TFDS to mistake for a finished one.
  data_dir.mkdir(parents=True, exist_ok=True)
  scratch = data_dir / f'.{name}.tmp-{uuid.uuid4().hex[:8]}'
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


def run(command: str | None, options: Mapping[str, Any],
        log: Log = print) -> int:
  """Runs one command; returns the exit status (errors go to stderr).

  Args:
    command: 'export', 'import' or 'import_reference'.
    options: the options given (flag name -> value); absent ones take their
      defaults.
    log: receives the progress lines.

  Returns:
    0 on success, 1 on bad input, 2 on a usage error.
  """
  try:
    if command not in COMMANDS:
      raise UsageError(f'unknown command {command!r}' if command else
                       'no command given')
    required, optional = COMMANDS[command]
    stray = sorted(k for k in options if k not in required and
                   k not in optional)
    if stray:
      raise UsageError(f'--{stray[0]} does not apply to {command}')
    missing = [k for k in required if options.get(k) is None]
    if missing:
      raise UsageError(f'--{missing[0]} is required for {command}')
    kwargs = {**optional,
              **{k: v for k, v in options.items() if v is not None}}
    if command == 'export':
      export(**kwargs, log=log)
    elif command == 'import':
      import_mask(kwargs.pop('export'), **kwargs, log=log)
    else:
      import_reference(**kwargs, log=log)
  except UsageError as e:
    print(f'{USAGE}\nlabel: error: {e}', file=sys.stderr, flush=True)
    return 2
  except (ValueError, OSError) as e:
    print(f'label: error: {_one_line(e)}', file=sys.stderr, flush=True)
    return 1
  return 0


def _one_line(e: BaseException) -> str:
  return ' '.join(str(e).split()) or type(e).__name__


_OPTION_NAMES = sorted({k for req, opt in COMMANDS.values()
                        for k in (*req, *opt)})


def main(argv: list[str]) -> None:
  """Entry point after flag parsing: argv[1] is the command."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)
  tfds.disable_progress_bar()
  if len(argv) > 2:
    print(f'{USAGE}\nlabel: error: unexpected arguments {argv[2:]}',
          file=sys.stderr)
    sys.exit(2)
  fl = flags.FLAGS
  options = {k: fl[k].value for k in _OPTION_NAMES if fl[k].present}
  sys.exit(run(argv[1] if len(argv) > 1 else None, options))


def _define_flags() -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string('generator', None,
                      'Converted generator directory, or "toy".')
  flags.DEFINE_integer('seed', None, 'export: the z seed.')
  flags.DEFINE_string('out', None,
                      'export: output directory; import: output .npz.')
  flags.DEFINE_float('psi', None,
                     'Truncation psi (export 1.0, import_reference 0.7).')
  flags.DEFINE_string('class_names', None, 'Comma-separated class names.')
  flags.DEFINE_integer('resolution', None,
                       'Render only up to this resolution.')
  flags.DEFINE_bool('overwrite', None, 'Replace an existing output.')
  flags.DEFINE_string('export', None, 'import: the export directory.')
  flags.DEFINE_string('mask', None, 'import: the painted mask image.')
  flags.DEFINE_string('palette', None,
                      'import: palette JSON (default: the export\'s).')
  flags.DEFINE_string('latents', None, 'import_reference: latents.pt.')
  flags.DEFINE_string('labels', None, 'import_reference: labels.pt.')
  flags.DEFINE_string('data_dir', None,
                      'import_reference: TFDS data directory.')
  flags.DEFINE_string('name', None, 'import_reference: dataset name.')


def _parse_flags(argv: list[str]) -> list[str]:
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f'{USAGE}\nlabel: error: {_one_line(e)}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  _define_flags()
  app.run(main, flags_parser=_parse_flags)
