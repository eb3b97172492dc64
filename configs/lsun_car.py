"""SwAV on LSUN car (reference `hfc_with_swav_car_config.py`).

The 512 car model is run up to 256, as the reference does:

  python convert_weights.py --src=stylegan2-car-config-f.pt --out=lsun_car
  python -m stylegan_seg_jax.train --config=configs/lsun_car.py \
      --config.generator_dir=lsun_car --workdir=workdirs/lsun_car

Differs from ffhq256: K = 4000, eps = 0.01.
"""

from configs import common


def get_config():
  c = common.swav_config()
  c.generator_dir = 'lsun_car'
  c.resolution = 256
  c.swav.num_prototypes = 4000
  c.swav.epsilon = 0.01
  # One labelled sample from `label export` / `label import`; no test set.
  common.add_oneshot(c, oneshot='labels/lsun_car_example.npz', test_set='')
  return c
