"""StyleGAN2 "skip" generator in Flax linen, returning every hidden activation.

The maths follows ../shared/docs/STYLEGAN2.md §2 and matches the rosinality
and NVIDIA PyTorch generators to float32 rounding (tests/generator_parity_test).

Variables live in two collections:

* `params`: trainable weights, stored raw (equalized-LR gains are applied at
  run time). Names follow NVIDIA's module tree: `mapping/fc{i}`,
  `synthesis/b{R}/{const, conv0, conv1, torgb}`. Layouts: dense weights
  [in, out]; conv kernels HWIO in correlation orientation (the TF layout; the
  up-conv kernel is the PyTorch one flipped spatially); ToRGB [C, img_ch];
  the affine (style) biases include StyleGAN2's +1 (the PyTorch convention).
* `buffers`: `mapping/w_avg` [w_dim] and each layer's `noise_const` [R, R].

Public entry points: `GeneratorConfig`, the linen module `StyleGAN2`, the
`Generator` handle returned by `load` (with `mapping` and `synthesis`), and
`save` for the converted-checkpoint directory layout.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from stylegan_seg_jax import checkpoint
from stylegan_seg_jax import ops

__all__ = [
    'GeneratorConfig',
    'rosinality_channels',
    'nvidia_channels',
    'StyleGAN2',
    'Generator',
    'NoiseMode',
    'load',
    'save',
    'truncate',
    'prune_to_resolution',
    'z_from_seeds',
    'TOY_GENERATOR_DIR',
]

NoiseMode = Literal['const', 'random', 'none']

# The built-in toy generator's weights (`stylegan_seg_jax.toy`); `load('toy')`.
TOY_GENERATOR_DIR = (pathlib.Path(__file__).parent / 'assets' /
                     'toy_faces_generator')

CONFIG_FILE = 'generator.json'
VARIABLES_DIR = 'variables'
FORMAT_VERSION = 1


def rosinality_channels(
    resolution: int, channel_multiplier: int = 2
) -> dict[int, int]:
  """rosinality's channel table: 512 up to 32x32, then 2^(14-L) * cm / 2."""
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
    raise ValueError(f'resolution must be a power of two >= 4, got {resolution}')
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


def z_from_seeds(seeds: Sequence[int], z_dim: int) -> np.ndarray:
  """The project's seed convention for input latents.

  Each seed gives z = numpy.random.default_rng(seed).standard_normal(z_dim),
  so a seed names the same sample on any machine and in any batch.

  Args:
    seeds: non-negative integer seeds.
    z_dim: size of each latent.

  Returns:
    z [len(seeds), z_dim] float32.

  Raises:
    ValueError: a negative seed.
  """
  seeds = [int(s) for s in seeds]
  bad = [s for s in seeds if s < 0]
  if bad:
    raise ValueError(f'seeds must be non-negative, got {bad[0]}')
  if not seeds:
    return np.zeros((0, z_dim), np.float32)
  return np.stack([np.random.default_rng(s).standard_normal(z_dim)
                   for s in seeds]).astype(np.float32)


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
  def __call__(self, x: jax.Array | None, img: jax.Array | None,
               ws: jax.Array, noise_mode: NoiseMode):
    layer = functools.partial(SynthesisLayer, self.channels, self.resolution,
                              conv_clamp=self.conv_clamp, fir=self.fir)
    features = []
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
    features, rgbs = [], []
    x = img = None
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
    return img, tuple(features), tuple(rgbs)


class StyleGAN2(nn.Module):
  """Mapping + synthesis network. Use `map` and `synthesize` via `apply`."""

  config: GeneratorConfig

  def setup(self):
    self.mapping = MappingNetwork(self.config)
    self.synthesis = SynthesisNetwork(self.config)

  def __call__(self, z: jax.Array, noise_mode: NoiseMode = 'const'):
    """z -> (image, features); used for `init`."""
    w = self.map(z)
    img, feats, _ = self.synthesis(self._broadcast(w), noise_mode)
    return img, feats

  def map(self, z: jax.Array, psi: float | jax.Array = 1.0,
          cutoff: int | None = None) -> jax.Array:
    """z [N, z_dim] -> w [N, w_dim] (or W+ [N, num_ws, w_dim] with cutoff)."""
    w = self.mapping(z)
    w_avg = self.mapping.variables['buffers']['w_avg']
    if cutoff is not None:
      w = self._broadcast(w)
    return truncate(w, w_avg, psi, cutoff)

  def synthesize(
      self, ws: jax.Array, noise_mode: NoiseMode = 'const'
  ) -> tuple[jax.Array, tuple[jax.Array, ...], tuple[jax.Array, ...]]:
    """ws [N, w_dim] or [N, >= num_ws, w_dim] -> (image, features, rgbs)."""
    return self.synthesis(self._broadcast(ws), noise_mode)

  def _broadcast(self, ws: jax.Array) -> jax.Array:
    cfg = self.config
    if ws.ndim == 2:
      ws = jnp.broadcast_to(ws[:, None], (ws.shape[0], cfg.num_ws, ws.shape[1]))
    if ws.ndim != 3 or ws.shape[1] < cfg.num_ws or ws.shape[2] != cfg.w_dim:
      raise ValueError(
          f'ws must be [N, {cfg.w_dim}] or [N, >={cfg.num_ws}, {cfg.w_dim}], '
          f'got {tuple(ws.shape)}')
    return ws[:, :cfg.num_ws].astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=('module', 'cutoff'))
