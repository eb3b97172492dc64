"""LSUN car (the reference's `car-512` with `hfc_with_swav_car_config.py`).

The 512 car model is run up to 256, as the reference does:

  python convert_weights.py --src=stylegan2-car-config-f.pt --out=lsun_car
  stylegan-seg train --config=configs/lsun_car.py \
      --workdir=workdirs/lsun_car --config.stage=swav,oneshot

Differs from ffhq256: K = 4000, eps = 0.01, the XS head, one-shot sample 3,
8 classes.
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'lsun_car'
  c.resolution = 256
  c.swav.num_prototypes = 4000
  c.swav.epsilon = 0.01
  c.oneshot.head = 'XS'
  c.data.class_names = ('background', 'body', 'door', 'window', 'windshield',
                        'hood', 'wheel', 'lights')
  common.use_reference_test_set(c, 'lsun_car', 3)
  return c
