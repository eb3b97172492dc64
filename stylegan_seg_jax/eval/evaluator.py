"""The evaluator shared by the training stages and the evaluation binary.

`evaluate_method` segments every test latent on the fly (one jitted
generator + head call per batch, sharded over the devices), scores the
predictions with `metrics.MetricAccumulator` and times the segmentation
(images/s after compilation). `write_report` writes what the evaluation
binary leaves under `WORKDIR/eval/`. The one-shot stage's periodic
evaluation and `stages.evaluation` call the same function, so their numbers
agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import dataclasses
import json
import pathlib
from typing import Any

import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.eval import metrics as metrics_lib
from stylegan_seg_jax.eval import segmentation
from stylegan_seg_jax.method import segmenters
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.runtime import pictures

__all__ = ['MethodResult', 'evaluate_method', 'write_report',
           'markdown_table', 'TABLE_METRICS', 'METRICS_FILE']

# The report's scores, in the eval directory (written last).
METRICS_FILE = 'metrics.json'

# Columns of the markdown table, in order.
TABLE_METRICS = ('miou_per_image', 'miou_dataset', 'miou_reference',
                 'normalized_wiou', 'paper_wiou', 'fg_iou', 'fg_iou_last',
                 'fw_iou', 'dice', 'pd50', 'bbox_iou')


@dataclasses.dataclass
class MethodResult:
  """One method's evaluation.

  Attributes:
    name: method.
    metrics: `MetricAccumulator.result()` plus 'images_per_s', 'seconds'.
    labels: [N, R, R] uint8 predictions.
    images: [N, R, R, 3] uint8 generated images.
    uncertainty: [N] per-image uncertainty (entropy or ensemble JS).
  """

  name: str
  metrics: dict[str, Any]
  labels: np.ndarray
  images: np.ndarray
  uncertainty: np.ndarray


def evaluate_method(segmenter: segmenters.Segmenter, variables: Any,
                    frozen: Any, gen: stylegan2.Generator,
                    test: experiment.TestSet, batch_size: int,
                    progress: Callable[[int], Any] | None = None,
                    bbox_bounds: str = 'inclusive') -> MethodResult:
  """Segments and scores the test set with one trained method.

  Args:
    segmenter: the method.
    variables: its head variables {'params', 'batch_stats'}.
    frozen: its frozen inputs (SwAV head, k-means centres, ...).
    gen: the frozen generator.
    test: the labelled test set.
    batch_size: images per segmentation call.
    progress: called with the number of images done after each batch.
    bbox_bounds: box convention of the bounding-box metrics
      (`metrics.BBOX_BOUNDS`).

  Returns:
    The method's metrics, predictions, images and uncertainties.
  """
  mesh = parallel.make_mesh(None)
  if mesh.size == 1:
    mesh = None
  fn = segmentation.make_segment_fn(gen, segmenter, mesh)
  ws = np.asarray(gen.truncate(test.w, test.psi))
  images, labels, unc, seconds = segmentation.segment_all(
      fn, gen.variables, variables, frozen, ws, batch_size,
      progress=progress, mesh=mesh)
  num_classes = len(test.class_names)
  # Reference XXS heads emit 12 logits: an id beyond the classes is no class.
  labels = np.where(labels < num_classes, labels, 255).astype(np.uint8)
  acc = metrics_lib.MetricAccumulator(num_classes, test.class_names,
                                      bbox_bounds)
  acc.update(test.masks.astype(np.int64), _clip_unknown(labels, num_classes))
  result = acc.result()
  result['images_per_s'] = len(ws) / max(seconds, 1e-9)
  result['seconds'] = seconds
  return MethodResult(segmenter.name, result, labels,
                      pictures.to_uint8(images), np.asarray(unc))


def _clip_unknown(labels: np.ndarray, num_classes: int) -> np.ndarray:
  return segmentation.unknown_as_background(labels, num_classes).astype(
      np.int64)


def markdown_table(results: Sequence[MethodResult]) -> str:
  """A markdown table: one row per method, TABLE_METRICS and images/s."""
  cols = list(TABLE_METRICS) + ['images_per_s']
  lines = ['| method | ' + ' | '.join(cols) + ' |',
           '|---' * (len(cols) + 1) + '|']
  for r in results:
    cells = []
    for c in cols:
      v = r.metrics.get(c)
      cells.append('n/a' if v is None else
                   (f'{v:.1f}' if c == 'images_per_s' else f'{v:.4f}'))
    lines.append(f'| {r.name} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def write_report(out_dir: pathlib.Path, results: Sequence[MethodResult],
                 test: experiment.TestSet, num_overlays: int,
                 extra: dict[str, Any] | None = None) -> None:
  """metrics.json, metrics.md, and per method predictions, overlays, curves.

  Per method: `<method>_predictions.npz`, `<method>_overlay.png` and
  `<method>_iou_pd.png` (the IoU-vs-PD curve per class and its mean).

  Args:
    out_dir: an (empty, scratch) directory to fill.
    results: per-method evaluations.
    test: the test set they were scored on.
    num_overlays: images per overlay grid (rows: image | prediction | truth).
    extra: more JSON fields (config, one-shot example, ...).
  """
  num_classes = len(test.class_names)
  payload = {
      'test_set': test.source, 'num_test': len(test),
      'class_names': list(test.class_names), 'psi': test.psi,
      'metric_docs': metrics_lib.METRIC_DOCS, **(extra or {}),
      'methods': {r.name: r.metrics for r in results},
  }
  (out_dir / METRICS_FILE).write_text(json.dumps(payload, indent=2))
  (out_dir / 'metrics.md').write_text(markdown_table(results))
  k = min(num_overlays, len(test))
  for r in results:
    np.savez_compressed(out_dir / f'{r.name}_predictions.npz',
                        labels=r.labels, uncertainty=r.uncertainty,
                        seeds=test.seeds, indices=test.indices, w=test.w,
                        psi=np.float32(test.psi),
                        class_names=np.array(test.class_names))
    pred = _clip_unknown(r.labels, num_classes)
    rows = [[r.images[i] for i in range(k)],
            [pictures.overlay(r.images[i], pred[i], num_classes, 0.6)
             for i in range(k)],
            [pictures.overlay(r.images[i], test.masks[i], num_classes, 0.6)
             for i in range(k)]]
    curve = r.metrics['iou_pd_curve']
    pictures.save_curves(
        out_dir / f'{r.name}_iou_pd.png', curve['thresholds'],
        [*curve['per_class'].items(), ('mean', curve['mean'])],
        title=f'{r.name}: share of images with IoU > threshold (PD)',
        x_label='IoU threshold', y_label='PD', highlight='mean')
    pictures.save_grid(out_dir / f'{r.name}_overlay.png', rows, scale=2,
                        footer=pictures.legend(test.class_names))
