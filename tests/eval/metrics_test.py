"""Segmentation metrics against hand-computed values."""

import json

import numpy as np
import pytest

from stylegan_seg_jax.eval import metrics

pytestmark = pytest.mark.fast

# Two 3x3 images, 3 classes. Pixel (row, col).
#
# Image A
#   gt        pred
#   0 1 1     0 1 1
#   0 1 2     1 1 2
#   0 0 2     0 0 2
# |G=0| = 4 {(0,0),(1,0),(2,0),(2,1)}, |P=0| = 3 {(0,0),(2,0),(2,1)}
#   inter 3, union 4 + 3 - 3 = 4        -> IoU_0 = 3/4
# |G=1| = 3 {(0,1),(0,2),(1,1)}, |P=1| = 4 (adds (1,0))
#   inter 3, union 3 + 4 - 3 = 4        -> IoU_1 = 3/4
# |G=2| = 2 {(1,2),(2,2)}, |P=2| = 2 (same) -> IoU_2 = 1
# fg: G>0 5 px, P>0 6 px (G>0 plus (1,0)): inter 5, union 6 -> 5/6
# paper wIoU = 3/9 * 3/4 + 2/9 * 1 = 1/4 + 2/9 = 17/36
# normalized wIoU = 3/5 * 3/4 + 2/5 * 1 = 9/20 + 8/20 = 17/20
#
# Image B (class 2 absent from both)
#   gt        pred
#   0 0 0     0 0 0
#   0 1 1     0 1 0
#   0 0 0     0 0 0
# |G=0| = 7, |P=0| = 8, inter 7, union 8 -> IoU_0 = 7/8
# |G=1| = 2, |P=1| = 1, inter 1, union 2 -> IoU_1 = 1/2
# class 2: union 0 -> 0 (absent='zero') or NaN (absent='nan')
# fg = class 1 here -> 1/2
# paper wIoU = 2/9 * 1/2 = 1/9;  normalized wIoU = 2/2 * 1/2 = 1/2
GT_A = np.array([[0, 1, 1], [0, 1, 2], [0, 0, 2]])
PRED_A = np.array([[0, 1, 1], [1, 1, 2], [0, 0, 2]])
GT_B = np.array([[0, 0, 0], [0, 1, 1], [0, 0, 0]])
PRED_B = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
GT = np.stack([GT_A, GT_B])
PRED = np.stack([PRED_A, PRED_B])


def test_per_image_iou_absent_zero_vs_nan():
  np.testing.assert_allclose(
      metrics.per_image_iou(GT, PRED, 3),
      [[3 / 4, 3 / 4, 1.0], [7 / 8, 1 / 2, 0.0]], rtol=0, atol=1e-15)
  np.testing.assert_allclose(
      metrics.per_image_iou(GT, PRED, 3, absent='nan'),
      [[3 / 4, 3 / 4, 1.0], [7 / 8, 1 / 2, np.nan]], rtol=0, atol=1e-15)
  assert metrics.per_image_iou(GT, PRED, 3).dtype == np.float64


def test_single_image_is_batch_of_one():
  np.testing.assert_allclose(metrics.per_image_iou(GT_A, PRED_A, 3),
                             [[3 / 4, 3 / 4, 1.0]], rtol=0, atol=1e-15)
  np.testing.assert_allclose(metrics.paper_wiou(GT_B, PRED_B, 3), [1 / 9],
                             rtol=0, atol=1e-15)


def test_paper_wiou_of_perfect_prediction_is_foreground_fraction():
  # 5 of 9 pixels of A and 2 of 9 of B are foreground.
  np.testing.assert_allclose(metrics.paper_wiou(GT, GT, 3), [5 / 9, 2 / 9],
                             rtol=0, atol=1e-15)


def test_normalized_wiou_of_perfect_prediction_is_one():
  empty = np.zeros((3, 3), int)
  np.testing.assert_allclose(
      metrics.normalized_wiou(np.stack([GT_A, GT_B, empty]),
                              np.stack([GT_A, GT_B, empty]), 3),
      [1.0, 1.0, np.nan], rtol=0, atol=1e-15)


def test_partly_wrong_weighted_ious():
  np.testing.assert_allclose(metrics.paper_wiou(GT, PRED, 3),
                             [17 / 36, 1 / 9], rtol=0, atol=1e-15)
  np.testing.assert_allclose(metrics.normalized_wiou(GT, PRED, 3),
                             [17 / 20, 1 / 2], rtol=0, atol=1e-15)


