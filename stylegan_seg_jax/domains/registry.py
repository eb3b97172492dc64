"""The domain registry: what a toy domain gives, and how configs name it.

A toy domain is a procedural renderer with a StyleGAN2 the project trained
to draw it, so every generated sample has an exact part mask. Each domain
is a plugin: a subpackage of `stylegan_seg_jax.domains` (or any module)
that builds `Domain` records and registers them. Several domains may share
one renderer and generator and differ in their label set (the fine car
parts and the reference's 8 car classes; the fine face parts and the
two-class glasses benchmark).

Configs and flags name a domain with one vocabulary:

* `generator_dir='toy:NAME'`: the domain's shipped generator;
* `data.test_set='toy:NAME'`: its labelled test set (built under the
  workdir on first use);
* `data.oneshot='toy:NAME:seed:N'`: the exact ground truth of its one-shot
  seed N;
* `'toy:NAME:rendered'` and `'toy:NAME:shifted'`: images drawn by the
  renderer itself, not by the generator (`Domain.rendered`), for held-out
  scenes, as they are and shifted outside the generator's training
  distribution (`downstream.train_set` and `downstream.test_sets`).

The spellings of release 0.3 (`'toy'`, `'toy_seed:N'`) still work for one
release, meaning the default domain (the one registered with
`default=True`), and warn.

The built-in plugins are the subpackages of `stylegan_seg_jax.domains`,
imported on first use of the registry; a plugin elsewhere calls `register`
when imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import dataclasses
import functools
import importlib
import math
import pathlib
import pkgutil
import types
import warnings

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.runtime import pictures

__all__ = ['Domain', 'register', 'get', 'names', 'default', 'PREFIX',
           'is_spec', 'canonical', 'domain_of', 'oneshot_seed_of',
           'render_set_of', 'RENDER_SETS', 'DomainError']

# The prefix of every domain spec: 'toy:NAME', 'toy:NAME:seed:N'.
PREFIX = 'toy'
# The image sets drawn by a domain's renderer: 'toy:NAME:<set>'.
RENDER_SETS = ('rendered', 'shifted')
_REGISTRY: dict[str, Domain] = {}
_LOADED: list[bool] = []


class DomainError(ValueError):
  """An unknown domain, a malformed spec or a seed outside its range."""


def _short(value: object, limit: int = 80) -> str:
  text = repr(value)
  return text if len(text) <= limit else text[:limit] + "...'"


@dataclasses.dataclass(frozen=True)
class Domain:
  """A toy domain: a renderer, its shipped generator and a label set.

  Attributes:
    name: registry name (`toy:NAME` in configs).
    description: one line for docs and dataset metadata.
    renderer: module with `RESOLUTION`, `CLASS_NAMES`, `PARAMS`,
      `NUM_PARAMS`, `scene_from_latent(z)` and `render(scene)` returning
      (images [N, R, R, 3] in [0, 1], masks [N, R, R] int32 of the
      renderer's classes).
    generator_dir: the shipped generator (a converted-generator directory,
      package data).
    class_names: this domain's classes (index = class id).
    label_lookup: renderer class id -> this domain's class id (None: the
      renderer's classes unchanged).
    requires: classes every test sample and one-shot example must show
      (a rare-part benchmark); the seed ranges are then filtered.
    oneshot_seeds: candidate seeds of the one labelled example.
    test_seeds: the seed range the labelled test set is drawn from.
    num_test: test samples (the first that show `requires`).
    eval_seeds: held-out seeds of the generator's fidelity report.
    render_seeds: scenes of the renderer-drawn test sets
      ('toy:NAME:rendered' and, the same scenes shifted, 'toy:NAME:shifted';
      the first `num_test` that show `requires`).
    render_train_seeds: scenes of the renderer-drawn training images (what
      a network trained on exact data sees, `train_rendered`).
    shift: scene parameters the shifted set draws outside their trained
      range: (name, lo, hi), the parameter's scene value u in [0, 1]
      replaced by lo + (hi - lo) * u (the trained range is lo=0, hi=1).
    hue_shift: degrees every shifted image's hues are rotated by (YIQ).
    colour_tolerance: a generated pixel "stays near" the rendered one when
      every channel is within this distance (images in [0, 1]).
    default: the domain of the quickstart, of commands given no domain and
      of the 0.3 spellings 'toy' and 'toy_seed:N' (one domain at most).
  """

  name: str
  description: str
  renderer: types.ModuleType
  generator_dir: pathlib.Path
  class_names: tuple[str, ...] = ()
  label_lookup: tuple[int, ...] | None = None
  requires: tuple[str, ...] = ()
  oneshot_seeds: range = range(0, 1000)
  test_seeds: range = range(1_000_000, 1_100_000)
  num_test: int = 256
  eval_seeds: range = range(2_000_000, 2_000_256)
  render_seeds: range = range(3_000_000, 3_100_000)
  render_train_seeds: range = range(4_000_000, 5_000_000)
  shift: tuple[tuple[str, float, float], ...] = ()
  hue_shift: float = 90.0
  colour_tolerance: float = 0.1
  default: bool = False

  def __post_init__(self):
    """Fills the class names from the renderer; checks the label set."""
    if not self.class_names:
      object.__setattr__(self, 'class_names',
                         tuple(self.renderer.CLASS_NAMES))
    lookup = self.label_lookup
    if lookup is not None and (
        len(lookup) != len(self.renderer.CLASS_NAMES)
        or not all(0 <= k < len(self.class_names) for k in lookup)):
      raise ValueError(f'domain {self.name!r}: label_lookup must map each of '
                       f'{len(self.renderer.CLASS_NAMES)} renderer classes '
                       f'to one of {len(self.class_names)}')
    missing = [c for c in self.requires if c not in self.class_names]
    if missing:
      raise ValueError(f'domain {self.name!r}: requires unknown {missing}')
    unknown = [p for p, _, _ in self.shift if p not in self.renderer.PARAMS]
    if unknown:
      raise ValueError(f'domain {self.name!r}: shift names unknown scene '
                       f'parameters {unknown}')

  @property
  def spec(self) -> str:
    """How configs name this domain: 'toy:NAME'."""
    return f'{PREFIX}:{self.name}'

  @property
  def has_generator(self) -> bool:
    """Whether its generator has been trained (a plugin may ship without)."""
    return (self.generator_dir / 'generator.json').is_file()

  @property
  def resolution(self) -> int:
    """Image size in pixels."""
    return int(self.renderer.RESOLUTION)

  @property
  def z_dim(self) -> int:
    """Latent size (one dimension per scene parameter)."""
    return int(self.renderer.NUM_PARAMS)

  @property
  def test_set_name(self) -> str:
    """The name of its labelled test set (a TFDS dataset)."""
    return f'{PREFIX}_{self.name}'

  @property
  def palette(self) -> np.ndarray:
    """[num_classes, 3] uint8 display colours of the classes."""
    return pictures.palette(len(self.class_names))

  def latents(self, seeds: Sequence[int]) -> np.ndarray:
    """Latents z [len(seeds), z_dim] float32 (`stylegan2.z_from_seeds`)."""
    return stylegan2.z_from_seeds(seeds, self.z_dim)

  def render_targets(self, z: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """(images [N, R, R, 3] in [0, 1], renderer masks [N, R, R] int32)."""
    return _render_jit(self.renderer)(jnp.asarray(z, jnp.float32))

  def ground_truth(self, z: ArrayLike) -> np.ndarray:
    """Exact masks [N, R, R] (int32 ids of `class_names`) of G(z)."""
    masks = np.asarray(self.render_targets(z)[1])
    if self.label_lookup is None:
      return masks
    return np.asarray(self.label_lookup, np.int32)[masks]

  def rendered(self, seeds: Sequence[int], *, shifted: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """Images drawn by the renderer (not the generator), with exact masks.

    Args:
      seeds: scene seeds (`latents`).
      shifted: draw the scenes shifted outside the generator's training
        distribution: the `shift` parameters extrapolated and the hues
        rotated by `hue_shift` degrees (`shift_description`).

    Returns:
      (images [N, R, R, 3] uint8, masks [N, R, R] int32 ids of
      `class_names`).
    """
    images, masks = [], []
    for i in range(0, len(seeds), 64):
      scene = self.renderer.scene_from_latent(
          jnp.asarray(self.latents(seeds[i:i + 64])))
      if shifted:
        for name, lo, hi in self.shift:
          k = list(self.renderer.PARAMS).index(name)
          scene = scene.at[:, k].set(lo + (hi - lo) * scene[:, k])
      img, mask = _render_scene_jit(self.renderer)(scene)
      if shifted:
        img = rotate_hue(img, self.hue_shift)
      images.append(pictures.to_uint8(np.asarray(img), (0.0, 1.0)))
      masks.append(np.asarray(mask))
    masks_all = np.concatenate(masks)
    if self.label_lookup is not None:
      masks_all = np.asarray(self.label_lookup, np.int32)[masks_all]
    return np.concatenate(images), masks_all

  def shift_description(self) -> str:
    """What the shifted set changes, in words."""
    parts = [f'hues rotated by {self.hue_shift:g} degrees']
    for name, lo, hi in self.shift:
      a, b = self.renderer.PARAMS[name]
      parts.append(f'{name} over [{a + (b - a) * lo:.3g}, '
                   f'{a + (b - a) * hi:.3g}] (trained [{a:.3g}, {b:.3g}])')
    return '; '.join(parts)

  def render_seed_list(self) -> list[int]:
    """The rendered test scenes: the first `num_test` that show `requires`."""
    return _filtered(self, 'render', self.num_test)

  def load_generator(self, resolution: int | None = None
                     ) -> stylegan2.Generator:
    """The shipped generator (`stylegan2.load`; `resolution` prunes).

    Raises:
      DomainError: the domain has no trained generator yet.
    """
    if not self.has_generator:
      raise DomainError(
          f'{self.spec} has no trained generator yet ({self.generator_dir} '
          'is missing): train one with the toy_generator stage and copy '
          'WORKDIR/toy_generator/generator there (docs/domains.md)')
    return stylegan2.load(self.generator_dir, resolution)

  def _shows_required(self, seeds: Sequence[int]) -> np.ndarray:
    """[len(seeds)] bool: the sample shows every required class."""
    ok = np.ones(len(seeds), bool)
    ids = [self.class_names.index(c) for c in self.requires]
    for i in range(0, len(seeds), 256):
      masks = self.ground_truth(self.latents(seeds[i:i + 256]))
      for k in ids:
        ok[i:i + 256] &= (masks == k).any(axis=(1, 2))
    return ok

  def test_seed_list(self) -> list[int]:
    """The test samples' seeds: the first `num_test` that show `requires`."""
    return _filtered(self, 'test', self.num_test)

  def oneshot_seed_list(self, count: int) -> list[int]:
    """The first `count` one-shot seeds that show `requires`, in order."""
    return _filtered(self, 'oneshot', count)

  def check_oneshot_seed(self, seed: int) -> None:
    """Raises DomainError unless `seed` can be the one labelled example."""
    seeds = self.oneshot_seeds
    if seed not in seeds:
      raise DomainError(f'{self.spec}: one-shot seeds are '
                        f'{seeds.start}..{seeds.stop - 1}, got {seed}')
    if self.requires and not self._shows_required([seed])[0]:
      first = ', '.join(map(str, self.oneshot_seed_list(3)))
      raise DomainError(f'{self.spec}: seed {seed} does not show '
                        f'{", ".join(self.requires)} (the first seeds that '
                        f'do: {first})')

  def config_fields(self) -> dict[str, object]:
    """The config fields a config for this domain sets (dotted names)."""
    return {'generator_dir': self.spec, 'data.test_set': self.spec,
            'data.oneshot': f'{self.spec}:seed:{self.oneshot_seeds.start}',
            'data.class_names': self.class_names}


@functools.cache
def _render_jit(renderer: types.ModuleType) -> Callable[[jax.Array], tuple]:
  return jax.jit(lambda z: renderer.render(renderer.scene_from_latent(z)))


@functools.cache
def _render_scene_jit(renderer: types.ModuleType
                      ) -> Callable[[jax.Array], tuple]:
  return jax.jit(renderer.render)


def rotate_hue(images: ArrayLike, degrees: float) -> jax.Array:
  """RGB images [..., 3] in [0, 1] with hues rotated (YIQ), clipped."""
  to_yiq = jnp.asarray([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]], jnp.float32)
  a = math.radians(degrees)
  rot = jnp.asarray([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)],
                     [0.0, math.sin(a), math.cos(a)]], jnp.float32)
  m = jnp.linalg.inv(to_yiq) @ rot @ to_yiq
  return jnp.clip(jnp.asarray(images, jnp.float32) @ m.T, 0.0, 1.0)


