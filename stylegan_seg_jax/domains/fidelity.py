"""How faithfully a domain's generator draws its renderer, and sample grids.

A domain's generator is trained so that G(z) ~= render(f(z)); its exact
ground truth holds at truncation psi = 1 and const noise only (truncation
moves w towards w_avg, which changes the image but not f(z)). Configs that
score samples against a domain's ground truth use psi = 1.
"""

from __future__ import annotations

from collections.abc import Sequence
import pathlib
from typing import Any

import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.domains import registry
from stylegan_seg_jax.runtime import pictures

__all__ = ['generated_images', 'psnr', 'fidelity_report', 'save_sample_grid']


def generated_images(gen: stylegan2.Generator, z: np.ndarray,
                     batch: int = 64) -> np.ndarray:
  """G(z) at psi = 1 and const noise, as float images [N, R, R, 3] in [0, 1]."""
  out = []
  for i in range(0, len(z), batch):
    img, _ = gen(z[i:i + batch], psi=1.0)
    out.append(np.clip((np.asarray(img) + 1.0) / 2.0, 0.0, 1.0))
  return np.concatenate(out)


def _psnr(fake: np.ndarray, real: np.ndarray) -> np.ndarray:
  mse = np.mean(np.square(fake - real), axis=(1, 2, 3))
  return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))


def psnr(domain: registry.Domain, gen: stylegan2.Generator,
         z: np.ndarray, batch: int = 64) -> float:
  """Mean PSNR (dB, images in [0, 1]) of G(z) against render(f(z))."""
  values = []
  for i in range(0, len(z), batch):
    fake = generated_images(gen, z[i:i + batch], batch)
    real = np.asarray(domain.render_targets(z[i:i + batch])[0])
    values.append(_psnr(fake, real))
  return float(np.mean(np.concatenate(values)))


def fidelity_report(domain: registry.Domain, gen: stylegan2.Generator,
                    z: np.ndarray, batch: int = 64) -> dict[str, Any]:
  """How faithfully G(z) draws render(f(z)), overall and per class.

  Classes are the renderer's (the finest label set of the domain).

  Args:
    domain: the domain whose renderer is the reference.
    gen: its generator.
    z: [N, z_dim] held-out latents.
    batch: latents per generator call.

  Returns:
    {'num_samples', 'psnr_db' (mean over images), 'colour_tolerance',
     'near_colour_share': {class: share of that class's pixels whose
     generated colour is within the tolerance on every channel},
     'class_pixel_share': {class: share of all pixels}}.
  """
  names = tuple(domain.renderer.CLASS_NAMES)
  counts = np.zeros(len(names), np.int64)
  near_counts = np.zeros(len(names), np.int64)
  values = []
  for i in range(0, len(z), batch):
    fake = generated_images(gen, z[i:i + batch], batch)
    real, masks = (np.asarray(a)
                   for a in domain.render_targets(z[i:i + batch]))
    values.append(_psnr(fake, real))
    near = np.all(np.abs(fake - real) <= domain.colour_tolerance, axis=-1)
    counts += np.bincount(masks.ravel(), minlength=len(names))
    near_counts += np.bincount(masks[near].ravel(), minlength=len(names))
  total = max(int(counts.sum()), 1)
  return {
      'num_samples': int(len(z)),
      'psnr_db': float(np.mean(np.concatenate(values))),
      'colour_tolerance': domain.colour_tolerance,
      'near_colour_share': {
          name: float(near_counts[k] / counts[k]) if counts[k] else None
          for k, name in enumerate(names)},
      'class_pixel_share': {name: float(counts[k] / total)
                            for k, name in enumerate(names)},
  }


def save_sample_grid(domain: registry.Domain, path: str | pathlib.Path,
                     seeds: Sequence[int],
                     gen: stylegan2.Generator | None = None,
                     per_row: int = 8, scale: int | None = None) -> None:
  """PNG: generated samples, then the same with their exact masks overlaid.

  The masks are the domain's label set; `scale` defaults to 192 pixels of
  tile height.
  """
  gen = gen or domain.load_generator()
  z = domain.latents(seeds)
  images = pictures.to_uint8(generated_images(gen, z), (0.0, 1.0))
  masks = domain.ground_truth(z)
  num = len(domain.class_names)
  rows = []
  for i in range(0, len(seeds), per_row):
    rows.append(list(images[i:i + per_row]))
    rows.append([pictures.overlay(im, m, num, alpha=0.55)
                 for im, m in zip(images[i:i + per_row], masks[i:i + per_row])])
  scale = scale or max(1, 192 // domain.resolution)
  pictures.save_grid(path, rows, scale=scale,
                     footer=pictures.legend(domain.class_names))