def test_fg_iou_per_image_and_both_empty():
  empty = np.zeros((3, 3), int)
  np.testing.assert_allclose(
      metrics.fg_iou(np.stack([GT_A, GT_B, empty]),
                     np.stack([PRED_A, PRED_B, empty])),
      [5 / 6, 1 / 2, np.nan], rtol=0, atol=1e-15)


def test_summary_of_two_images():
  r = metrics.summarize(GT, PRED, 3, class_names=['bg', 'skin', 'hair'])
  # Means over images of the per-image values above.
  #   paper: (17/36 + 4/36) / 2 = 7/24;  normalized: (17/20 + 10/20) / 2 = 27/40
  #   fg: (5/6 + 1/2) / 2 = 2/3; last image: 1/2
  # Per class, mean over images, absent-zero:
  #   c0 (3/4 + 7/8)/2 = 13/16, c1 (3/4 + 1/2)/2 = 5/8, c2 (1 + 0)/2 = 1/2
  #   miou_reference = (13/16 + 10/16 + 8/16) / 3 = 31/48
  # Per class, absent images skipped: c0 13/16, c1 5/8, c2 1 (image A only)
  #   miou_per_image = (13/16 + 10/16 + 16/16) / 3 = 13/16
  # Data set: inter / union summed over images:
  #   c0 (3+7)/(4+8) = 5/6, c1 (3+1)/(4+2) = 2/3, c2 (2+0)/(2+0) = 1
  #   miou_dataset = (5/6 + 4/6 + 6/6) / 3 = 5/6
  # fw_iou: |G=c| summed: 11, 5, 2 of 18 pixels
  #   11/18 * 5/6 + 5/18 * 2/3 + 2/18 * 1 = (55 + 20 + 12)/108 = 29/36
  # dice from data-set IoU, 2I/(I+1): c0 10/11, c1 4/5, c2 1
  #   (= 2 inter / (|G| + |P|): 20/22, 8/10, 4/4)
  #   dice = (10/11 + 4/5 + 1) / 3 = 149/165
  # dice_reference: per image 2I/(I+1), absent-zero:
  #   A: 6/7, 6/7, 1;  B: 14/15, 2/3, 0
  #   per class: c0 (6/7 + 14/15)/2 = 94/105, c1 (6/7 + 2/3)/2 = 16/21, c2 1/2
  #   mean = (94/105 + 80/105 + 1/2) / 3 = 151/210
  # pd50 (IoU > 0.5 strictly; B's IoU_1 = 1/2 does not count):
  #   corrected, over images with c in G: c0 2/2, c1 1/2, c2 1/1 -> 5/6
  #   reference, over all images:         c0 2/2, c1 1/2, c2 1/2 -> 2/3
  expected = {
      'num_images': 2,
      'paper_wiou': 7 / 24,
      'normalized_wiou': 27 / 40,
      'fg_iou': 2 / 3,
      'fg_iou_last': 1 / 2,
      'miou_reference': 31 / 48,
      'miou_per_image': 13 / 16,
      'miou_dataset': 5 / 6,
      'fw_iou': 29 / 36,
      'dice': 149 / 165,
      'dice_reference': 151 / 210,
      'pd50': 5 / 6,
      'pd50_reference': 2 / 3,
  }
  assert set(expected) | {'per_class'} <= set(r)
  assert set(r) == set(metrics.METRIC_DOCS)  # every key is documented
  for key, value in expected.items():
    np.testing.assert_allclose(r[key], value, rtol=1e-14, err_msg=key)
  assert r['num_images'] == 2 and isinstance(r['num_images'], int)

  per_class = {
      'bg': [13 / 16, 13 / 16, 5 / 6, 10 / 11, 1.0],
      'skin': [5 / 8, 5 / 8, 2 / 3, 4 / 5, 1 / 2],
      'hair': [1 / 2, 1.0, 1.0, 1.0, 1.0],
  }
  assert list(r['per_class']) == ['bg', 'skin', 'hair']
  for name, values in per_class.items():
    got = r['per_class'][name]
    assert list(got) == ['iou_reference', 'iou_per_image', 'iou_dataset',
                         'dice', 'pd50', 'bbox_iou', 'bbox_dice']
    np.testing.assert_allclose(list(got.values())[:5], values, rtol=1e-14,
                               err_msg=name)
  json.dumps(r, allow_nan=False)


