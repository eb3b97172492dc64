"""StyleGAN2 "skip" generator in Flax linen, returning every hidden activation.

The maths matches the rosinality and NVIDIA PyTorch generators to float32
rounding (tests/convert/parity_test.py; docs/formats.md describes the
variable layout):

* `params`: trainable weights, stored raw (equalized-LR gains are applied at
  run time). Names follow NVIDIA's module tree: `mapping/fc{i}`,
  `synthesis/b{R}/{const, conv0, conv1, torgb}`. Layouts: dense weights
  [in, out]; conv kernels HWIO in correlation orientation (the TF layout; the
  up-conv kernel is the PyTorch one flipped spatially); ToRGB [C, img_ch];
  the affine (style) biases include StyleGAN2's +1 (the PyTorch convention).
* `buffers`: `mapping/w_avg` [w_dim] and each layer's `noise_const` [R, R].

The module `StyleGAN2` has two methods to call through `apply`: `mapping`
(z -> w, truncated against the stored w_avg) and `synthesis` (W+ -> image,
features, ToRGB outputs). The `Generator` handle (`generator.py`) wraps them
with the variables for use outside jitted code.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import functools
import math
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_seg_jax.stylegan2 import ops

__all__ = [
    'GeneratorConfig',
    'rosinality_channels',
    'nvidia_channels',
    'StyleGAN2',
    'NoiseMode',
    'truncate',
]

NoiseMode = Literal['const', 'random', 'none']


def rosinality_channels(
    resolution: int, channel_multiplier: int = 2
) -> dict[int, int]:
  """The rosinality channel table: 512 up to 32x32, then 2^(14-L) * cm / 2."""
  table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier,
           128: 128 * channel_multiplier, 256: 64 * channel_multiplier,
           512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
  return {r: table[r] for r in _block_resolutions(resolution)}


def nvidia_channels(
    resolution: int, channel_base: int = 32768, channel_max: int = 512
) -> dict[int, int]:
  """NVIDIA's channel table: min(channel_base // res, channel_max)."""
  return {r: min(channel_base // r, channel_max)
          for r in _block_resolutions(resolution)}


def _block_resolutions(resolution: int) -> list[int]:
  log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
  if resolution < 4 or 2**log2 != resolution:
    raise ValueError(
        f'resolution must be a power of two >= 4, got {resolution}')
  return [2**i for i in range(2, log2 + 1)]


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
  """Architecture of a StyleGAN2 skip generator.

  Attributes:
    resolution: output resolution; blocks run from 4x4 up to it.
    channels: (resolution, channels) pairs, one per block resolution (at
      least up to `resolution`; extra entries are ignored).
    z_dim: input latent size.
    w_dim: intermediate latent size.
    mapping_layers: number of mapping FC layers.
    mapping_features: width of the hidden mapping layers (None = w_dim).
    mapping_lr_multiplier: equalized-LR multiplier of the mapping network.
    img_channels: output image channels.
    conv_clamp: clamp of conv and ToRGB outputs (NVIDIA ada/sg3: 256).
    fir: 1-D resampling filter taps.
  """

  resolution: int
  channels: tuple[tuple[int, int], ...]
  z_dim: int = 512
  w_dim: int = 512
  mapping_layers: int = 8
  mapping_features: int | None = None
  mapping_lr_multiplier: float = 0.01
  img_channels: int = 3
  conv_clamp: float | None = None
  fir: tuple[float, ...] = ops.DEFAULT_FIR

  def __post_init__(self):
    """Checks resolution and channel table; normalises channels and fir."""
    resolutions = _block_resolutions(self.resolution)
    table = dict(self.channels)
    missing = [r for r in resolutions if r not in table]
    if missing:
      raise ValueError(f'channel table has no entry for resolutions {missing}')
    object.__setattr__(
        self, 'channels', tuple(sorted((int(r), int(c))
                                       for r, c in table.items())))
    object.__setattr__(self, 'fir', tuple(float(t) for t in self.fir))

  @property
  def block_resolutions(self) -> list[int]:
    """Resolutions of the synthesis blocks, 4 .. resolution."""
    return _block_resolutions(self.resolution)

  @property
  def num_ws(self) -> int:
    """Rows of W+ consumed by the synthesis network: 2 log2(R) - 2."""
    return 2 * int(round(math.log2(self.resolution))) - 2

  @property
  def num_layers(self) -> int:
    """Synthesis conv layers (= features returned): 2 log2(R) - 3."""
    return self.num_ws - 1

  def block_channels(self, res: int) -> int:
    """Channels of the block at resolution `res`."""
    return dict(self.channels)[res]

  def feature_shapes(self) -> list[tuple[int, int]]:
    """(resolution, channels) of each returned feature, in generation order."""
    out = []
    for res in self.block_resolutions:
      out += [(res, self.block_channels(res))] * (1 if res == 4 else 2)
    return out

  def replace(self, **changes: Any) -> GeneratorConfig:
    """Returns a copy with fields replaced."""
    return dataclasses.replace(self, **changes)

  def to_json(self) -> dict[str, Any]:
    """JSON-serialisable dict (inverse of `from_json`)."""
    d = dataclasses.asdict(self)
    d['channels'] = {str(r): c for r, c in self.channels}
    d['fir'] = list(self.fir)
    return d

  @classmethod
  def from_json(cls, d: Mapping[str, Any]) -> GeneratorConfig:
    """Builds a config from `to_json` output."""
    d = dict(d)
    d['channels'] = tuple((int(r), int(c)) for r, c in d['channels'].items())
    d['fir'] = tuple(d.get('fir', ops.DEFAULT_FIR))
    return cls(**d)


def truncate(
    ws: jax.Array,
    w_avg: jax.Array,
    psi: float | jax.Array,
    cutoff: int | None = None,
) -> jax.Array:
  """Truncation trick: w_avg + psi * (w - w_avg).

  Args:
    ws: [N, w_dim] or [N, num_ws, w_dim] latents.
    w_avg: [w_dim] average latent.
    psi: truncation strength (1 = none).
    cutoff: with W+ input, truncate only rows < cutoff (None = all rows).

  Returns:
    Truncated latents, shaped like `ws`.
  """
  out = w_avg + psi * (ws - w_avg)
  if cutoff is not None:
    if ws.ndim != 3:
      raise ValueError('truncation cutoff needs W+ latents [N, num_ws, w_dim]')
    rows = jnp.arange(ws.shape[1])[None, :, None] < cutoff
    out = jnp.where(rows, out, ws)
  return out


def _normal_init(scale: float = 1.0):
  def init(key, shape, dtype=jnp.float32):
    return jax.random.normal(key, shape, dtype) * scale
  return init


class EqualizedDense(nn.Module):
  """Dense layer with equalized learning rate; weight [in, out], raw."""

  features: int
  lr_multiplier: float = 1.0
  bias_init: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    weight = self.param('weight', _normal_init(1.0 / self.lr_multiplier),
                        (x.shape[-1], self.features))
    bias = self.param('bias', nn.initializers.constant(self.bias_init),
                      (self.features,))
    return ops.equalized_dense(x, weight, bias,
                               lr_multiplier=self.lr_multiplier)


class MappingNetwork(nn.Module):
  """z [N, z_dim] -> w [N, w_dim]; holds the `w_avg` buffer."""

  config: GeneratorConfig

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    cfg = self.config
    self.variable('buffers', 'w_avg', jnp.zeros, (cfg.w_dim,))
    hidden = cfg.mapping_features or cfg.w_dim
    x = ops.pixel_norm(z.astype(jnp.float32))
    for i in range(cfg.mapping_layers):
      width = cfg.w_dim if i == cfg.mapping_layers - 1 else hidden
      x = EqualizedDense(width, lr_multiplier=cfg.mapping_lr_multiplier,
                         name=f'fc{i}')(x)
      x = jax.nn.leaky_relu(x, 0.2) * ops.LRELU_GAIN
    return x


class SynthesisLayer(nn.Module):
  """Modulated 3x3 conv (optionally 2x up) + noise + bias + lrelu (+ clamp)."""

  out_channels: int
  resolution: int
  up: bool
  conv_clamp: float | None
  fir: tuple[float, ...]

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array,
               noise_mode: NoiseMode) -> jax.Array:
    in_channels = x.shape[-1]
    styles = EqualizedDense(in_channels, bias_init=1.0, name='affine')(w)
    weight = self.param('weight', _normal_init(),
                        (3, 3, in_channels, self.out_channels))
    bias = self.param('bias', nn.initializers.zeros, (self.out_channels,))
    strength = self.param('noise_strength', nn.initializers.zeros, ())
    noise_const = self.variable(
        'buffers', 'noise_const',
        lambda: jax.random.normal(self.make_rng('params'),
                                  (self.resolution, self.resolution)))
    x = ops.modulated_conv2d(x, weight, styles, up=self.up, fir=self.fir)
    if noise_mode == 'const':
      x = x + (noise_const.value * strength)[None, :, :, None]
    elif noise_mode == 'random':
      noise = jax.random.normal(self.make_rng('noise'), x.shape[:3] + (1,))
      x = x + noise * strength
    elif noise_mode != 'none':
      raise ValueError(f"noise_mode must be 'const', 'random' or 'none', "
                       f'got {noise_mode!r}')
    return ops.bias_act(x, bias, lrelu=True, clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
  """Modulated 1x1 conv without demodulation, + bias (+ clamp)."""

  img_channels: int
  conv_clamp: float | None

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    in_channels = x.shape[-1]
    styles = EqualizedDense(in_channels, bias_init=1.0, name='affine')(w)
    weight = self.param('weight', _normal_init(),
                        (in_channels, self.img_channels))
    bias = self.param('bias', nn.initializers.zeros, (self.img_channels,))
    y = ops.modulated_conv2d(x, weight[None, None], styles, demodulate=False)
    return ops.bias_act(y, bias, lrelu=False, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
  """One resolution: [2x up conv0,] conv1 and ToRGB with the skip image.

  `ws` holds this block's rows of W+: (conv1, torgb) at 4x4, else
  (conv0, conv1, torgb); each ToRGB shares its row with the next block's
  conv0, as in every StyleGAN2 implementation.
  """

  resolution: int
  channels: int
  img_channels: int
  conv_clamp: float | None
  fir: tuple[float, ...]

  @nn.compact
  def __call__(
      self, x: jax.Array | None, img: jax.Array | None, ws: jax.Array,
      noise_mode: NoiseMode
  ) -> tuple[jax.Array, jax.Array, list[jax.Array], jax.Array]:
    layer = functools.partial(SynthesisLayer, self.channels, self.resolution,
                              conv_clamp=self.conv_clamp, fir=self.fir)
    features: list[jax.Array] = []
    if x is None:
      const = self.param('const', _normal_init(),
                         (self.resolution, self.resolution, self.channels))
      x = jnp.broadcast_to(const[None], (ws.shape[0],) + const.shape)
    else:
      x = layer(up=True, name='conv0')(x, ws[:, 0], noise_mode)
      features.append(x)
      ws = ws[:, 1:]
    x = layer(up=False, name='conv1')(x, ws[:, 0], noise_mode)
    features.append(x)
    rgb = ToRGBLayer(self.img_channels, self.conv_clamp, name='torgb')(
        x, ws[:, 1])
    img = rgb if img is None else ops.upsample2d(img, self.fir) + rgb
    return x, img, features, rgb


class SynthesisNetwork(nn.Module):
  """W+ [N, num_ws, w_dim] -> (image, conv features, ToRGB outputs)."""

  config: GeneratorConfig

  @nn.compact
  def __call__(
      self, ws: jax.Array, noise_mode: NoiseMode = 'const'
  ) -> tuple[jax.Array, tuple[jax.Array, ...], tuple[jax.Array, ...]]:
    cfg = self.config
    features: list[jax.Array] = []
    rgbs: list[jax.Array] = []
    x: jax.Array | None = None
    img: jax.Array | None = None
    for res in cfg.block_resolutions:
      # Block b{R} reads rows [2L-5, 2L-3] of W+ (L = log2 R); b4 rows [0, 1].
      first = max(2 * int(round(math.log2(res))) - 5, 0)
      count = 2 if res == 4 else 3
      block = SynthesisBlock(res, cfg.block_channels(res), cfg.img_channels,
                             cfg.conv_clamp, cfg.fir, name=f'b{res}')
      x, img, feats, rgb = block(x, img, ws[:, first:first + count],
                                 noise_mode)
      features += feats
      rgbs.append(rgb)
    # The resolution is validated >= 4, so there is at least the 4x4 block.
    assert img is not None
    return img, tuple(features), tuple(rgbs)


class StyleGAN2(nn.Module):
  """Mapping + synthesis network; call `mapping` and `synthesis` via `apply`.

  `module.apply(variables, z, psi, method=StyleGAN2.mapping)` and
  `module.apply(variables, ws, noise_mode, method=StyleGAN2.synthesis)`.
  """

  config: GeneratorConfig

  def setup(self):
    """Declares the mapping and synthesis sub-networks."""
    # Scope names 'mapping' / 'synthesis' are the variable tree's.
    self.mapping_network = MappingNetwork(self.config, name='mapping')
    self.synthesis_network = SynthesisNetwork(self.config, name='synthesis')

  def __call__(self, z: jax.Array, noise_mode: NoiseMode = 'const'):
    """Maps z to (image, features); used for `init`."""
    w = self.mapping(z)
    img, feats, _ = self.synthesis(w, noise_mode)
    return img, feats

  def mapping(self, z: jax.Array, psi: float | jax.Array = 1.0,
              cutoff: int | None = None) -> jax.Array:
    """Maps z [N, z_dim] to w [N, w_dim] (W+ [N, num_ws, w_dim] with cutoff)."""
    w = self.mapping_network(z)
    w_avg = self.mapping_network.variables['buffers']['w_avg']
    if cutoff is not None:
      w = self._broadcast(w)
    return truncate(w, w_avg, psi, cutoff)

  def synthesis(
      self, ws: jax.Array, noise_mode: NoiseMode = 'const'
  ) -> tuple[jax.Array, tuple[jax.Array, ...], tuple[jax.Array, ...]]:
    """Maps ws [N, w_dim] or [N, >= num_ws, w_dim] to (image, feats, rgbs)."""
    return self.synthesis_network(self._broadcast(ws), noise_mode)

  def _broadcast(self, ws: jax.Array) -> jax.Array:
    cfg = self.config
    if ws.ndim == 2:
      ws = jnp.broadcast_to(ws[:, None], (ws.shape[0], cfg.num_ws, ws.shape[1]))
    if ws.ndim != 3 or ws.shape[1] < cfg.num_ws or ws.shape[2] != cfg.w_dim:
      raise ValueError(
          f'ws must be [N, {cfg.w_dim}] or [N, >={cfg.num_ws}, {cfg.w_dim}], '
          f'got {tuple(ws.shape)}')
    return ws[:, :cfg.num_ws].astype(jnp.float32)
