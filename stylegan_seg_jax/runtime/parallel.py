"""Data parallelism: one per-device step, run by shard_map (default) or pmap.

A step is written once, for one device, with named-axis collectives over
`AXIS` ('data'): it computes its device's share of the global batch and
`lax.pmean`s gradients and metrics. `shard_step` runs it with `jax.shard_map`
on a 1-D mesh over all (global) devices; `pmap_step` is the thin adapter for
`jax.pmap` (in maintenance mode since JAX 0.8). Both replicate the state.

shard_map runs with `check_vma=False`: ott-jax's Sinkhorn mixes varying and
invariant values inside `lax.cond`, and with the check off gradients of
replicated parameters are per-device (pmap semantics), so the explicit
`pmean` is the one and only reduction.

Multi-host: `maybe_initialize_distributed` calls `jax.distributed.initialize()`
when asked to (the binaries' `--distributed` flag, see `cli`, or
STYLEGAN_SEG_JAX_DISTRIBUTED=1), before any other JAX call; every process
then runs the same program over the global mesh. Files are written by
process 0 through `on_process_0`, which tells the others whether it
succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
import os
from typing import Any, TypeVar

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from stylegan_seg_jax.runtime import errors

__all__ = ['AXIS', 'DISTRIBUTED_ENV', 'maybe_initialize_distributed',
           'make_mesh', 'replicate', 'shard_step', 'pmap_step',
           'pmap_replicate', 'device_index', 'sync_processes', 'on_process_0',
           'PeerFailedError']

AXIS = 'data'
T = TypeVar('T')
DISTRIBUTED_ENV = 'STYLEGAN_SEG_JAX_DISTRIBUTED'


def maybe_initialize_distributed(requested: bool = False, **kwargs) -> bool:
  """Initialises multi-host JAX when requested by flag or environment.

  Args:
    requested: True to initialise (e.g. from a `--distributed` flag).
    **kwargs: passed to `jax.distributed.initialize` (coordinator_address,
      num_processes, process_id, ...; all auto-detected on Cloud TPU).
      Where none is given, JAX_NUM_PROCESSES and JAX_PROCESS_ID are read
      from the environment (jax itself reads JAX_COORDINATOR_ADDRESS): how
      hosts without auto-detection, or an emulated pod, say who they are.

  Returns:
    Whether `jax.distributed.initialize` was called.
  """
  if not (requested or os.environ.get(DISTRIBUTED_ENV, '') in ('1', 'true')):
    return False
  # CPU hosts (tests, CPU clusters) need a collectives backend; the setting
  # does not affect TPU or GPU.
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  kwargs = {k: v for k, v in kwargs.items() if v is not None}
  for key, env in (('num_processes', 'JAX_NUM_PROCESSES'),
                   ('process_id', 'JAX_PROCESS_ID')):
    if key not in kwargs and os.environ.get(env, '').isdigit():
      kwargs[key] = int(os.environ[env])
  jax.distributed.initialize(**kwargs)
  return True


def sync_processes(name: str) -> None:
  """Waits until every process reaches this point (nothing with one).

  `name` must be the same string in every process.
  """
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


class PeerFailedError(errors.UserError):
  """Process 0 failed at a step every process waits for (its log says why)."""


def on_process_0(fn: Callable[[], T], name: str) -> T | None:
  """Runs `fn` on process 0 only; returns its result there (None elsewhere).

  Every process waits for process 0 here and learns whether `fn` succeeded:
  process 0 re-raises its own error, the others raise `PeerFailedError`, so
  that no process is left waiting at a later barrier for one that has
  stopped (until the distributed runtime's heartbeat timeout). With one
  process this is just `fn()`.

  Args:
    fn: the work (writing a file, building a dataset, ...).
    name: what it does, for the others' error message.
  """
  if jax.process_count() == 1:
    return fn()
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  result, error = None, None
  if jax.process_index() == 0:
    try:
      result = fn()
    except Exception as e:  # pylint: disable=broad-except
      error = e
  ok = int(multihost_utils.broadcast_one_to_all(np.int32(error is None)))
  if error is not None:
    raise error
  if not ok:
    raise PeerFailedError(f'{name}: process 0 failed (its log says why)')
  return result


def make_mesh(devices: list[Any] | None = None) -> Mesh:
  """1-D mesh named `AXIS` over all global devices (or the given ones)."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (AXIS,))


def replicate(tree: Any, mesh: Mesh) -> Any:
  """Places identical host values on every device of the (global) mesh."""
  sharding = NamedSharding(mesh, P())
  def put(x):
    x = np.asarray(x)
    return jax.make_array_from_process_local_data(sharding, x, x.shape)
  return jax.tree.map(put, tree)


def device_index() -> jax.Array:
  """This device's position along `AXIS` (inside a mapped step)."""
  return jax.lax.axis_index(AXIS)


def shard_step(step: Callable[..., Any], mesh: Mesh,
               donate_state: bool = True) -> Callable[..., Any]:
  """jit(shard_map(step)) with every argument and output replicated."""
  mapped = jax.shard_map(step, mesh=mesh, in_specs=P(), out_specs=P(),
                         check_vma=False)
  return jax.jit(mapped, donate_argnums=(0,) if donate_state else ())


def pmap_step(step: Callable[..., Any],
              donate_state: bool = True) -> Callable[..., Any]:
  """pmap(step) over local devices; arguments carry a leading device axis.

  Give it `pmap_replicate(x)` inputs and take `[0]` of the (identical)
  outputs.
  """
  return jax.pmap(step, axis_name=AXIS,
                  donate_argnums=(0,) if donate_state else ())


def pmap_replicate(tree: Any) -> Any:
  """Host copies with a leading local-device axis, for `pmap_step` inputs."""
  n = jax.local_device_count()
  return jax.tree.map(
      lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)), tree)