def test_never_seen_class_is_none_and_skipped():
  # 4 classes; class 3 never occurs in G or P.
  r = metrics.summarize(GT, PRED, 4)
  assert r['per_class']['class_3'] == {
      'iou_reference': 0.0, 'iou_per_image': None, 'iou_dataset': None,
      'dice': None, 'pd50': None, 'bbox_iou': None, 'bbox_dice': None}
  # Corrected means skip it; the reference averages its 0 in.
  np.testing.assert_allclose(r['miou_per_image'], 13 / 16, rtol=1e-14)
  np.testing.assert_allclose(r['miou_dataset'], 5 / 6, rtol=1e-14)
  np.testing.assert_allclose(r['miou_reference'], (13 + 10 + 8) / 16 / 4,
                             rtol=1e-14)
  np.testing.assert_allclose(r['pd50_reference'], (1 + 1 / 2 + 1 / 2) / 4,
                             rtol=1e-14)
  json.dumps(r, allow_nan=False)


def test_all_background_gives_none_for_foreground_metrics():
  empty = np.zeros((1, 2, 2), int)
  r = metrics.summarize(empty, empty, 2)
  assert r['normalized_wiou'] is None
  assert r['fg_iou'] is None and r['fg_iou_last'] is None
  assert r['paper_wiou'] == 0.0
  assert r['miou_dataset'] == 1.0  # class 1 has empty union: skipped
  json.dumps(r, allow_nan=False)


def test_batched_update_equals_single_update():
  rng = np.random.default_rng(0)
  gt = rng.integers(0, 4, size=(7, 6, 5))
  pred = np.where(rng.random((7, 6, 5)) < 0.6, gt,
                  rng.integers(0, 4, size=(7, 6, 5)))
  gt[2] = 0  # an image without foreground
  gt[4][gt[4] == 3] = 1  # class 3 absent from G in some images
  pred[4][pred[4] == 3] = 2
  whole = metrics.summarize(gt, pred, 5)
  acc = metrics.MetricAccumulator(5)
  for start, stop in ((0, 1), (1, 4), (4, 5), (5, 7)):
    acc.update(gt[start:stop], pred[start:stop])
  assert acc.num_images == 7
  assert acc.result() == whole
  # A single [H, W] image counts as one.
  acc2 = metrics.MetricAccumulator(5)
  acc2.update(gt[:6], pred[:6])
  acc2.update(gt[6], pred[6])
  assert acc2.result() == whole


def test_per_image_iou_matches_naive_loop():
  rng = np.random.default_rng(0)
  num_classes = 6
  gt = rng.integers(0, 5, size=(4, 7, 9))  # class 5 never occurs
  pred = rng.integers(0, 5, size=(4, 7, 9))
  pred[1][pred[1] == 4] = 3  # class 4 absent from P in image 1
  gt[1][gt[1] == 4] = 0  # ... and from G
  expected_zero = np.zeros((4, num_classes))
  expected_nan = np.zeros((4, num_classes))
  for n in range(4):
    for c in range(num_classes):
      inter = union = 0
      for i in range(7):
        for j in range(9):
          g, p = gt[n, i, j] == c, pred[n, i, j] == c
          inter += g and p
          union += g or p
      expected_zero[n, c] = inter / union if union else 0.0
      expected_nan[n, c] = inter / union if union else np.nan
  assert np.isnan(expected_nan[1, 4]) and np.isnan(expected_nan[0, 5])
  np.testing.assert_allclose(metrics.per_image_iou(gt, pred, num_classes),
                             expected_zero, rtol=1e-15)
  np.testing.assert_allclose(
      metrics.per_image_iou(gt, pred, num_classes, absent='nan'),
      expected_nan, rtol=1e-15)


def test_validation_errors():
  with pytest.raises(ValueError, match='shapes differ'):
    metrics.per_image_iou(GT, PRED[:1], 3)
  with pytest.raises(ValueError, match='shapes differ'):
    metrics.MetricAccumulator(3).update(GT_A, PRED_A[:2])
  with pytest.raises(ValueError, match=r'pred values must lie in \[0, 3\)'):
    metrics.paper_wiou(GT, PRED + 1, 3)
  with pytest.raises(ValueError, match=r'gt values must lie in \[0, 3\)'):
    metrics.summarize(GT - 1, PRED, 3)
  with pytest.raises(ValueError, match='must lie in'):
    metrics.fg_iou(GT, -PRED)
  with pytest.raises(ValueError, match='integer dtype'):
    metrics.normalized_wiou(GT.astype(np.float32), PRED, 3)
  with pytest.raises(ValueError, match='absent'):
    metrics.per_image_iou(GT, PRED, 3, absent='skip')
  with pytest.raises(ValueError, match='class names'):
    metrics.MetricAccumulator(3, ['bg', 'skin'])
  with pytest.raises(ValueError, match='no images'):
    metrics.MetricAccumulator(3).result()