@functools.cache
def _filtered_cached(domain: Domain, which: str, count: int) -> tuple[int, ...]:
  seeds = {'test': domain.test_seeds, 'oneshot': domain.oneshot_seeds,
           'render': domain.render_seeds}[which]
  if not domain.requires:
    if count > len(seeds):
      raise DomainError(f'{domain.spec}: only {len(seeds)} {which} seeds')
    return tuple(seeds[:count])
  found: list[int] = []
  step = 128
  for start in range(seeds.start, seeds.stop, step):
    block = list(range(start, min(start + step, seeds.stop)))
    found += [s for s, ok in zip(block, domain._shows_required(block)) if ok]  # pylint: disable=protected-access
    if len(found) >= count:
      return tuple(found[:count])
  raise DomainError(f'{domain.spec}: fewer than {count} {which} seeds show '
                    f'{", ".join(domain.requires)}')


def _filtered(domain: Domain, which: str, count: int) -> list[int]:
  return list(_filtered_cached(domain, which, count))


def register(domain: Domain) -> Domain:
  """Adds a domain to the registry (a plugin calls it at import).

  Raises:
    ValueError: another domain already has that name.
  """
  known = _REGISTRY.get(domain.name)
  if known is not None and known is not domain:
    raise ValueError(f'a domain named {domain.name!r} is already registered')
  if domain.default and any(d.default and d is not domain
                            for d in _REGISTRY.values()):
    raise ValueError(f'domain {domain.name!r}: another domain is the default')
  _REGISTRY[domain.name] = domain
  return domain


