"""The toy domain's API: the shipped generator, seeds, exact masks, fidelity.

The project trains its own small generator (`generator_training`, run as
the `toy_generator` stage of the training binary) so that
G(z) ~= render(f(z)) for the procedural renderer of `faces`. Every sample
then has an exact ground-truth part mask, `ground_truth(z) =
render_mask(f(z))`, with no annotator.

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

from collections.abc import Sequence
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.runtime import pictures
from stylegan_seg_jax.toy import faces

__all__ = [
    'CLASS_NAMES', 'RESOLUTION', 'Z_DIM', 'ONESHOT_SEEDS', 'TEST_SEEDS',
    'EVAL_SEEDS', 'GENERATOR_DIR', 'TEST_SET_NAME', 'latents', 'ground_truth',
    'render_targets', 'load_generator', 'generated_images', 'psnr',
    'fidelity_report', 'save_sample_grid',
]

CLASS_NAMES = faces.CLASS_NAMES
RESOLUTION = faces.RESOLUTION
Z_DIM = faces.NUM_PARAMS
ONESHOT_SEEDS = range(0, 1000)
TEST_SEEDS = range(1_000_000, 1_000_256)
EVAL_SEEDS = range(2_000_000, 2_000_256)

# The shipped weights (converted-generator layout), package data.
GENERATOR_DIR = (pathlib.Path(__file__).parent / 'assets' /
                 'toy_faces_generator')
# Name of the toy test set (a labelled-samples dataset, `data.experiment`).
TEST_SET_NAME = 'toy_faces'

# A pixel's colour "stays near" the rendered one when every channel is within
# this distance (in [0, 1] units, i.e. 25.5 / 255).
COLOUR_TOLERANCE = 0.1


def latents(seeds: Sequence[int]) -> np.ndarray:
  """Latents z [len(seeds), Z_DIM] float32 (`stylegan2.z_from_seeds`)."""
  return stylegan2.z_from_seeds(seeds, Z_DIM)


@jax.jit
def render_targets(z: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(images [N, R, R, 3] in [0, 1], masks [N, R, R] int32) of render(f(z))."""
  return faces.render(faces.scene_from_latent(z))


def ground_truth(z: ArrayLike) -> np.ndarray:
  """Exact part masks [N, R, R] (int32 class ids) of the samples G(z)."""
  return np.asarray(render_targets(jnp.asarray(z, jnp.float32))[1])


def load_generator(resolution: int | None = None) -> stylegan2.Generator:
  """The shipped toy generator (64x64, z_dim = Z_DIM).

  Args:
    resolution: run only the blocks up to this resolution (see
      `stylegan2.load`).
  """
  return stylegan2.load(GENERATOR_DIR, resolution)


def generated_images(gen: stylegan2.Generator, z: np.ndarray,
                     batch: int = 64) -> np.ndarray:
  """G(z) at psi = 1 and const noise, as float images [N, R, R, 3] in [0, 1]."""
  out = []
  for i in range(0, len(z), batch):
    img, _ = gen(z[i:i + batch], psi=1.0)
    out.append(np.clip((np.asarray(img) + 1.0) / 2.0, 0.0, 1.0))
  return np.concatenate(out)


def psnr(gen: stylegan2.Generator, z: np.ndarray) -> float:
  """Mean PSNR (dB, images in [0, 1]) of G(z) against render(f(z))."""
  fake = generated_images(gen, z)
  real = np.asarray(render_targets(jnp.asarray(z))[0])
  mse = np.mean(np.square(fake - real), axis=(1, 2, 3))
  return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def fidelity_report(gen: stylegan2.Generator, z: np.ndarray) -> dict[str, Any]:
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
  fake = generated_images(gen, z)
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


def save_sample_grid(path: str | pathlib.Path, seeds: Sequence[int],
                     gen: stylegan2.Generator | None = None,
                     per_row: int = 8) -> None:
  """PNG: generated samples, then the same with their exact masks overlaid."""
  gen = gen or load_generator()
  z = latents(seeds)
  images = pictures.to_uint8(generated_images(gen, z), (0.0, 1.0))
  masks = ground_truth(z)
  rows = []
  for i in range(0, len(seeds), per_row):
    rows.append(list(images[i:i + per_row]))
    rows.append([pictures.overlay(im, m, len(CLASS_NAMES), alpha=0.55)
                 for im, m in zip(images[i:i + per_row], masks[i:i + per_row])])
  pictures.save_grid(path, rows, scale=3,
                      footer=pictures.legend(CLASS_NAMES))