# Bounding boxes and the IoU-vs-PD curve: two 4x4 images, 3 classes.
#
# Image A              gt          pred
#                   0 1 1 0      0 0 0 0
#                   0 1 0 0      0 1 1 0
#                   0 0 0 2      0 1 0 0
#                   0 0 0 0      2 0 0 0
# class 1, inclusive boxes: gt rows 0-1 x cols 1-2, pred rows 1-2 x cols 1-2,
#   inter 2 cells, union 6 -> 1/3. Exclusive (the reference fills
#   box[ymin:ymax, xmin:xmax] over the mask): gt {(0,1),(0,2),(1,1)}, pred
#   {(1,1),(1,2),(2,1)} -> 1/5.
# class 2: single disjoint pixels -> 0 both ways.
# class 0: inclusive, both boxes are the whole image -> 1; exclusive, each
#   region is all but one pixel ((2,3) for gt, (3,0) for pred) -> 14/16.
# Image B: gt = pred = all background: class 0 -> 1, classes 1 and 2 absent
#   from both (NaN corrected, 0 reference).
_BOX_GT = np.array([[[0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 0, 0]],
                    np.zeros((4, 4), int)])
_BOX_PRED = np.array([[[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0],
                       [2, 0, 0, 0]], np.zeros((4, 4), int)])


def test_bbox_iou_inclusive_and_exclusive_by_hand():
  inc = metrics.bbox_iou(_BOX_GT, _BOX_PRED, 3)
  np.testing.assert_allclose(inc[0], [1, 1 / 3, 0])
  assert inc[1, 0] == 1 and np.isnan(inc[1, 1:]).all()
  exc = metrics.bbox_iou(_BOX_GT, _BOX_PRED, 3, bounds='exclusive')
  np.testing.assert_allclose(exc[0], [14 / 16, 1 / 5, 0])
  # Absent from one mask only: 0.
  one = metrics.bbox_iou(np.zeros((2, 2), int), np.eye(2, dtype=int), 2)
  np.testing.assert_allclose(one, [[1, 0]])
  with pytest.raises(ValueError, match='bbox_bounds'):
    metrics.bbox_iou(_BOX_GT, _BOX_PRED, 3, bounds='open')


def test_bbox_summary_by_hand():
  r = metrics.summarize(_BOX_GT, _BOX_PRED, 3)
  # Corrected: class means skip absent-from-both: 1, 1/3, 0.
  assert r['bbox_iou'] == pytest.approx(4 / 9)
  # Reference: absent scores 0: 1, (1/3 + 0) / 2, 0.
  assert r['bbox_iou_reference'] == pytest.approx(7 / 18)
  # Dice of the class means: 1, 0.5, 0; reference per image: 1, 0.25, 0.
  assert r['bbox_dice'] == pytest.approx(0.5)
  assert r['bbox_dice_reference'] == pytest.approx(1.25 / 3)
  assert r['per_class']['class_1']['bbox_iou'] == pytest.approx(1 / 3)
  assert r['bbox_bounds'] == 'inclusive'
  exc = metrics.summarize(_BOX_GT, _BOX_PRED, 3, bbox_bounds='exclusive')
  assert exc['bbox_iou'] == pytest.approx((0.9375 + 0.2 + 0) / 3)


def test_iou_pd_curve_by_hand():
  # Mask IoU, image A: background 9/15, class 1 1/5, class 2 0; image B:
  # background 1, classes 1 and 2 absent (0, and not counted when
  # corrected: B's ground truth lacks them).
  curve = metrics.summarize(_BOX_GT, _BOX_PRED, 3)['iou_pd_curve']
  t = curve['thresholds']
  assert len(t) == 20 and t[0] == 0 and t[-1] == 1
  assert t[10] == pytest.approx(10 / 19)
  assert curve['mean'][0] == pytest.approx(2 / 3)        # 1, 1, 0
  assert curve['mean_reference'][0] == pytest.approx(0.5)  # 1, 0.5, 0
  assert curve['mean'][10] == pytest.approx(1 / 3)       # 0.6 > 0.526 only
  assert curve['mean_reference'][10] == pytest.approx(1 / 3)
  assert curve['mean'][-1] == 0 and curve['mean_reference'][-1] == 0
  assert curve['per_class']['class_1'][0] == 1.0
  # The curve function itself, with explicit counting.
  iou = np.array([[0.6, 0.2], [1.0, 0.0]])
  counted = np.array([[True, True], [True, False]])
  np.testing.assert_allclose(
      metrics.iou_pd_curve(iou, counted, np.array([0.0, 0.5])),
      [[1.0, 1.0], [1.0, 0.0]])
