"""StyleGAN2 in Flax: the model only, with no knowledge of the method.

Nothing here knows the segmentation method, the toy domain, configs or
command lines; the package's one dependency inside the project is the
`runtime` layer below it, whose orbax wrapper and atomic files `storage`
uses to read and write a generator directory.

* `ops`: FIR resampling, modulated convolution, equalized dense layers.
* `networks`: `GeneratorConfig` and the linen `StyleGAN2` (mapping,
  synthesis, every hidden activation returned).
* `generator`: the `Generator` handle, seeds, w_avg estimation, pruning.
* `storage`: the converted-generator directory (`save`, `load`).

The common names are re-exported here:

    from stylegan_seg_jax import stylegan2
    gen = stylegan2.load('ffhq', resolution=256)
"""

from stylegan_seg_jax.stylegan2.generator import W_AVG_SAMPLES
from stylegan_seg_jax.stylegan2.generator import Generator
from stylegan_seg_jax.stylegan2.generator import abstract_variables
from stylegan_seg_jax.stylegan2.generator import estimate_w_avg
from stylegan_seg_jax.stylegan2.generator import init
from stylegan_seg_jax.stylegan2.generator import prune_to_resolution
from stylegan_seg_jax.stylegan2.generator import z_from_seeds
from stylegan_seg_jax.stylegan2.networks import GeneratorConfig
from stylegan_seg_jax.stylegan2.networks import NoiseMode
from stylegan_seg_jax.stylegan2.networks import StyleGAN2
from stylegan_seg_jax.stylegan2.networks import nvidia_channels
from stylegan_seg_jax.stylegan2.networks import rosinality_channels
from stylegan_seg_jax.stylegan2.networks import truncate
from stylegan_seg_jax.stylegan2.storage import load
from stylegan_seg_jax.stylegan2.storage import save

__all__ = [
    'GeneratorConfig', 'StyleGAN2', 'NoiseMode', 'Generator', 'load', 'save',
    'init', 'truncate', 'z_from_seeds', 'estimate_w_avg', 'W_AVG_SAMPLES',
    'abstract_variables', 'prune_to_resolution', 'rosinality_channels',
    'nvidia_channels',
]
