"""The reference code's labelled test data, imported without torch.

`import_reference` (behind `stylegan-seg label import_reference`) converts
the reference code's test data (`latents.pt`: a tuple or list whose first
element is W [N, w_dim], or a bare W+ tensor [N, num_ws, w_dim];
`labels.pt`: an [N, H, W] integer map, torch tensor or numpy array,
multiplied by 255 when its max is below 1) into a labelled TFDS set
(`labelled_set.write`, split 'test'), reading the files without torch. Each
image is rendered from the stored (untruncated) w with truncation psi and
the stored noise; seeds are -1 and z zeros (unknown).

Bad input raises ValueError or OSError with a one-line message, and nothing
is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
import io
import os
import pathlib
import re
import shutil

import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.convert import readers
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.data import labelling
from stylegan_seg_jax.runtime import files

__all__ = ['import_reference', 'pad_labels', 'resize_nearest']


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
                     log: labelling.Log = print) -> pathlib.Path:
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
  names = labelling.parse_class_names(class_names)
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
  images = labelling.render(gen, w, psi)
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
