"""The project's one orbax wrapper: pytree save/restore, training checkpoints.

Converted generators (`save_pytree` / `restore_pytree`) and every training
stage (`CheckpointManager`) go through these functions, so the on-disk layout
lives in one place. Orbax writes each checkpoint to a temporary directory and
renames it when complete, so a killed run never leaves a corrupt one.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from stylegan_seg_jax.runtime import files

__all__ = ['save_pytree', 'restore_pytree', 'CheckpointManager',
           'restore_latest']


def save_pytree(path: str | os.PathLike[str], tree: Any) -> None:
  """Writes a pytree of arrays to a new orbax checkpoint directory `path`.

  Blocks until the write has finished.

  Args:
    path: directory to create; must not exist.
    tree: pytree of numpy or jax arrays.
  """
  path = files.as_path(path, absolute=True)
  with ocp.StandardCheckpointer() as ckptr:
    ckptr.save(path, tree)
    ckptr.wait_until_finished()


def restore_pytree(path: str | os.PathLike[str], abstract: Any) -> Any:
  """Restores a pytree written by `save_pytree` into the structure `abstract`.

  Args:
    path: checkpoint directory.
    abstract: pytree of `jax.ShapeDtypeStruct` (or arrays) giving the target
      structure, shapes, dtypes and, optionally, shardings.

  Returns:
    The restored pytree, with the structure of `abstract`.
  """
  path = files.as_path(path, absolute=True)
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract)
  with ocp.StandardCheckpointer() as ckptr:
    return ckptr.restore(path, abstract)


class CheckpointManager:
  """Periodic, resumable training checkpoints under `workdir/checkpoints`.

  A thin layer over `orbax.checkpoint.CheckpointManager`: every process calls
  `save`; `restore_latest` restores into an abstract state (shapes, dtypes
  and shardings), so nothing is materialised twice.
  """

  def __init__(self, directory: str | os.PathLike[str], *,
               max_to_keep: int = 2):
    """Opens (creating it if needed) a checkpoint directory.

    Args:
      directory: the checkpoint directory, a local path or a URL.
      max_to_keep: checkpoints kept; older ones are deleted.
    """
    self._mngr = ocp.CheckpointManager(
        files.as_path(directory, absolute=True),
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                             create=True))

  def latest_step(self) -> int | None:
    """The newest saved step, or None."""
    return self._mngr.latest_step()

  def save(self, step: int, state: Any) -> None:
    """Saves `state` as `step` (asynchronously; see `wait`)."""
    self._mngr.save(step, args=ocp.args.StandardSave(state))

  def restore_latest(self, abstract: Any) -> tuple[int, Any] | None:
    """(step, state) of the newest checkpoint, or None if there is none."""
    step = self._mngr.latest_step()
    if step is None:
      return None
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract)
    return step, self._mngr.restore(step,
                                    args=ocp.args.StandardRestore(abstract))

  def wait(self) -> None:
    """Blocks until pending saves are on disk."""
    self._mngr.wait_until_finished()

  def close(self) -> None:
    """Waits for pending saves, then releases the manager."""
    self._mngr.wait_until_finished()
    self._mngr.close()


def restore_latest(directory: str | os.PathLike[str],
                   abstract: Any) -> tuple[int, Any] | None:
  """(step, state) of the newest training checkpoint in `directory`, or None."""
  mngr = CheckpointManager(directory)
  try:
    return mngr.restore_latest(abstract)
  finally:
    mngr.close()
