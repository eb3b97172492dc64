"""The one training loop, shared by every training stage.

`train_loop` runs `run_step` from the restored step to `num_steps` and does
everything around it the same way for every stage: a progress bar with ETA
(process 0 only; quiet when not attached to a terminal), metrics to
TensorBoard events and `metrics.jsonl`, a stop before anything is saved
when the loss or a gradient norm is not finite (so the last checkpoint is
the last good state), and a checkpoint every `checkpoint_every` steps and at
the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import os
import sys
import time
from typing import Any

import jax
import numpy as np
import tqdm

from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import metric_writer

__all__ = ['train_loop', 'progress_bar']

StepFn = Callable[[Any], tuple[Any, Mapping[str, Any]]]


def progress_bar(total: int, *, desc: str, unit: str, initial: int = 0,
                 enabled: bool = True) -> tqdm.tqdm:
  """A tqdm bar with rate and ETA, drawn on process 0 of an interactive run.

  Non-interactive logs (stderr not a terminal) stay quiet unless
  STYLEGAN_SEG_JAX_PROGRESS=1 asks for the bar.
  """
  wanted = os.environ.get('STYLEGAN_SEG_JAX_PROGRESS')
  interactive = sys.stderr.isatty() if wanted is None else wanted == '1'
  return tqdm.tqdm(total=total, initial=initial, unit=unit, desc=desc,
                   dynamic_ncols=True,
                   disable=not (enabled and interactive
                                and jax.process_index() == 0))


def train_loop(
    stage_dir: str | os.PathLike[str],
    desc: str,
    state: Any,
    run_step: StepFn,
    to_host: Callable[[Any], Any],
    *,
    num_steps: int,
    log_every: int,
    checkpoint_every: int,
    ckpt: checkpointing.CheckpointManager,
    start: int,
    on_step: Callable[[int, Any], Mapping[str, float]] | None = None,
    finite: Sequence[str] = ('loss', 'grad_norm'),
) -> tuple[Any, dict[str, float]]:
  """Runs steps `start + 1 .. num_steps`; returns (state, last step's metrics).

  Args:
    stage_dir: where `metrics.jsonl` and the TensorBoard events go.
    desc: the progress bar's label and the prefix of error messages.
    state: the (device) state at step `start`.
    run_step: `state -> (state, metrics)`, one optimiser step.
    to_host: device state or metrics -> host copies (numpy).
    num_steps: the last step.
    log_every: write metrics every this many steps (and at the end).
    checkpoint_every: save every this many steps (and at the end).
    ckpt: where the states go.
    start: the step `state` is at.
    on_step: `(step, state) -> extra metrics`, e.g. a periodic evaluation.
    finite: metrics that must be finite; otherwise the run stops.

  Returns:
    The final state and the metrics of the last step run (empty if none).

  Raises:
    FloatingPointError: a metric of `finite` is NaN or infinite; nothing of
      that step was saved.
  """
  writer = metric_writer.MetricWriter(stage_dir)
  bar = progress_bar(num_steps, initial=start, unit='step', desc=desc)
  last: dict[str, float] = {}
  t0 = time.time()
  try:
    for step in range(start, num_steps):
      state, metrics = run_step(state)
      done = step + 1
      metrics = {k: float(v) for k, v in to_host(metrics).items()}
      bad = [k for k in finite if k in metrics and not np.isfinite(metrics[k])]
      if bad:
        raise FloatingPointError(
            f'{desc}: non-finite {" and ".join(bad)} at step {done} '
            f'({metrics}); stopped, last good checkpoint kept')
      last = metrics
      if on_step is not None:
        metrics = {**metrics, **on_step(done, state)}
      if done % log_every == 0 or done == num_steps:
        writer.write(done, {**metrics, 'steps_per_s': (done - start) /
                            max(time.time() - t0, 1e-9)})
      bar.set_postfix(loss=f'{metrics["loss"]:.4f}')
      bar.update(1)
      if done % checkpoint_every == 0 or done == num_steps:
        ckpt.save(done, to_host(state))
  finally:
    bar.close()
    writer.close()
  return state, last
