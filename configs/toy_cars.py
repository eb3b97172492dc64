"""The method on the cars (`toy:cars`, 128 px, the reference's 8 car classes).

  bash launch/toy_report.sh workdirs/cars_report "0 1 2" \
      --config=configs/toy_cars.py
  bash launch/toy_ablation.sh workdirs/cars_ablation "0 1 2" \
      --config=configs/toy_cars.py

The reference's LSUN-car recipe (K = 4000, eps = 0.01, the XS head,
nearest upsampling) scaled to 128 px: patches of 5000 of the 16,384
pixels, K = 1000, W+ blocks 0..4 resampled; psi = 1, where the exact masks
hold. Classes: background, body, door, window, windshield, hood, wheel,
lights (docs/domains.md says which fine parts each holds).
"""

from configs import common


def get_config():
  c = common.base_config()
  c.swav.num_prototypes = 4000
  c.swav.epsilon = 0.01
  c.oneshot.head = 'XS'
  common.use_toy_domain(c, 'cars')
  common.scale_to_resolution(c, 128)
  return c