def _load_built_in() -> None:
  """Imports every subpackage of `stylegan_seg_jax.domains` once."""
  if _LOADED:
    return
  _LOADED.append(True)
  package = importlib.import_module(__name__.rpartition('.')[0])
  for info in pkgutil.iter_modules(package.__path__):
    if info.ispkg:
      importlib.import_module(f'{package.__name__}.{info.name}')


def names() -> tuple[str, ...]:
  """The registered domains' names, sorted."""
  _load_built_in()
  return tuple(sorted(_REGISTRY))


def get(name: str) -> Domain:
  """The domain registered as `name`.

  Raises:
    DomainError: no such domain.
  """
  _load_built_in()
  try:
    return _REGISTRY[name]
  except KeyError:
    raise DomainError(f'unknown domain {_short(name)}; known: '
                      f'{", ".join(names())}') from None


def default() -> Domain:
  """The default domain (registered with `default=True`).

  Raises:
    DomainError: no domain is the default.
  """
  _load_built_in()
  for domain in _REGISTRY.values():
    if domain.default:
      return domain
  raise DomainError('no toy domain is registered as the default')


def _legacy(spec: str, new: str) -> None:
  warnings.warn(f'{spec!r} is deprecated and will be removed in 0.5; '
                f'write {new!r}', FutureWarning, stacklevel=3)


