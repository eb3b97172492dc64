"""The labelled data of an experiment: its one-shot example and its test set.

`config.data.test_set` names a labelled-samples TFDS directory
(`labelled_set`; `label import_reference` writes one from the reference
code's `latents.pt` / `labels.pt`) or a toy domain, 'toy:NAME' (its test
seeds with their exact masks, `build_domain_test_set`), built once under
`WORKDIR/data/`.

`config.data.oneshot` names the one labelled example:

* 'index:N' / 'seed:N': sample N (by position / by seed) of the test set,
  which is then removed from the test split (the reference's
  `one_shot_ind`);
* 'toy:NAME:seed:N': the exact ground truth of seed N of a toy domain's
  one-shot seeds (disjoint from its test seeds);
* a path to an example written by `label import` (the `.npz` file, or the
  directory holding it as `example.npz`).

Latents are stored untruncated with the truncation psi they are meant for
(dataset metadata `truncation_psi`, or the example's `psi`);
`Generator.truncate` applies it with the generator's w_avg.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile
from typing import Any

import ml_collections
import numpy as np

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.domains import fidelity
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import parallel
from stylegan_seg_jax.runtime import pictures

__all__ = ['TestSet', 'ImageSet', 'load_test_set', 'load_oneshot',
           'load_oneshot_examples', 'example_files', 'domain_test_set_dir',
           'build_domain_test_set', 'build_render_set', 'render_set_dir',
           'load_image_set', 'EXAMPLE_FILE']

# The file name of a one-shot example inside a directory (`label import`).
EXAMPLE_FILE = 'example.npz'


@dataclasses.dataclass(frozen=True)
class TestSet:
  """Labelled test samples.

  Attributes:
    w: [N, w_dim] or [N, num_ws, w_dim] untruncated latents.
    psi: their truncation.
    masks: [N, R, R] uint8 class ids.
    seeds: [N] int64 (-1 where unknown).
    indices: [N] positions in the stored split.
    class_names: name of each class id.
    source: where the samples came from.
  """

  w: np.ndarray
  psi: float
  masks: np.ndarray
  seeds: np.ndarray
  indices: np.ndarray
  class_names: tuple[str, ...]
  source: str

  def __len__(self) -> int:
    """The number of samples."""
    return len(self.masks)


@dataclasses.dataclass(frozen=True)
class ImageSet:
  """Labelled images held in memory, whoever drew them.

  What a downstream network trains on or is scored on (a
  `downstream.input_pipeline.Source`). Construction checks the arrays.

  Attributes:
    images: [N, R, R, 3] uint8.
    masks: [N, R, R] uint8 class ids.
    class_names: name of each class id.
    source: where the images came from, in words.
  """

  images: np.ndarray
  masks: np.ndarray
  class_names: tuple[str, ...]
  source: str

  def __post_init__(self):
    """Checks shapes and class ids.

    Raises:
      ValueError: mismatched or malformed arrays, or an id out of range.
    """
    images, masks = np.asarray(self.images), np.asarray(self.masks)
    if (images.ndim != 4 or images.shape[-1] != 3
        or masks.shape != images.shape[:3]
        or images.shape[1] != images.shape[2] or not len(images)):
      raise ValueError(f'{self.source}: images {images.shape} and masks '
                       f'{masks.shape} do not match')
    if int(masks.max()) >= len(self.class_names):
      raise ValueError(f'{self.source}: class id {int(masks.max())} out of '
                       f'range for {len(self.class_names)} classes')
    object.__setattr__(self, 'images', images.astype(np.uint8))
    object.__setattr__(self, 'masks', masks.astype(np.uint8))
    object.__setattr__(self, 'class_names', tuple(self.class_names))

  @property
  def resolution(self) -> int:
    """Image size R."""
    return int(self.images.shape[1])

  def __len__(self) -> int:
    """The number of images."""
    return len(self.masks)

  def batch(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
    """(images, masks) of `indices` (a sequence or an integer array)."""
    idx = np.asarray(indices)
    return self.images[idx], self.masks[idx]


def build_domain_test_set(domain: domains.Domain,
                          data_dir: str | pathlib.Path,
                          gen: stylegan2.Generator | None = None
                          ) -> pathlib.Path:
  """Writes a toy domain's labelled test set as a TFDS dataset.

  Deterministic: z from the domain's test seeds
  (`domains.Domain.test_seed_list`), masks from its renderer and label set,
  images and w from the generator (psi = 1, const noise).

  Args:
    domain: the toy domain.
    data_dir: TFDS data directory.
    gen: the domain's generator (default: the shipped one).

  Returns:
    The directory to pass to `tfds.builder_from_directory`.
  """
  gen = gen or domain.load_generator()
  seeds = domain.test_seed_list()
  z = domain.latents(seeds)
  w = np.asarray(gen.mapping(z, psi=1.0))
  images = pictures.to_uint8(fidelity.generated_images(gen, z), (0.0, 1.0))
  masks = domain.ground_truth(z).astype(np.uint8)
  rows = [dict(seed=s, z=z[i], w=w[i], mask=masks[i], image=images[i])
          for i, s in enumerate(seeds)]
  return labelled_set.write(
      data_dir, domain.test_set_name, {'test': rows},
      resolution=domain.resolution, z_dim=domain.z_dim,
      w_shape=(gen.config.w_dim,), class_names=domain.class_names,
      metadata={'generator': f'stylegan_seg_jax {domain.spec} (shipped): '
                             f'{domain.description}',
                'truncation_psi': 1.0, 'noise_mode': 'const',
                'seeds': (f'{seeds[0]}..{seeds[-1]}' if not domain.requires
                          else ','.join(map(str, seeds))),
                'latents': 'z = numpy.random.default_rng(seed)'
                           f'.standard_normal({domain.z_dim})'})


def build_render_set(domain: domains.Domain, kind: str,
                     data_dir: str | pathlib.Path) -> pathlib.Path:
  """Writes a renderer-drawn test set ('rendered' or 'shifted') as TFDS.

  Images the generator did not make: the renderer's own drawings of the
  domain's held-out scenes (`domains.Domain.render_seed_list`), with their
  exact masks; 'shifted' draws the same scenes outside the generator's
  training distribution (`domains.Domain.shift_description`). `w` is not
  defined for them (stored as one zero).

  Returns:
    The directory to pass to `tfds.builder_from_directory`.
  """
  seeds = domain.render_seed_list()
  shifted = kind == 'shifted'
  images, masks = domain.rendered(seeds, shifted=shifted)
  z = domain.latents(seeds)
  rows = [dict(seed=s, z=z[i], w=np.zeros(1, np.float32),
               mask=masks[i].astype(np.uint8), image=images[i])
          for i, s in enumerate(seeds)]
  return labelled_set.write(
      data_dir, f'{domain.test_set_name}_{kind}', {'test': rows},
      resolution=domain.resolution, z_dim=domain.z_dim, w_shape=(1,),
      class_names=domain.class_names,
      metadata={'generator': f'none: drawn by the {domain.spec} renderer',
                'truncation_psi': 1.0,
                'shift': domain.shift_description() if shifted else 'none',
                'seeds': ','.join(map(str, seeds)) if domain.requires
                         else f'{seeds[0]}..{seeds[-1]}'})


def _built_once(built: pathlib.Path, data_dir: pathlib.Path, what: str,
                build: Any) -> pathlib.Path:
  """`build(data_dir)` on process 0 unless `built` exists; others wait."""
  if (built / 'dataset_info.json').is_file():
    return built

  def run() -> None:
    if files.is_url(built):
      # Written locally, uploaded with the file that marks it built last.
      with tempfile.TemporaryDirectory(prefix='stylegan_seg_jax-') as local:
        files.copy_tree(build(local), built, last=('dataset_info.json',))
    else:
      build(data_dir)

  parallel.on_process_0(run, f'building {what} in {data_dir}')
  return built


def domain_test_set_dir(domain: domains.Domain,
                        workdir: str | pathlib.Path) -> pathlib.Path:
  """A domain's test set under the workdir, built if absent.

  With several processes, process 0 builds it and the others wait for it.
  """
  data_dir = files.as_path(workdir) / 'data'
  built = (data_dir / 'labelled_samples' / domain.test_set_name /
           labelled_set.VERSION)
  if (built / 'dataset_info.json').is_file():
    return built
  # Every process loads the generator: orbax's restore is collective.
  gen = domain.load_generator()
  return _built_once(built, data_dir, f'the {domain.spec} test set',
                     lambda d: build_domain_test_set(domain, d, gen))


def render_set_dir(spec: str, workdir: str | pathlib.Path) -> pathlib.Path:
  """The renderer-drawn set 'toy:NAME:rendered|shifted', built if absent.

  Raises:
    domains.DomainError: a malformed spec or an unknown domain.
  """
  domain, kind = domains.render_set_of(spec)
  data_dir = files.as_path(workdir) / 'data'
  built = (data_dir / 'labelled_samples' / f'{domain.test_set_name}_{kind}'
           / labelled_set.VERSION)
  return _built_once(built, data_dir, f'the {spec} images',
                     lambda d: build_render_set(domain, kind, d))


def load_image_set(src: str, workdir: str | pathlib.Path,
                   split: str = 'test') -> ImageSet:
  """Labelled images: a renderer-drawn set spec or a labelled TFDS directory.

  Args:
    src: 'toy:NAME:rendered', 'toy:NAME:shifted', or a directory written
      by `labelled_set.write` (with images).
    workdir: where renderer-drawn sets are built (`WORKDIR/data/`).
    split: the split of a directory.

  Raises:
    ValueError: no dataset there, no such split, or images missing.
  """
  directory = (render_set_dir(src, workdir) if domains.is_spec(src)
               else files.as_path(src))
  if not (directory / 'dataset_info.json').is_file():
    raise ValueError(f'{src}: no TFDS dataset there (expected a directory '
                     'with dataset_info.json)')
  try:
    source, names, _ = labelled_set.read(directory, split)
  except (KeyError, ValueError) as e:
    raise ValueError(f'{src}: no split {split!r} ({e})') from None
  rows = [source[i] for i in range(len(source))]
  if not rows:
    raise ValueError(f'{src}: the {split} split is empty')
  if 'image' not in rows[0]:
    raise ValueError(f'{src}: the examples hold no images')
  return ImageSet(images=np.stack([r['image'] for r in rows]),
                  masks=np.stack([r['mask'] for r in rows]),
                  class_names=tuple(names), source=str(directory))


def _test_set_dir(src: str, workdir: str | pathlib.Path) -> pathlib.Path:
  """The directory `data.test_set` names (a domain's is built if absent)."""
  if domains.is_spec(src):
    return domain_test_set_dir(domains.domain_of(src), workdir)
  return files.as_path(src)


def _parse_oneshot(spec: str) -> tuple[str, Any]:
  """Splits a one-shot spec into (kind, value).

  The value is an int for 'index' and 'seed', (domain, seed) for 'domain'
  ('toy:NAME:seed:N') and the spec itself (a str) for 'file'.

  Raises:
    ValueError: a malformed spec (`domains.DomainError` for a domain's).
  """
  if domains.is_spec(spec):
    return 'domain', domains.oneshot_seed_of(spec)
  for kind in ('index', 'seed'):
    if spec.startswith(kind + ':'):
      try:
        return kind, int(spec[len(kind) + 1:])
      except ValueError:
        raise ValueError(f'data.oneshot {spec!r}: {kind} must be an '
                         'integer') from None
  return 'file', spec


def load_test_set(config: ml_collections.ConfigDict,
                  workdir: str | pathlib.Path) -> TestSet:
  """The configured test split, without the one-shot sample, cut to num_test.

  Raises:
    ValueError: a missing or malformed dataset, or a one-shot index/seed
      that is not in it.
  """
  src = config.data.test_set
  if not src:
    raise ValueError('data.test_set is not set: evaluation needs a labelled '
                     "test set ('toy:NAME', or a TFDS directory from label "
                     'import_reference)')
  directory = _test_set_dir(src, workdir)
  if not (directory / 'dataset_info.json').is_file():
    raise ValueError(f'data.test_set {src}: no TFDS dataset there (expected '
                     'a directory with dataset_info.json)')
  source, names, meta = labelled_set.read(directory, 'test')
  if 'truncation_psi' not in meta:
    raise ValueError(f'data.test_set {src}: metadata lacks truncation_psi')
  rows = [source[i] for i in range(len(source))]
  keep = np.ones(len(rows), bool)
  kind, value = _parse_oneshot(config.data.oneshot)
  if kind in ('index', 'seed'):
    assert isinstance(value, int)  # _parse_oneshot: an integer kind
    seeds = np.array([int(r['seed']) for r in rows])
    hits = [value] if kind == 'index' else list(np.flatnonzero(seeds == value))
    if not hits or not 0 <= hits[0] < len(rows):
      raise ValueError(f'data.oneshot {config.data.oneshot!r} is not in the '
                       f'test set ({len(rows)} samples)')
    keep[hits[0]] = False
  idx = np.flatnonzero(keep)
  if config.data.num_test > 0:
    idx = idx[:config.data.num_test]
  return TestSet(
      w=np.stack([np.asarray(rows[i]['w'], np.float32) for i in idx]),
      psi=float(meta['truncation_psi']),
      masks=np.stack([np.asarray(rows[i]['mask'], np.uint8) for i in idx]),
      seeds=np.array([int(rows[i]['seed']) for i in idx], np.int64),
      indices=idx.astype(np.int64), class_names=tuple(names),
      source=str(directory))


def load_oneshot(config: ml_collections.ConfigDict,
                 workdir: str | pathlib.Path,
                 gen: stylegan2.Generator) -> labelled_set.OneShotExample:
  """The configured one-shot example.

  Raises:
    ValueError: a bad spec, a domain seed outside its one-shot range, a
      missing file, or a mask that does not match the generator's
      resolution.
  """
  spec = config.data.oneshot
  kind, value = _parse_oneshot(spec)
  res = gen.config.resolution
  if kind == 'domain':
    domain, seed = value
    if gen.config.z_dim != domain.z_dim or res != domain.resolution:
      raise ValueError(f'data.oneshot {spec!r} needs the generator of '
                       f'{domain.spec} (z_dim {domain.z_dim}, '
                       f'{domain.resolution} px)')
    z = domain.latents([seed])
    return labelled_set.OneShotExample(
        w=np.asarray(gen.mapping(z, psi=1.0))[0], psi=1.0,
        mask=domain.ground_truth(z)[0].astype(np.uint8),
        class_names=tuple(domain.class_names), seed=seed, image=None)
  if kind in ('index', 'seed'):
    assert isinstance(value, int)  # _parse_oneshot: an integer kind
    src = config.data.test_set
    directory = _test_set_dir(src, workdir)
    source, names, meta = labelled_set.read(directory, 'test')
    if kind == 'index':
      if not 0 <= value < len(source):
        raise ValueError(f'data.oneshot {spec!r}: the test set has '
                         f'{len(source)} samples')
      row = source[value]
    else:
      rows = [source[i] for i in range(len(source))]
      found = [r for r in rows if int(r['seed']) == value]
      if not found:
        raise ValueError(f'data.oneshot {spec!r}: no such seed in {src}')
      row = found[0]
    example = labelled_set.OneShotExample(
        w=np.asarray(row['w'], np.float32),
        psi=float(meta.get('truncation_psi', 1.0)),
        mask=np.asarray(row['mask'], np.uint8), class_names=tuple(names),
        seed=int(row['seed']), image=np.asarray(row['image'], np.uint8))
  else:
    return load_oneshot_examples(config, workdir, gen)[0]
  _check_resolution(example, res)
  return example


def _check_resolution(example: labelled_set.OneShotExample, res: int) -> None:
  if example.mask.shape != (res, res):
    raise ValueError(f'one-shot mask {example.mask.shape} does not match the '
                     f'generator resolution {res}')


def example_files(directory: str | pathlib.Path) -> list[pathlib.Path]:
  """The example files of a labels directory, in order.

  `example.npz` first, then `example_<k>.npz` by increasing k (what the
  labeller's Save writes for several examples); none without
  `example.npz`.
  """
  root = files.as_path(directory)
  first = root / EXAMPLE_FILE
  if not first.is_file():
    return []
  numbered = []
  for path in root.glob('example_*.npz'):
    k = path.stem[len('example_'):]
    if k.isdigit() and not k.startswith('0'):
      numbered.append((int(k), path))
  return [first] + [p for _, p in sorted(numbered)]


def load_oneshot_examples(config: ml_collections.ConfigDict,
                          workdir: str | pathlib.Path,
                          gen: stylegan2.Generator
                          ) -> list[labelled_set.OneShotExample]:
  """Every configured labelled example.

  One, unless a labels directory holds several (`example_files`).

  Raises:
    ValueError: as `load_oneshot`; also examples of a directory whose class
      names differ.
  """
  kind, value = _parse_oneshot(config.data.oneshot)
  if kind != 'file':
    return [load_oneshot(config, workdir, gen)]
  assert isinstance(value, str)  # _parse_oneshot: a 'file' spec
  spec = config.data.oneshot
  path = files.as_path(value)
  paths = example_files(path) if path.is_dir() else [path]
  if not paths or not paths[0].is_file():
    what = ('no example.npz in that directory' if path.is_dir()
            else 'no such example file')
    raise ValueError(f'data.oneshot {spec!r}: {what}')
  examples = [labelled_set.load_example(p) for p in paths]
  for p, e in zip(paths, examples):
    _check_resolution(e, gen.config.resolution)
    if e.class_names != examples[0].class_names:
      raise ValueError(f'{p}: class names {list(e.class_names)} differ from '
                       f'{paths[0].name}\'s {list(examples[0].class_names)}')
  return examples
