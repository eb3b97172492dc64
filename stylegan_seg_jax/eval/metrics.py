"""Segmentation metrics: the paper's reference numbers and corrected variants.

Masks are integer arrays [N, H, W] (a single [H, W] mask is read as N = 1)
with values in [0, num_classes); class 0 is background. G is the ground
truth, P the prediction, |.| a pixel count, and every "mean over classes"
runs over all classes, background included.

Per image (from each image's confusion matrix):

* IoU_c = |G=c ∧ P=c| / |G=c ∨ P=c|. A class absent from both G and P has
  no IoU: the reference code scores it 0 (`absent='zero'`); the corrected
  variant gives NaN (`absent='nan'`), which means then skip.
* Paper wIoU = sum_{c != 0} (|G=c| / (H W)) IoU_c (absent-zero IoU). The
  weights are areas over the whole image, so a perfect prediction scores
  the foreground fraction rather than 1.
* Normalized wIoU: the same with weights |G=c| / |G>0|, so a perfect
  prediction scores 1; NaN for an image whose G has no foreground.
* Foreground IoU: binary IoU of (G>0) against (P>0); NaN if both are empty.

Over a data set (`MetricAccumulator`, `summarize`; see `METRIC_DOCS`):

* The reference ("as coded") numbers average absent-zero per-image values
  over all images; it logs foreground IoU only for the last image.
* The per-image corrected numbers skip images where a class is absent.
* The data-set numbers (DatasetGAN / DDPM-segmentation convention) sum
  intersections and unions over all images before dividing:
  IoU_c = sum |G=c ∧ P=c| / sum |G=c ∨ P=c|, averaged over classes whose
  union is not empty. Dice_c = 2 IoU_c / (IoU_c + 1) (= 2|G∧P| / (|G|+|P|)).
* PD@0.5 (the fraction of images whose IoU_c is above 0.5, strictly) is
  taken over images whose G contains c (corrected), or over all images with
  absent-zero IoU (reference). The IoU-vs-PD curve is PD at each of
  `CURVE_THRESHOLDS` (20 thresholds from 0 to 1, the reference's).

Bounding boxes (per image and class): the box of a mask spans its first to
last row and column. The box IoU compares the regions the two boxes cover.
With `bbox_bounds='inclusive'` (default) a box covers its last row and
column; the reference fills `box[ymin:ymax, xmin:xmax]` on top of the mask
(`'exclusive'`), which drops the last row and column except where the mask
itself lies. A class absent from G or from P has box IoU 0; absent from both,
NaN (skipped) in the corrected means and 0 in the reference ones.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from typing import Any, overload

import numpy as np

__all__ = ['per_image_iou', 'paper_wiou', 'normalized_wiou', 'fg_iou',
           'bbox_iou', 'iou_pd_curve', 'MetricAccumulator', 'summarize',
           'METRIC_DOCS', 'CURVE_THRESHOLDS', 'BBOX_BOUNDS']

# PD is read off the IoU at these thresholds (the reference's
# np.linspace(0, 1, int(1 / 0.05))).
CURVE_THRESHOLDS = np.linspace(0.0, 1.0, 20)
BBOX_BOUNDS = ('inclusive', 'exclusive')

METRIC_DOCS: dict[str, str] = {
    'num_images': 'number of images evaluated',
    'paper_wiou': ('mean over images of sum_{c>0} (|G=c| / image area) IoU_c '
                   '(reference; a perfect prediction scores the foreground '
                   'fraction)'),
    'normalized_wiou': ('mean over images of sum_{c>0} (|G=c| / |G>0|) IoU_c '
                        '(perfect = 1; images without foreground skipped)'),
    'fg_iou': ('mean over images of the binary IoU of G>0 vs P>0 (images '
               'with both empty skipped)'),
    'fg_iou_last': ('binary foreground IoU of the last image only (what the '
                    'reference logs)'),
    'miou_reference': ('mean over classes of the mean over images of IoU_c, '
                       'absent classes scored 0 (reference "Mean Mask IoU")'),
    'miou_per_image': ('mean over classes of the mean over images of IoU_c, '
                       'images where c is absent from G and P skipped'),
    'miou_dataset': ('mean over classes of sum(intersection) / sum(union) '
                     'over all images (DatasetGAN/DDPM convention)'),
    'fw_iou': ('sum over classes of (ground-truth pixel share) x data-set '
               'IoU_c (frequency-weighted IoU)'),
    'dice': 'mean over classes of 2 IoU_c / (IoU_c + 1) with data-set IoU_c',
    'dice_reference': ('mean over classes of the mean over images of '
                       '2 IoU_c / (IoU_c + 1), absent-zero IoU (reference)'),
    'pd50': ('mean over classes of the fraction of images containing c in G '
             'whose IoU_c > 0.5'),
    'pd50_reference': ('mean over classes of the fraction of all images whose '
                       'absent-zero IoU_c > 0.5 (reference)'),
    'bbox_iou': ('mean over classes of the mean over images of the '
                 'bounding-box IoU_c, images where c is absent from G and P '
                 'skipped'),
    'bbox_iou_reference': ('mean over classes of the mean over images of the '
                           'bounding-box IoU_c, absent classes scored 0 '
                           '(reference)'),
    'bbox_dice': 'mean over classes of 2 bbox_iou_c / (bbox_iou_c + 1)',
    'bbox_dice_reference': ('mean over classes of the mean over images of '
                            '2 box IoU_c / (box IoU_c + 1), absent-zero '
                            '(reference)'),
    'bbox_bounds': "'inclusive' boxes (default) or the reference's "
                   "'exclusive' slicing",
    'iou_pd_curve': ('PD at each IoU threshold: thresholds, per class and '
                     'the mean over classes (among images containing c), '
                     'and the reference curve (all images, absent-zero IoU)'),
    'per_class': ('per class: iou_reference, iou_per_image, iou_dataset, '
                  'dice, pd50, bbox_iou, bbox_dice'),
}


def _check_masks(gt: np.ndarray, pred: np.ndarray,
                 num_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
  """Validates a mask pair and returns both as int64 [N, H, W]."""
  gt, pred = np.asarray(gt), np.asarray(pred)
  if gt.shape != pred.shape:
    raise ValueError(f'gt and pred shapes differ: {gt.shape} vs {pred.shape}')
  if gt.ndim not in (2, 3):
    raise ValueError(f'masks must be [N, H, W] or [H, W], got shape {gt.shape}')
  if gt.size == 0:
    raise ValueError(f'masks are empty: shape {gt.shape}')
  for name, m in (('gt', gt), ('pred', pred)):
    if not np.issubdtype(m.dtype, np.integer):
      raise ValueError(f'{name} must have an integer dtype, got {m.dtype}')
    lo, hi = int(m.min()), int(m.max())
    if lo < 0 or (num_classes is not None and hi >= num_classes):
      top = 'inf' if num_classes is None else num_classes
      raise ValueError(f'{name} values must lie in [0, {top}), got min {lo} '
                       f'max {hi}')
  if gt.ndim == 2:
    gt, pred = gt[None], pred[None]
  return gt.astype(np.int64), pred.astype(np.int64)


def _check_num_classes(num_classes: int) -> None:
  if int(num_classes) != num_classes or num_classes < 1:
    raise ValueError(f'num_classes must be a positive integer, got '
                     f'{num_classes!r}')


def _confusion(gt: np.ndarray, pred: np.ndarray, num_classes: int
               ) -> np.ndarray:
  """Per-image confusion matrices [N, C, C] (int64): [n, g, p] pixel counts.

  Args:
    gt: validated int64 [N, H, W].
    pred: validated int64 [N, H, W].
    num_classes: C.
  """
  n = gt.shape[0]
  c = num_classes
  image = np.arange(n, dtype=np.int64)[:, None, None]
  index = (image * c + gt) * c + pred
  counts = np.bincount(index.ravel(), minlength=n * c * c)
  return counts.reshape(n, c, c)


def _areas(conf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(intersection, union, gt area), each [N, C] int64, from [N, C, C]."""
  inter = np.diagonal(conf, axis1=1, axis2=2)
  gt_area = conf.sum(axis=2)
  union = gt_area + conf.sum(axis=1) - inter
  return inter, union, gt_area


