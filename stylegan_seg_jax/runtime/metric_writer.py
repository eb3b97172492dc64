"""Training metrics: TensorBoard event files plus a JSON-lines copy.

Only process 0 writes. `tensorboard --logdir=WORKDIR` reads the events; the
`metrics.jsonl` copy is for scripts and tests.

In a bucket (a `gs://` workdir) nothing can be appended to: the rows are
kept in memory (after those of a previous run) and the whole
`metrics.jsonl` object is rewritten at most every `flush_secs` and on
`close`, each time as one new object. TensorBoard events are written to a
local scratch directory and uploaded whole at the same moments (each run
adds its own `events.*` object; TensorBoard reads them all).
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import os
import pathlib
import shutil
import tempfile
import time
from typing import Any
import uuid

import jax

from stylegan_seg_jax.runtime import files

__all__ = ['MetricWriter']


class MetricWriter:
  """Writes scalars to `workdir/events.*` and `workdir/metrics.jsonl`."""

  def __init__(self, workdir: str | os.PathLike[str], *,
               tensorboard: bool = True, flush_secs: float = 30.0):
    """Opens the writer (process 0 only; elsewhere it writes nothing).

    Args:
      workdir: directory (or bucket URL) of the files.
      tensorboard: also write TensorBoard event files.
      flush_secs: in a bucket, the files are uploaded at most this often
        (and on `close`); local rows are flushed on every write.
    """
    self._active = jax.process_index() == 0
    self._tb = None
    self._jsonl = None
    # A bucket's metrics.jsonl: [path, rows, last flush].
    self._object: list[Any] | None = None
    self._workdir = workdir
    self._events = None  # a bucket workdir's local event-file directory
    self._flush_secs = flush_secs
    if not self._active:
      return
    if files.is_url(workdir):
      path = files.as_path(workdir) / 'metrics.jsonl'
      rows = path.read_text().splitlines(True) if path.exists() else []
      self._object = [path, rows, time.monotonic()]
      if tensorboard:
        from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
        self._events = pathlib.Path(tempfile.mkdtemp(prefix='events-'))
        # Its own name even when a restart falls in the same second.
        self._tb = SummaryWriter(
            os.fspath(self._events),
            # tensorboardX annotates flush_secs as int, but documents it as
            # a number and adds it to time.time(): a float works.
            flush_secs=flush_secs,  # pyright: ignore[reportArgumentType]
            filename_suffix=f'.{uuid.uuid4().hex[:8]}')
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
    if self._object is not None:
      self._object[1].append(json.dumps(row) + '\n')
      if time.monotonic() - self._object[2] >= self._flush_secs:
        self._flush_object()
    else:
      # An active writer has either a bucket object or a local file.
      assert self._jsonl is not None
      self._jsonl.write(json.dumps(row) + '\n')
      self._jsonl.flush()
    if self._tb is not None:
      for k, v in scalars.items():
        self._tb.add_scalar(k, float(v), int(step))

  def _flush_object(self) -> None:
    # Only called for a bucket workdir, whose writer has `_object`.
    assert self._object is not None
    path, rows, _ = self._object
    with files.atomic_file(path) as tmp:
      tmp.write_text(''.join(rows))
    if self._events is not None:
      # `_events` is made only together with the event writer.
      assert self._tb is not None
      self._tb.flush()
      files.copy_tree(self._events, self._workdir)
    self._object[2] = time.monotonic()

  def close(self) -> None:
    """Writes what is pending (in a bucket: uploads) and closes the files."""
    if self._tb is not None:
      self._tb.close()
    if self._object is not None:
      self._flush_object()
    if self._jsonl is not None:
      self._jsonl.close()
    if self._events is not None:
      shutil.rmtree(self._events, ignore_errors=True)
      self._events = None
