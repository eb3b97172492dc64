"""PASCAL-Part cars (the reference's `p-car-512`).

Real images inverted into the 512 car generator (an e4e decoder, run up to
256): W+ latents rendered without truncation (`data.reference_psi = 1`);
the 384-row label maps are zero-padded to 512 rows (rows 64..447), as the
reference does, then nearest-resized to 256 (`data.reference_label_size`).
60 classes, one-shot sample 0, the generic SwAV config (K = 8000).

  stylegan-seg label import_reference \
      --config=configs/pascal_car.py --latents=latents.pt \
      --labels=labels.pt --name=pascal_car --out=data
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'pascal_car'
  c.resolution = 256
  c.swav.num_prototypes = 8000
  c.data.reference_psi = 1.0
  c.data.reference_label_size = 512
  c.data.class_names = (
      'background', 'frontside', 'leftside', 'rightside', 'backside',
      'roofside', 'leftmirror', 'rightmirror', 'fliplate', 'bliplate',
      *(f'door_{i}' for i in range(1, 11)),
      *(f'wheel_{i}' for i in range(1, 11)),
      *(f'headlight_{i}' for i in range(1, 11)),
      *(f'window_{i}' for i in range(1, 21)))
  common.use_reference_test_set(c, 'pascal_car', 0)
  return c
