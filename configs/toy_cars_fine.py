"""The method on the cars with 19 fine parts (`toy:cars_fine`, 128 px).

  bash launch/toy_report.sh workdirs/cars_fine_report "0 1 2" \
      --config=configs/toy_cars_fine.py
  bash launch/toy_ablation.sh workdirs/cars_fine_ablation "0 1 2" \
      --config=configs/toy_cars_fine.py

configs/toy_cars.py (the reference's LSUN-car recipe scaled to 128 px)
with every part of the renderer as its own class, in the spirit of
Car-20: rims and tyres, head and tail lights, licence plate, mirrors,
grille, bumpers, roof, trunk, back window and the ground apart.
"""

from configs import common
from configs import toy_cars


def get_config():
  c = toy_cars.get_config()
  common.use_toy_domain(c, 'cars_fine')
  return c