def _iou(conf: np.ndarray, absent: str) -> np.ndarray:
  """[N, C] float64 IoU; absent classes 0 or NaN."""
  if absent not in ('zero', 'nan'):
    raise ValueError(f"absent must be 'zero' or 'nan', got {absent!r}")
  inter, union, _ = _areas(conf)
  fill = 0.0 if absent == 'zero' else np.nan
  out = np.full(inter.shape, fill, np.float64)
  np.divide(inter, union, out=out, where=union > 0)
  return out


def _paper_wiou(conf: np.ndarray) -> np.ndarray:
  iou = _iou(conf, 'zero')
  gt_area = conf.sum(axis=2)
  pixels = gt_area.sum(axis=1, keepdims=True)
  return (gt_area[:, 1:] / pixels * iou[:, 1:]).sum(axis=1)


def _normalized_wiou(conf: np.ndarray) -> np.ndarray:
  iou = _iou(conf, 'zero')
  gt_area = conf.sum(axis=2)[:, 1:]
  fg = gt_area.sum(axis=1)
  weighted = (gt_area * iou[:, 1:]).sum(axis=1)
  out = np.full(fg.shape, np.nan, np.float64)
  np.divide(weighted, fg, out=out, where=fg > 0)
  return out


def _fg_iou(conf: np.ndarray) -> np.ndarray:
  inter = conf[:, 1:, 1:].sum(axis=(1, 2))
  union = conf.sum(axis=(1, 2)) - conf[:, 0, 0]
  out = np.full(inter.shape, np.nan, np.float64)
  np.divide(inter, union, out=out, where=union > 0)
  return out


