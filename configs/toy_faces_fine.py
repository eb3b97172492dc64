"""The method on the fine faces (`toy:faces_fine`, 128 px, 21 classes).

  bash launch/toy_report.sh workdirs/faces_fine_report "0 1 2" \
      --config=configs/toy_faces_fine.py
  bash launch/toy_ablation.sh workdirs/faces_fine_ablation "0 1 2" \
      --config=configs/toy_faces_fine.py

The reference's FFHQ recipe (K = 5000, eps = 0.005, the XXS head, nearest
upsampling) scaled to 128 px: patches of 5000 of the 16,384 pixels, K =
1250, W+ blocks 0..4 resampled; psi = 1, where the exact masks hold. The
one-shot stage fits ours and every baseline on the ground truth of
one-shot seed 0 and the evaluator scores them on the domain's 256 test
samples (docs/results.md).
"""

from configs import common


def get_config():
  c = common.base_config()
  common.use_toy_domain(c, 'faces_fine')
  common.scale_to_resolution(c, 128)
  return c
