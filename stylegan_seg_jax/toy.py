"""The built-in toy domain: a shipped StyleGAN2 of procedural faces + exact masks.

The project trains its own small generator (`stylegan_seg_jax.toy_training`)
so that G(z) ~= render(f(z)) for the procedural renderer of
`stylegan_seg_jax.toy_faces`. Every sample then has an exact ground-truth
part mask, `ground_truth(z) = render_mask(f(z))`, with no annotator.

This holds at truncation psi = 1 and const noise only: truncation moves w
towards w_avg, which changes the image but not f(z). Configs that score
samples against this ground truth use psi = 1.

Latents are addressed by integer seeds: `latents(seeds)` draws
z = numpy.random.default_rng(seed).standard_normal(z_dim) for each seed.
Seed ranges are disjoint by purpose:

* `ONESHOT_SEEDS` (0 .. 999): candidates for the one labelled example;
* `TEST_SEEDS` (1_000_000 .. 1_000_255): the labelled test set;
* `EVAL_SEEDS` (2_000_000 .. 2_000_255): held-out z for the fidelity report;
* training draws its z from a jax.random stream, not from seeds.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_seg_jax import generator as gen_lib
from stylegan_seg_jax import toy_faces

__all__ = [
    'CLASS_NAMES', 'RESOLUTION', 'Z_DIM', 'ONESHOT_SEEDS', 'TEST_SEEDS',
    'EVAL_SEEDS', 'GENERATOR_DIR', 'latents', 'ground_truth', 'render_targets',
    'load_generator', 'psnr', 'fidelity_report',
]

CLASS_NAMES = toy_faces.CLASS_NAMES
RESOLUTION = toy_faces.RESOLUTION
Z_DIM = toy_faces.NUM_PARAMS
ONESHOT_SEEDS = range(0, 1000)
TEST_SEEDS = range(1_000_000, 1_000_256)
EVAL_SEEDS = range(2_000_000, 2_000_256)

# The shipped weights (converted-checkpoint layout).
GENERATOR_DIR = gen_lib.TOY_GENERATOR_DIR

# A pixel's colour "stays near" the rendered one when every channel is within
# this distance (in [0, 1] units, i.e. 25.5 / 255).
COLOUR_TOLERANCE = 0.1


def latents(seeds: Sequence[int]) -> np.ndarray:
  """z [len(seeds), Z_DIM] float32: `generator.z_from_seeds(seeds, Z_DIM)`."""
  return gen_lib.z_from_seeds(seeds, Z_DIM)


@jax.jit
def render_targets(z: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(images [N, R, R, 3] in [0, 1], masks [N, R, R] int32) of render(f(z))."""
  return toy_faces.render(toy_faces.scene_from_latent(z))


def ground_truth(z: jax.Array) -> np.ndarray:
  """Exact part masks [N, R, R] (int32 class ids) of the samples G(z)."""
  return np.asarray(render_targets(jnp.asarray(z, jnp.float32))[1])


def load_generator() -> gen_lib.Generator:
  """The shipped toy generator (64x64, z_dim = Z_DIM)."""
  return gen_lib.load(GENERATOR_DIR)


def _generated_01(gen: gen_lib.Generator, z: np.ndarray,
                  batch: int = 64) -> np.ndarray:
  out = []
  for i in range(0, len(z), batch):
    img, _ = gen(z[i:i + batch], psi=1.0)
    out.append(np.clip((np.asarray(img) + 1.0) / 2.0, 0.0, 1.0))
  return np.concatenate(out)


def psnr(gen: gen_lib.Generator, z: np.ndarray) -> float:
  """Mean PSNR (dB, images in [0, 1]) of G(z) against render(f(z))."""
  fake = _generated_01(gen, z)
  real = np.asarray(render_targets(jnp.asarray(z))[0])
  mse = np.mean(np.square(fake - real), axis=(1, 2, 3))
  return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def fidelity_report(gen: gen_lib.Generator, z: np.ndarray) -> dict[str, Any]:
  """How faithfully G(z) draws render(f(z)), overall and per class.

  Args:
    gen: a toy generator.
    z: [N, Z_DIM] held-out latents.

  Returns:
    {'num_samples', 'psnr_db' (mean over images), 'colour_tolerance',
     'near_colour_share': {class: share of that class's pixels whose
     generated colour is within the tolerance on every channel},
     'class_pixel_share': {class: share of all pixels}}.
  """
  fake = _generated_01(gen, z)
  real, masks = (np.asarray(a) for a in render_targets(jnp.asarray(z)))
  mse = np.mean(np.square(fake - real), axis=(1, 2, 3))
  near = np.all(np.abs(fake - real) <= COLOUR_TOLERANCE, axis=-1)
  report = {
      'num_samples': int(len(z)),
      'psnr_db': float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-12)))),
      'colour_tolerance': COLOUR_TOLERANCE,
      'near_colour_share': {},
      'class_pixel_share': {},
  }
  for k, name in enumerate(CLASS_NAMES):
    sel = masks == k
    report['class_pixel_share'][name] = float(sel.mean())
    report['near_colour_share'][name] = (
        float(near[sel].mean()) if sel.any() else None)
  return report


