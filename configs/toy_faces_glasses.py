"""Glasses on the fine faces: a rare part (`toy:faces_glasses`, 2 classes).

  bash launch/toy_report.sh workdirs/faces_glasses_report "7 22 23" \
      --config=configs/toy_faces_glasses.py
  bash launch/toy_ablation.sh workdirs/faces_glasses_ablation "7 22 23" \
      --config=configs/toy_faces_glasses.py

The reference's eyeglasses benchmark on the fine faces: the generic SwAV
config (K = 8000, eps = 0.005, XXS) scaled to 128 px (K = 2000, patches
of 5000 pixels), classes background and glasses. Test samples and
one-shot examples are the seeds whose faces wear glasses (about 1 in 10):
the default example is the first such one-shot seed, and the report runs
on the first three (`domains.get('faces_glasses').oneshot_seed_list(3)`).
"""

from configs import common


def get_config():
  c = common.base_config()
  c.swav.num_prototypes = 8000
  common.use_toy_domain(c, 'faces_glasses', oneshot_seed=7)
  common.scale_to_resolution(c, 128)
  return c
