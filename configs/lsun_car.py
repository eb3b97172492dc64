"""SwAV on LSUN car (reference `hfc_with_swav_car_config.py`).

The 512 car model is run up to 256, as the reference does:

  python convert_weights.py --src=stylegan2-car-config-f.pt --out=lsun_car
  python -m stylegan_seg_jax.train --config=configs/lsun_car.py \
      --config.generator_dir=lsun_car --workdir=workdirs/lsun_car

Differs from ffhq256: K = 4000, eps = 0.01.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'lsun_car'
  c.resolution = 256
  c.swav.num_prototypes = 4000
  c.swav.epsilon = 0.01
  # One labelled sample from `label export` / `label import`; no test set.
  c.data.oneshot = 'labels/lsun_car_example'
  c.data.test_set = ''
  c.data.class_names = ('background', 'body', 'door', 'window', 'windshield',
                        'hood', 'wheel', 'lights')
  return c