def _map(module, variables, z, psi, cutoff):
  return module.apply(variables, z, psi, cutoff, method=StyleGAN2.map)


@functools.partial(jax.jit,
                   static_argnames=('module', 'noise_mode', 'return_rgb'))
def _synthesize(module, variables, ws, rng, noise_mode, return_rgb):
  rngs = {'noise': rng} if rng is not None else {}
  img, feats, rgbs = module.apply(variables, ws, noise_mode, rngs=rngs,
                                  method=StyleGAN2.synthesize)
  return (img, feats, rgbs) if return_rgb else (img, feats)


@dataclasses.dataclass(frozen=True)
class Generator:
  """A loaded generator: the linen module, its variables and its config.

  Attributes:
    module: the `StyleGAN2` linen module (hashable; use it in jitted code with
      `module.apply(params, ..., method=StyleGAN2.synthesize)`).
    params: the variable dict `{'params': ..., 'buffers': ...}`.
    config: the architecture.
    metadata: provenance from the converted checkpoint (source format, sha256,
      where w_avg came from); empty for generators built in memory.
  """

  module: StyleGAN2
  params: Any
  config: GeneratorConfig
  metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def mapping(self, z: jax.Array, psi: float = 1.0,
              cutoff: int | None = None) -> jax.Array:
    """Maps z [N, z_dim] to w [N, w_dim], truncated against the stored w_avg.

    Args:
      z: [N, z_dim] latents.
      psi: truncation psi (1 = no truncation).
      cutoff: if set, truncate only the first `cutoff` W+ rows and return
        W+ [N, num_ws, w_dim].

    Returns:
      w [N, w_dim], or W+ [N, num_ws, w_dim] when `cutoff` is set.
    """
    return _map(self.module, self.params, jnp.asarray(z, jnp.float32),
                jnp.float32(psi), cutoff)

  def truncate(self, w: jax.Array, psi: float) -> jax.Array:
    """w_avg + psi (w - w_avg) of untruncated w [N, w_dim] or W+.

    Uses the generator's stored w_avg (the one truncation every component
    shares).
    """
    return truncate(jnp.asarray(w, jnp.float32),
                    self.params['buffers']['mapping']['w_avg'], psi)

  def synthesis(
      self,
      ws: jax.Array,
      noise_mode: NoiseMode = 'const',
      rng: jax.Array | None = None,
      return_rgb: bool = False,
  ):
    """Synthesises images and every conv activation.

    Args:
      ws: [N, w_dim] (broadcast to every layer) or W+ [N, num_ws, w_dim]
        (extra rows beyond num_ws, e.g. from a higher-resolution model, are
        ignored).
      noise_mode: 'const' (stored noise buffers), 'random' (needs `rng`) or
        'none'.
      rng: PRNG key for `noise_mode='random'`.
      return_rgb: also return the per-block ToRGB outputs.

    Returns:
      `(images, features)`: images [N, R, R, img_channels] float32 in the
      generator's raw range (about [-1, 1]); features a tuple of
      [N, h, w, c] arrays, one per synthesis conv layer in generation order.
      With `return_rgb`, a third element: the ToRGB outputs, one per block.
    """
    if noise_mode == 'random' and rng is None:
      raise ValueError("noise_mode='random' needs an explicit rng key")
    return _synthesize(self.module, self.params, jnp.asarray(ws, jnp.float32),
                       rng, noise_mode, return_rgb)

  def __call__(self, z: jax.Array, psi: float = 1.0,
               noise_mode: NoiseMode = 'const', rng: jax.Array | None = None):
    """z -> (images, features): `synthesis(mapping(z, psi))`."""
    return self.synthesis(self.mapping(z, psi), noise_mode, rng)


def abstract_variables(config: GeneratorConfig) -> Any:
  """Shapes and dtypes of the variables of `StyleGAN2(config)`."""
  module = StyleGAN2(config)
  z = jax.ShapeDtypeStruct((1, config.z_dim), jnp.float32)
  return jax.eval_shape(module.init, jax.random.key(0), z)


