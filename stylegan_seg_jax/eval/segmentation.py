"""On-the-fly segmentation: latents -> (images, masks) in one jitted call.

One generator pass per image feeds both the image and the head (the
reference runs the generator a second time and moves the features to the
CPU). With a device mesh the batch axis is sharded over its `data` axis and
the generator, head and frozen inputs are replicated; batches are padded to
a multiple of the device count and the padding dropped.

    fn = make_segment_fn(gen, segmenter, mesh)
    images, labels, uncertainty = fn(gen.variables, variables, frozen, ws)
"""

from __future__ import annotations

from collections.abc import Callable
import time
from typing import Any, cast

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.method import segmenters
from stylegan_seg_jax.runtime import parallel

__all__ = ['make_segment_fn', 'segment_all', 'unknown_as_background']


def make_segment_fn(gen: stylegan2.Generator, segmenter: segmenters.Segmenter,
                    mesh: Mesh | None = None) -> Callable[..., Any]:
  """Jitted `fn(gen_vars, variables, frozen, ws) -> (images, labels, unc)`.

  Args:
    gen: the frozen generator (its module; pass its params to `fn`).
    segmenter: the method.
    mesh: 1-D device mesh to shard the batch over (None = default device).

  Returns:
    fn taking generator variables, head variables, frozen inputs and
    truncated latents ws [B, (num_ws,) w_dim], returning images
    [B, R, R, 3] (generator range), labels [B, R, R] int32 and per-image
    uncertainty [B].
  """
  module = gen.module

  def fn(gen_vars, variables, frozen, ws):
    # Without `mutable`, apply returns the method's output alone.
    images, feats, _ = cast(
        tuple[jax.Array, tuple[jax.Array, ...], tuple[jax.Array, ...]],
        module.apply(gen_vars, ws, 'const',
                     method=stylegan2.StyleGAN2.synthesis))
    x = segmenter.make_input(frozen, feats)
    labels, unc = segmenter.predict(variables, x)
    return images, labels, unc

  if mesh is None:
    return jax.jit(fn)
  rep, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P(parallel.AXIS))
  return jax.jit(fn, in_shardings=(rep, rep, rep, batch),
                 out_shardings=(batch, batch, batch))


def _host(x: jax.Array) -> np.ndarray:
  """The whole value of an output on this host.

  Gathered from every process when the array spans several.
  """
  if x.is_fully_addressable:
    return np.asarray(x)
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def segment_all(fn: Callable[..., Any], gen_vars: Any, variables: Any,
                frozen: Any, ws: np.ndarray, batch_size: int,
                num_devices: int = 1, progress=None, *,
                mesh: Mesh | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
  """Runs `fn` over ws in batches; returns host arrays and the timed seconds.

  The first batch is run once untimed (compilation); the time covers every
  batch after that warm-up, end to end (`block_until_ready`).

  Multi-host: with a `mesh` over several processes' devices, every process
  calls this with the same `ws`; each feeds the rows of its own devices,
  and every process gets the whole result (the same computation as one
  process with that many devices).

  Args:
    fn: from `make_segment_fn`.
    gen_vars: its first argument, the generator variables.
    variables: its second argument, the head variables.
    frozen: its third argument, the method's frozen inputs.
    ws: [N, ...] truncated latents.
    batch_size: images per call (rounded up to a multiple of num_devices).
    num_devices: devices the batch is sharded over (the mesh's size when a
      mesh is given).
    progress: optional callable(n_done) for progress bars.
    mesh: the mesh `fn` was made with, when it spans several processes.

  Returns:
    (images [N, R, R, 3] float32, labels [N, R, R] uint8-compatible int32,
     uncertainty [N], seconds).
  """
  spans_hosts = mesh is not None and not all(
      d.process_index == jax.process_index() for d in mesh.devices.flat)
  if mesh is not None:
    num_devices = mesh.size
  batch_size = -(-batch_size // num_devices) * num_devices
  n = len(ws)
  if spans_hosts:
    assert mesh is not None  # spans_hosts implies a mesh
    rows = NamedSharding(mesh, P(parallel.AXIS))
    gen_vars, variables, frozen = parallel.replicate(
        (gen_vars, variables, frozen), mesh)
    put = lambda a: jax.make_array_from_callback(a.shape, rows,
                                                 lambda idx: a[idx])
  else:
    put = jnp.asarray

  def pad(a):  # repeat the last latent up to a full batch
    return np.concatenate([a, np.repeat(a[-1:], batch_size - len(a), 0)])
  jax.block_until_ready(fn(gen_vars, variables, frozen,
                           put(pad(ws[:batch_size]))))
  outs = []
  t0 = time.perf_counter()
  for i in range(0, n, batch_size):
    chunk = ws[i:i + batch_size]
    out = jax.block_until_ready(fn(gen_vars, variables, frozen,
                                   put(pad(chunk))))
    outs.append([_host(o)[:len(chunk)] for o in out])
    if progress is not None:
      progress(len(chunk))
  seconds = time.perf_counter() - t0
  images, labels, unc = (np.concatenate(p) for p in zip(*outs))
  return images, labels, unc, seconds


def unknown_as_background(labels: np.ndarray, num_classes: int) -> np.ndarray:
  """uint8 class ids with every id >= num_classes set to 0 (background).

  Reference XXS heads emit 12 logits; an argmax beyond the classes names no
  class, and background is the closest legal id (the evaluator scores such
  pixels, and the dataset generator stores them, as background).
  """
  labels = np.asarray(labels)
  return np.where(labels < num_classes, labels, 0).astype(np.uint8)
