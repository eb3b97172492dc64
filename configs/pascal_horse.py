"""PASCAL-Part horses (the reference's `p-horse-256`).

Real images inverted into the horse generator's W+ (an e4e decoder
checkpoint): the test set stores W+ latents and is rendered without
truncation (`data.reference_psi = 1`). 34 label slots, of which 20-29 are
unused; one-shot sample 11; the generic SwAV config (K = 8000).

  stylegan-seg label import_reference \
      --config=configs/pascal_horse.py --latents=latents.pt \
      --labels=labels.pt --name=pascal_horse --out=data
"""

from configs import common


def get_config():
  c = common.base_config()
  c.generator_dir = 'pascal_horse'
  c.resolution = 256
  c.swav.num_prototypes = 8000
  c.data.reference_psi = 1.0
  c.data.class_names = (
      'background', 'head', 'leye', 'reye', 'lear', 'rear', 'muzzle',
      'lhorn', 'rhorn', 'torso', 'neck', 'lfuleg', 'lflleg', 'rfuleg',
      'rflleg', 'lbuleg', 'lblleg', 'rbuleg', 'rblleg', 'tail',
      *(f'unused_{i}' for i in range(20, 30)), 'lfho', 'rfho', 'lbho', 'rbho')
  common.use_reference_test_set(c, 'pascal_horse', 11)
  return c