def init(config: GeneratorConfig, rng: jax.Array) -> Generator:
  """A randomly initialised generator (NVIDIA's init; w_avg = 0)."""
  module = StyleGAN2(config)
  variables = jax.jit(module.init)(rng, jnp.zeros((1, config.z_dim)))
  return Generator(module, variables, config)


def prune_to_resolution(variables: Any, resolution: int) -> Any:
  """Drops the synthesis blocks above `resolution` from a variable tree."""
  def keep(name: str) -> bool:
    return not (name[:1] == 'b' and name[1:].isdigit()
                and int(name[1:]) > resolution)
  out = {}
  for col, tree in variables.items():
    tree = dict(tree)
    if 'synthesis' in tree:
      tree['synthesis'] = {k: v for k, v in tree['synthesis'].items()
                           if keep(k)}
    out[col] = tree
  return out


def save(path: str | os.PathLike[str], config: GeneratorConfig,
         variables: Any, metadata: Mapping[str, Any] | None = None,
         *, overwrite: bool = False) -> None:
  """Writes a converted-checkpoint directory, atomically.

  Layout: `generator.json` (format version, architecture, metadata) and
  `variables/` (an orbax checkpoint of `{'params', 'buffers'}`).

  Args:
    path: output directory; refused if it exists and is non-empty, unless
      `overwrite`.
    config: the architecture of `variables`.
    variables: the variable tree; must match `StyleGAN2(config)` exactly.
    metadata: JSON-serialisable provenance.
    overwrite: replace an existing directory.
  """
  _check_tree(variables, abstract_variables(config))
  variables = jax.tree.map(lambda a: np.asarray(a, np.float32), variables)
  doc = {'format_version': FORMAT_VERSION, 'config': config.to_json(),
         'metadata': dict(metadata or {})}
  with checkpoint.atomic_directory(path, overwrite=overwrite) as tmp:
    checkpoint.save_pytree(tmp / VARIABLES_DIR, variables)
    (tmp / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True))


def load(path: str | os.PathLike[str],
         resolution: int | None = None) -> Generator:
  """Loads a converted-checkpoint directory (or 'toy', the shipped one).

  Args:
    path: directory written by `convert_weights.py` or `save`, or 'toy' for
      the project's built-in toy generator (`TOY_GENERATOR_DIR`).
    resolution: run only the blocks up to this resolution (<= the
      checkpoint's); the image is then that block's skip-RGB output, as the
      paper's code does with the 1024 FFHQ model at 256.

  Returns:
    The `Generator`.

  Raises:
    FileNotFoundError: not a converted-checkpoint directory.
    ValueError: bad resolution or unsupported format version.
  """
  path = TOY_GENERATOR_DIR if os.fspath(path) == 'toy' else pathlib.Path(path)
  cfg_file = path / CONFIG_FILE
  if not cfg_file.is_file():
    raise FileNotFoundError(
        f'{path} is not a converted generator directory (no {CONFIG_FILE}); '
        'create one with convert_weights.py')
  doc = json.loads(cfg_file.read_text())
  if doc.get('format_version') != FORMAT_VERSION:
    raise ValueError(f'{cfg_file}: unsupported format_version '
                     f'{doc.get("format_version")!r}')
  config = GeneratorConfig.from_json(doc['config'])
  variables = checkpoint.restore_pytree(path / VARIABLES_DIR,
                                        abstract_variables(config))
  if resolution is not None and resolution != config.resolution:
    if resolution > config.resolution or resolution < 4 or (
        resolution & (resolution - 1)):
      raise ValueError(
          f'resolution {resolution} must be a power of two in '
          f'[4, {config.resolution}] for this checkpoint')
    config = config.replace(resolution=resolution)
    variables = prune_to_resolution(variables, resolution)
  variables = jax.tree.map(jnp.asarray, variables)
  return Generator(StyleGAN2(config), variables, config,
                   dict(doc.get('metadata', {})))


def _check_tree(tree: Any, reference: Any) -> None:
  """Raises ValueError naming missing, extra or mis-shaped variables."""
  got = {jax.tree_util.keystr(k): np.shape(v)
         for k, v in jax.tree_util.tree_leaves_with_path(tree)}
  want = {jax.tree_util.keystr(k): tuple(v.shape)
          for k, v in jax.tree_util.tree_leaves_with_path(reference)}
  missing = sorted(set(want) - set(got))
  extra = sorted(set(got) - set(want))
  bad = sorted(k for k in set(got) & set(want) if got[k] != want[k])
  if missing or extra or bad:
    parts = []
    if missing:
      parts.append(f'missing {missing[:5]}')
    if extra:
      parts.append(f'unexpected {extra[:5]}')
    if bad:
      parts.append('shape mismatch ' + ', '.join(
          f'{k}: {got[k]} vs {want[k]}' for k in bad[:5]))
    raise ValueError('variables do not match the architecture: '
                     + '; '.join(parts))
