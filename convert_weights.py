"""Converts a StyleGAN2 checkpoint: `stylegan-seg convert` from a checkout.

  python convert_weights.py --src=stylegan2-ffhq-config-f.pt --out=ffhq \
      --resolution=256

The same flags as `stylegan-seg convert` (docs/formats.md §2); this file
only lets a checkout convert without installing the package.
"""

import sys

from stylegan_seg_jax.commands import convert

if __name__ == '__main__':
  convert.run(sys.argv)
