"""The inputs of a self-supervised step: two W+ views of each image.

The SwAV stage and the HFC+SimCLR baseline draw their batches the same way
(docs/method.md §3): every image draws z from its own key, builds two
independently perturbed W+ views, runs the frozen generator once on both,
and samples `num_patches` sets of `patch_size` output pixels, the same
pixels in both views, each mapped through its view's rotation and flip to
the source pixels it reads. Keys are folded with the step and the global
image index, so any device count sees the same images.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
import ml_collections

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.method import views

__all__ = ['ViewPairs', 'image_keys', 'make_view_pairs_fn']


class ViewPairs(NamedTuple):
  """One device's two views of n images (no gradient flows into them).

  Attributes:
    feats_s: the selected generator layers of view s, [n, h_l, w_l, c_l]
      each.
    feats_t: the same for view t.
    transform_s: view s's rotation and flip per image.
    transform_t: view t's.
    patches: per patch, the source pixels each view reads:
      ((coords_s [num_patches, n, P, 2], valid_s [num_patches, n, P]),
       (coords_t, valid_t)); invalid pixels were rotated in from outside and
      read as zeros.
  """

  feats_s: Any
  feats_t: Any
  transform_s: views.Transform
  transform_t: views.Transform
  patches: Any


def image_keys(rng_data: jax.Array, step: jax.Array,
               ids: jax.Array) -> jax.Array:
  """The per-image keys of a step: (data key, step, global image index)."""
  key = jax.random.fold_in(jax.random.wrap_key_data(rng_data), step)
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(ids)


def make_view_pairs_fn(gen: stylegan2.Generator,
                       config: ml_collections.ConfigDict,
                       layers: tuple[int, ...], *, patch_size: int,
                       num_patches: int):
  """`pairs(gen_vars, keys) -> ViewPairs` for per-image keys [n].

  Args:
    gen: the frozen generator (its variables are passed to `pairs`).
    config: experiment config (`views.*`).
    layers: the generator conv layers kept.
    patch_size: pixels per patch.
    num_patches: patches per image.

  Raises:
    ValueError: a patch larger than the image.
  """
  vw = config.views
  module, gcfg = gen.module, gen.config
  res = gcfg.resolution
  if patch_size > res * res:
    raise ValueError(f'patch size {patch_size} exceeds the {res}x{res} = '
                     f'{res * res} pixels of an image')

  # Without `mutable`, `module.apply` returns the method's output alone.
  def mapping(gen_vars, z) -> jax.Array:
    return cast(jax.Array, module.apply(gen_vars, z, 1.0,
                                        method=stylegan2.StyleGAN2.mapping))

  def pairs(gen_vars, keys) -> ViewPairs:
    n = keys.shape[0]
    k_z, k_s, k_t, k_ts, k_tt = (jax.vmap(lambda k, i=i: jax.random.fold_in(
        k, i))(keys) for i in range(5))
    z = jax.vmap(lambda k: jax.random.normal(k, (gcfg.z_dim,)))(k_z)
    w = mapping(gen_vars, z)
    w_avg = gen_vars['buffers']['mapping']['w_avg']
    view = functools.partial(
        views.perturb_wplus, mapping_fn=lambda zz: mapping(gen_vars, zz),
        w_avg=w_avg, num_ws=gcfg.num_ws, z_dim=gcfg.z_dim,
        num_blocks=vw.num_blocks, strength=vw.strength, psi=vw.psi,
        double_truncation=vw.double_truncation)
    ws_s = jax.vmap(lambda k, ww: view(k, ww[None])[0])(k_s, w)
    ws_t = jax.vmap(lambda k, ww: view(k, ww[None])[0])(k_t, w)
    _, feats, _ = cast(
        tuple[jax.Array, tuple[jax.Array, ...], tuple[jax.Array, ...]],
        module.apply(gen_vars, jnp.concatenate([ws_s, ws_t]), 'const',
                     method=stylegan2.StyleGAN2.synthesis))
    feats = [jax.lax.stop_gradient(feats[i]) for i in layers]

    def transforms(k):
      t = jax.vmap(lambda kk: views.sample_transforms(kk, 1,
                                                      vw.max_degrees))(k)
      return views.Transform(t.angle[:, 0], t.flip[:, 0])
    ts, tt = transforms(k_ts), transforms(k_tt)

    def sample(p):
      k_p = jax.vmap(lambda k: jax.random.fold_in(k, 100 + p))(keys)
      idx = jax.vmap(lambda k: jax.random.choice(
          k, res * res, (patch_size,), replace=False))(k_p)
      coords = jnp.stack([idx // res, idx % res], axis=-1).astype(jnp.int32)
      return views.pair_coords(coords, ts, tt, res, vw.align_views)

    patches = jax.vmap(sample)(jnp.arange(num_patches))
    return ViewPairs([f[:n] for f in feats], [f[n:] for f in feats], ts, tt,
                     patches)

  return pairs
