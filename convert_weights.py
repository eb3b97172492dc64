"""Converts a StyleGAN2 checkpoint into a stylegan_seg_jax generator directory.

Reads a rosinality `.pt`, an NVIDIA stylegan2-ada-pytorch / stylegan3 `.pkl`
or an NVIDIA TensorFlow `.pkl` without torch, TensorFlow or the original code,
and writes DIR/generator.json plus an orbax checkpoint DIR/variables/.

  python convert_weights.py --src=stylegan2-ffhq-config-f.pt --out=ffhq1024
  python convert_weights.py --src=ffhq.pkl --out=ffhq256 --resolution=256

Load the result with `stylegan_seg_jax.generator.load(DIR)`.
"""

import sys

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_string('src', None, 'Checkpoint file (.pt or .pkl).')
flags.DEFINE_string('out', None, 'Output directory (must not exist).')
flags.DEFINE_enum('format', 'auto', ['auto', 'rosinality', 'nvidia', 'tf'],
                  'Source format; auto detects it from the file.')
flags.DEFINE_integer('resolution', None,
                     'Keep only the blocks up to this resolution.')
flags.DEFINE_bool('overwrite', False, 'Replace an existing output directory.')
flags.DEFINE_integer('w_avg_seed', 0,
                     'Seed of the w_avg estimate when the source has none.')
flags.mark_flags_as_required(['src', 'out'])


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  from stylegan_seg_jax import convert  # after flag parsing: jax import time
  try:
    convert.convert_file(
        FLAGS.src, FLAGS.out, fmt=FLAGS.format, resolution=FLAGS.resolution,
        overwrite=FLAGS.overwrite, w_avg_seed=FLAGS.w_avg_seed,
        log=lambda msg: print(msg, flush=True))
  except (ValueError, OSError) as e:
    print(f'convert_weights: error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