def per_image_iou(gt: np.ndarray, pred: np.ndarray, num_classes: int,
                  absent: str = 'zero') -> np.ndarray:
  """Per-image, per-class IoU.

  Args:
    gt: ground-truth integer masks [N, H, W] or [H, W] (N = 1).
    pred: predicted integer masks, same shape.
    num_classes: C; values must lie in [0, C).
    absent: 'zero' scores a class absent from both masks 0 (the paper's
      reference code); 'nan' gives NaN (the corrected variant).

  Returns:
    [N, C] float64.

  Raises:
    ValueError: shapes differ, values out of range, or a bad `absent`.
  """
  _check_num_classes(num_classes)
  gt, pred = _check_masks(gt, pred, num_classes)
  return _iou(_confusion(gt, pred, num_classes), absent)


def paper_wiou(gt: np.ndarray, pred: np.ndarray, num_classes: int
               ) -> np.ndarray:
  """The paper's weighted IoU: sum_{c>0} (|G=c| / (H W)) IoU_c per image.

  Args:
    gt: ground-truth integer masks [N, H, W] or [H, W] (N = 1).
    pred: predicted integer masks, same shape.
    num_classes: C; values must lie in [0, C).

  Returns:
    [N] float64; a perfect prediction scores the foreground fraction.
  """
  _check_num_classes(num_classes)
  gt, pred = _check_masks(gt, pred, num_classes)
  return _paper_wiou(_confusion(gt, pred, num_classes))


def normalized_wiou(gt: np.ndarray, pred: np.ndarray, num_classes: int
                    ) -> np.ndarray:
  """Weighted IoU with weights |G=c| / |G>0| over c > 0, per image.

  Args:
    gt: ground-truth integer masks [N, H, W] or [H, W] (N = 1).
    pred: predicted integer masks, same shape.
    num_classes: C; values must lie in [0, C).

  Returns:
    [N] float64; a perfect prediction scores 1, an image whose ground truth
    has no foreground NaN.
  """
  _check_num_classes(num_classes)
  gt, pred = _check_masks(gt, pred, num_classes)
  return _normalized_wiou(_confusion(gt, pred, num_classes))