def is_spec(value: object) -> bool:
  """Whether a config value names a domain rather than a path."""
  text = str(value)
  return (text == PREFIX or text.startswith(PREFIX + ':')
          or text.startswith('toy_seed:'))


def canonical(value: object) -> object:
  """A config value with the 0.3 spellings rewritten, without a warning.

  'toy' becomes the default domain's 'toy:NAME' and 'toy_seed:N'
  'toy:NAME:seed:N'; anything else is returned unchanged.
  """
  if not isinstance(value, str):
    return value
  if value == PREFIX:
    return default().spec
  if value.startswith('toy_seed:'):
    return f'{default().spec}:seed:{value[len("toy_seed:"):]}'
  return value


def domain_of(spec: object) -> Domain:
  """The domain a generator or test-set spec names ('toy:NAME').

  Raises:
    DomainError: not a domain spec, or an unknown domain.
  """
  text = str(spec)
  if text == PREFIX:
    domain = default()
    _legacy(text, domain.spec)
    return domain
  head, _, name = text.partition(':')
  if head != PREFIX or not name or ':' in name:
    raise DomainError(f'{_short(text)} is not a domain spec '
                      f"('{PREFIX}:NAME', NAME one of {', '.join(names())})")
  return get(name)


def render_set_of(spec: object) -> tuple[Domain, str]:
  """(domain, set) of a renderer-drawn set spec 'toy:NAME:rendered|shifted'.

  Raises:
    DomainError: a malformed spec or an unknown domain.
  """
  parts = str(spec).split(':')
  if len(parts) != 3 or parts[0] != PREFIX or parts[2] not in RENDER_SETS:
    raise DomainError(f'{_short(str(spec))} is not a rendered-image set '
                      f"('{PREFIX}:NAME:SET', SET one of "
                      f"{', '.join(RENDER_SETS)})")
  return get(parts[1]), parts[2]


def oneshot_seed_of(spec: object) -> tuple[Domain, int]:
  """(domain, seed) of a one-shot spec 'toy:NAME:seed:N'.

  Raises:
    DomainError: a malformed spec, an unknown domain, a seed outside the
      domain's one-shot range or one that lacks a required class.
  """
  text = str(spec)
  if text.startswith('toy_seed:'):
    new = f'{default().spec}:seed:{text[len("toy_seed:"):]}'
    _legacy(text, new)
    text = new
  parts = text.split(':')
  if len(parts) != 4 or parts[0] != PREFIX or parts[2] != 'seed':
    raise DomainError(f'data.oneshot {_short(text)}: expected '
                      f"'{PREFIX}:NAME:seed:N'")
  domain = get(parts[1])
  try:
    seed = int(parts[3])
  except ValueError:
    raise DomainError(f'data.oneshot {_short(text)}: the seed must be an '
                      'integer') from None
  domain.check_oneshot_seed(seed)
  return domain, seed