TEST_SET_NAME = 'toy_faces'


def build_test_set(data_dir: str | pathlib.Path,
                   gen: gen_lib.Generator | None = None) -> pathlib.Path:
  """Writes the labelled toy test set (TEST_SEEDS) as a TFDS dataset.

  Deterministic: z from the seeds, masks from the renderer, images and w
  from the generator (psi = 1, const noise). Returns the directory to pass to
  `tfds.builder_from_directory`.
  """
  from stylegan_seg_jax import labelled_set  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import visualize  # pylint: disable=g-import-not-at-top
  gen = gen or load_generator()
  seeds = list(TEST_SEEDS)
  z = latents(seeds)
  w = np.asarray(gen.mapping(z, psi=1.0))
  images = visualize.to_uint8(_generated_01(gen, z), (0.0, 1.0))
  masks = ground_truth(z).astype(np.uint8)
  rows = [dict(seed=s, z=z[i], w=w[i], mask=masks[i], image=images[i])
          for i, s in enumerate(seeds)]
  return labelled_set.write(
      data_dir, TEST_SET_NAME, {'test': rows}, resolution=RESOLUTION,
      z_dim=Z_DIM, w_shape=(gen.config.w_dim,), class_names=CLASS_NAMES,
      metadata={'generator': 'stylegan_seg_jax toy faces (shipped)',
                'truncation_psi': 1.0, 'noise_mode': 'const',
                'seeds': f'{seeds[0]}..{seeds[-1]}',
                'latents': 'z = numpy.random.default_rng(seed)'
                           f'.standard_normal({Z_DIM})'})


def save_sample_grid(path: str | pathlib.Path, seeds: Sequence[int],
                     gen: gen_lib.Generator | None = None,
                     per_row: int = 8) -> None:
  """PNG: generated samples, then the same with their exact masks overlaid."""
  from stylegan_seg_jax import visualize  # pylint: disable=g-import-not-at-top
  gen = gen or load_generator()
  z = latents(seeds)
  images = visualize.to_uint8(_generated_01(gen, z), (0.0, 1.0))
  masks = ground_truth(z)
  rows = []
  for i in range(0, len(seeds), per_row):
    rows.append(list(images[i:i + per_row]))
    rows.append([visualize.overlay(im, m, len(CLASS_NAMES), alpha=0.55)
                 for im, m in zip(images[i:i + per_row], masks[i:i + per_row])])
  visualize.save_grid(path, rows, scale=3,
                      footer=visualize.legend(CLASS_NAMES))


def main(argv: list[str]) -> None:
  """python -m stylegan_seg_jax.toy {grid,testset,report} [flags]."""
  import json  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)
  flags = _FLAGS
  command = argv[1] if len(argv) == 2 else None
  if command == 'grid':
    seeds = range(flags.first_seed, flags.first_seed + flags.num)
    save_sample_grid(flags.out, list(seeds))
    print(f'wrote {flags.out} (seeds {seeds[0]}..{seeds[-1]})')
  elif command == 'testset':
    print(build_test_set(flags.data_dir))
  elif command == 'report':
    print(json.dumps(fidelity_report(load_generator(), latents(EVAL_SEEDS)),
                     indent=2))
  else:
    print('usage: python -m stylegan_seg_jax.toy {grid,testset,report} '
          '[--out=PNG --num=N --first_seed=S | --data_dir=DIR]',
          file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags as absl_flags  # pylint: disable=g-import-not-at-top
  absl_flags.DEFINE_string('out', 'toy_faces_grid.png', 'grid: output PNG.')
  absl_flags.DEFINE_integer('num', 16, 'grid: number of samples.')
  absl_flags.DEFINE_integer('first_seed', 0, 'grid: first seed.')
  absl_flags.DEFINE_string('data_dir', None, 'testset: TFDS data directory.')
  _FLAGS = absl_flags.FLAGS
  app.run(main)