def fg_iou(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
  """Binary foreground IoU of (G > 0) against (P > 0), per image.

  Args:
    gt: ground-truth non-negative integer masks [N, H, W] or [H, W] (N = 1).
    pred: predicted non-negative integer masks, same shape.

  Returns:
    [N] float64; NaN where both masks are all background.
  """
  gt, pred = _check_masks(gt, pred, None)
  return _fg_iou(_confusion(np.minimum(gt, 1), np.minimum(pred, 1), 2))


def _boxes(masks: np.ndarray, num_classes: int) -> tuple[np.ndarray, ...]:
  """Per image and class: (present [N, C] bool, ymin, ymax, xmin, xmax)."""
  onehot = masks[:, None] == np.arange(num_classes)[None, :, None, None]
  rows, cols = onehot.any(axis=3), onehot.any(axis=2)  # [N, C, H], [N, C, W]
  present = rows.any(axis=2)
  h, w = masks.shape[1:]
  first = lambda a: np.argmax(a, axis=2)
  last = lambda a, n: n - 1 - np.argmax(a[..., ::-1], axis=2)
  return (present, first(rows), last(rows, h), first(cols), last(cols, w),
          onehot)


def _box_regions(masks: np.ndarray, num_classes: int, bounds: str
                 ) -> tuple[np.ndarray, np.ndarray]:
  """(present [N, C], region covered by each class's box [N, C, H, W])."""
  present, y0, y1, x0, x1, onehot = _boxes(masks, num_classes)
  h, w = masks.shape[1:]
  r = np.arange(h)[None, None, :]
  c = np.arange(w)[None, None, :]
  if bounds == 'inclusive':
    in_rows = (r >= y0[..., None]) & (r <= y1[..., None])
    in_cols = (c >= x0[..., None]) & (c <= x1[..., None])
  else:  # the reference: box[ymin:ymax, xmin:xmax] = 1 over the mask
    in_rows = (r >= y0[..., None]) & (r < y1[..., None])
    in_cols = (c >= x0[..., None]) & (c < x1[..., None])
  region = in_rows[..., :, None] & in_cols[..., None, :]
  if bounds == 'exclusive':
    region |= onehot
  return present, region & present[..., None, None]


def _bbox_iou(gt: np.ndarray, pred: np.ndarray, num_classes: int,
              bounds: str) -> np.ndarray:
  """Box IoU [N, C]: 0 if the class is absent from one mask, NaN if both."""
  if bounds not in BBOX_BOUNDS:
    raise ValueError(f'bbox_bounds must be one of {BBOX_BOUNDS}, got '
                     f'{bounds!r}')
  in_gt, box_gt = _box_regions(gt, num_classes, bounds)
  in_pred, box_pred = _box_regions(pred, num_classes, bounds)
  inter = (box_gt & box_pred).sum(axis=(2, 3))
  union = (box_gt | box_pred).sum(axis=(2, 3))
  out = np.where(in_gt | in_pred, 0.0, np.nan)
  np.divide(inter, union, out=out, where=in_gt & in_pred)
  return out


def bbox_iou(gt: np.ndarray, pred: np.ndarray, num_classes: int,
             bounds: str = 'inclusive') -> np.ndarray:
  """Per-image, per-class bounding-box IoU.

  Args:
    gt: ground-truth integer masks [N, H, W] or [H, W] (N = 1).
    pred: predicted integer masks, same shape.
    num_classes: C; values must lie in [0, C).
    bounds: 'inclusive' boxes, or the reference's 'exclusive' slicing (see
      the module doc).

  Returns:
    [N, C] float64: 0 where the class is absent from exactly one mask, NaN
    where it is absent from both.
  """
  _check_num_classes(num_classes)
  gt, pred = _check_masks(gt, pred, num_classes)
  return _bbox_iou(gt, pred, num_classes, bounds)


def iou_pd_curve(iou: np.ndarray, counted: np.ndarray | None = None,
                 thresholds: np.ndarray = CURVE_THRESHOLDS) -> np.ndarray:
  """PD (share of images with IoU_c > t) at each threshold, per class.

  Args:
    iou: [N, C] per-image IoU (absent-zero).
    counted: [N, C] bool, which images count for each class (default all:
      the reference); the corrected curve counts images containing c.
    thresholds: [T] IoU thresholds.

  Returns:
    [T, C] float64 (NaN for a class no image counts for).
  """
  iou = np.asarray(iou, np.float64)
  counted = np.ones(iou.shape, bool) if counted is None else counted
  hits = ((iou[None] > np.asarray(thresholds)[:, None, None])
          & counted[None]).sum(axis=1)
  with np.errstate(invalid='ignore', divide='ignore'):
    return hits / counted.sum(axis=0)[None]


@overload
def _nanmean(x: np.ndarray, axis: None = None) -> float:
  ...


@overload
def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
  ...


def _nanmean(x: np.ndarray, axis: int | None = None) -> np.ndarray | float:
  """np.nanmean without the all-NaN warning (all-NaN slices give NaN)."""
  x = np.asarray(x, np.float64)
  valid = ~np.isnan(x)
  count = valid.sum(axis=axis)
  total = np.where(valid, x, 0.0).sum(axis=axis)
  with np.errstate(invalid='ignore', divide='ignore'):
    return total / count


def _py(x: Any) -> float | None:
  """A float for JSON: NaN becomes None."""
  x = float(x)
  return None if math.isnan(x) else x


class MetricAccumulator:
  """Collects masks batch by batch and summarises them (see `METRIC_DOCS`).

  Per-image values are kept and averaged only in `result`, and the data-set
  sums are integer counts, so any split into batches gives exactly the same
  result as one update with everything. Images may differ in size between
  batches.
  """

  def __init__(self, num_classes: int,
               class_names: Sequence[str] | None = None,
               bbox_bounds: str = 'inclusive'):
    """Sets up an empty accumulator.

    Args:
      num_classes: C; mask values must lie in [0, C).
      class_names: C distinct names for `per_class`; default 'class_<i>'.
      bbox_bounds: 'inclusive' boxes or the reference's 'exclusive' slicing.
    """
    _check_num_classes(num_classes)
    if bbox_bounds not in BBOX_BOUNDS:
      raise ValueError(f'bbox_bounds must be one of {BBOX_BOUNDS}, got '
                       f'{bbox_bounds!r}')
    self.bbox_bounds = bbox_bounds
    self.num_classes = int(num_classes)
    if class_names is None:
      class_names = [f'class_{i}' for i in range(self.num_classes)]
    class_names = [str(n) for n in class_names]
    if len(class_names) != self.num_classes:
      raise ValueError(f'{len(class_names)} class names for '
                       f'{self.num_classes} classes')
    if len(set(class_names)) != len(class_names):
      raise ValueError(f'class names are not distinct: {class_names}')
    self.class_names = class_names
    c = self.num_classes
    self._iou_zero: list[np.ndarray] = []  # [n, C] each
    self._present: list[np.ndarray] = []  # [n, C] bool, |G=c ∨ P=c| > 0
    self._in_gt: list[np.ndarray] = []  # [n, C] bool, |G=c| > 0
    self._paper_wiou: list[np.ndarray] = []
    self._normalized_wiou: list[np.ndarray] = []
    self._fg_iou: list[np.ndarray] = []
    self._bbox_iou: list[np.ndarray] = []  # [n, C], NaN if absent from both
    self._inter = np.zeros(c, np.int64)
    self._union = np.zeros(c, np.int64)
    self._gt_area = np.zeros(c, np.int64)
    self._pixels = 0

  def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
    """Adds a batch.

    Args:
      gt: ground-truth integer masks [N, H, W] or [H, W] (N = 1).
      pred: predicted integer masks, same shape.

    Raises:
      ValueError: shapes differ or values are out of range.
    """
    gt, pred = _check_masks(gt, pred, self.num_classes)
    conf = _confusion(gt, pred, self.num_classes)
    inter, union, gt_area = _areas(conf)
    self._iou_zero.append(_iou(conf, 'zero'))
    self._present.append(union > 0)
    self._in_gt.append(gt_area > 0)
    self._paper_wiou.append(_paper_wiou(conf))
    self._normalized_wiou.append(_normalized_wiou(conf))
    self._fg_iou.append(_fg_iou(conf))
    self._bbox_iou.append(_bbox_iou(gt, pred, self.num_classes,
                                    self.bbox_bounds))
    self._inter += inter.sum(axis=0)
    self._union += union.sum(axis=0)
    self._gt_area += gt_area.sum(axis=0)
    self._pixels += int(gt.size)

  @property
  def num_images(self) -> int:
    """The number of images added so far."""
    return sum(len(x) for x in self._paper_wiou)

  def result(self) -> dict[str, Any]:
    """The summary: keys as in `METRIC_DOCS`.

    Returns:
      A JSON-serialisable dict of Python ints/floats. Any value that is
      undefined (NaN; e.g. normalized_wiou when no image has foreground, or a
      class that never occurs) is encoded as None, both at the top level and
      under 'per_class'.

    Raises:
      ValueError: no images were added.
    """
    if not self.num_images:
      raise ValueError('no images were added')
    iou_zero = np.concatenate(self._iou_zero)
    present = np.concatenate(self._present)
    in_gt = np.concatenate(self._in_gt)
    fg = np.concatenate(self._fg_iou)
    iou_nan = np.where(present, iou_zero, np.nan)

    # Reference: absent-zero, plain means over images.
    class_iou_ref = iou_zero.mean(axis=0)
    class_dice_ref = (2 * iou_zero / (iou_zero + 1)).mean(axis=0)
    class_pd_ref = (iou_zero > 0.5).mean(axis=0)
    # Corrected per-image: skip images where the class is absent.
    class_iou_img = _nanmean(iou_nan, axis=0)
    hits = ((iou_zero > 0.5) & in_gt).sum(axis=0)
    with np.errstate(invalid='ignore', divide='ignore'):
      class_pd = hits / in_gt.sum(axis=0)
    # Data set: ratios of summed counts.
    class_iou_ds = np.full(self.num_classes, np.nan)
    np.divide(self._inter, self._union, out=class_iou_ds,
              where=self._union > 0)
    class_dice = 2 * class_iou_ds / (class_iou_ds + 1)
    weights = self._gt_area / self._pixels
    fw_iou = np.where(weights > 0, weights * class_iou_ds, 0.0).sum()
    # Boxes: corrected (absent from both skipped) and reference (zero).
    box = np.concatenate(self._bbox_iou)
    box_zero = np.nan_to_num(box, nan=0.0)
    class_box = _nanmean(box, axis=0)
    class_box_dice = 2 * class_box / (class_box + 1)
    curve = iou_pd_curve(iou_zero, in_gt)
    curve_ref = iou_pd_curve(iou_zero)

    per_class = {}
    for i, name in enumerate(self.class_names):
      per_class[name] = {
          'iou_reference': _py(class_iou_ref[i]),
          'iou_per_image': _py(class_iou_img[i]),
          'iou_dataset': _py(class_iou_ds[i]),
          'dice': _py(class_dice[i]),
          'pd50': _py(class_pd[i]),
          'bbox_iou': _py(class_box[i]),
          'bbox_dice': _py(class_box_dice[i]),
      }
    return {
        'num_images': int(self.num_images),
        'paper_wiou': _py(np.concatenate(self._paper_wiou).mean()),
        'normalized_wiou': _py(_nanmean(
            np.concatenate(self._normalized_wiou))),
        'fg_iou': _py(_nanmean(fg)),
        'fg_iou_last': _py(fg[-1]),
        'miou_reference': _py(class_iou_ref.mean()),
        'miou_per_image': _py(_nanmean(class_iou_img)),
        'miou_dataset': _py(_nanmean(class_iou_ds)),
        'fw_iou': _py(fw_iou),
        'dice': _py(_nanmean(class_dice)),
        'dice_reference': _py(class_dice_ref.mean()),
        'pd50': _py(_nanmean(class_pd)),
        'pd50_reference': _py(class_pd_ref.mean()),
        'bbox_iou': _py(_nanmean(class_box)),
        'bbox_iou_reference': _py(box_zero.mean(axis=0).mean()),
        'bbox_dice': _py(_nanmean(class_box_dice)),
        'bbox_dice_reference': _py(
            (2 * box_zero / (box_zero + 1)).mean(axis=0).mean()),
        'bbox_bounds': self.bbox_bounds,
        'iou_pd_curve': {
            'thresholds': [float(t) for t in CURVE_THRESHOLDS],
            'mean': [_py(v) for v in _nanmean(curve, axis=1)],
            'mean_reference': [_py(v) for v in curve_ref.mean(axis=1)],
            'per_class': {name: [_py(v) for v in curve[:, i]]
                          for i, name in enumerate(self.class_names)},
        },
        'per_class': per_class,
    }


def summarize(gt: np.ndarray, pred: np.ndarray, num_classes: int,
              class_names: Sequence[str] | None = None,
              bbox_bounds: str = 'inclusive') -> dict[str, Any]:
  """`MetricAccumulator` result for one batch of masks [N, H, W] or [H, W]."""
  acc = MetricAccumulator(num_classes, class_names, bbox_bounds)
  acc.update(gt, pred)
  return acc.result()
