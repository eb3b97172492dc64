"""Training metrics: TensorBoard event files plus a JSON-lines copy.

Only process 0 writes. `tensorboard --logdir=WORKDIR` reads the events; the
`metrics.jsonl` copy is for scripts and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import os
import pathlib

import jax

__all__ = ['MetricWriter']


class MetricWriter:
  """Writes scalars to `workdir/events.*` and `workdir/metrics.jsonl`."""

  def __init__(self, workdir: str | os.PathLike[str], *,
               tensorboard: bool = True):
    self._active = jax.process_index() == 0
    self._tb = None
    self._jsonl = None
    if not self._active:
      return
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    self._jsonl = (workdir / 'metrics.jsonl').open('a')
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.fspath(workdir), flush_secs=30)

  def write(self, step: int, scalars: Mapping[str, float]) -> None:
    """Records `scalars` at `step`."""
    if not self._active:
      return
    row = {'step': int(step), **{k: float(v) for k, v in scalars.items()}}
    self._jsonl.write(json.dumps(row) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in scalars.items():
        self._tb.add_scalar(k, float(v), int(step))

  def close(self) -> None:
    if self._jsonl is not None:
      self._jsonl.close()
    if self._tb is not None:
      self._tb.close()
