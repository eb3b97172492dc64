"""The shared training loop: logging, checkpoints, resume and the NaN guard."""

import json

import numpy as np
import pytest

from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.runtime import loop

pytestmark = pytest.mark.fast


def _step(state):
  """A counter that adds 1 per step; its 'loss' is the new value."""
  new = {'x': np.asarray(state['x'] + 1.0, np.float32)}
  return new, {'loss': new['x'], 'grad_norm': np.float32(1.0)}


def _run(tmp_path, state, start, num_steps, on_step=None, step=_step):
  ckpt = checkpointing.CheckpointManager(tmp_path / 'checkpoints')
  try:
    return loop.train_loop(
        tmp_path, 'test', state, step, lambda t: t, num_steps=num_steps,
        log_every=2, checkpoint_every=3, ckpt=ckpt, start=start,
        on_step=on_step)
  finally:
    ckpt.close()


def _logged(tmp_path):
  return [json.loads(line) for line in
          (tmp_path / 'metrics.jsonl').read_text().splitlines()]


def test_logs_checkpoints_and_extra_metrics(tmp_path):
  extra = lambda step, state: {'eval': 10.0 * step} if step == 4 else {}
  state, last = _run(tmp_path, {'x': np.zeros((), np.float32)}, 0, 5, extra)
  assert float(state['x']) == 5 and last == {'loss': 5.0, 'grad_norm': 1.0}
  assert [r['step'] for r in _logged(tmp_path)] == [2, 4, 5]
  assert _logged(tmp_path)[1]['eval'] == 40.0
  saved = sorted(int(p.name) for p in (tmp_path / 'checkpoints').iterdir()
                 if p.name.isdigit())
  assert saved == [3, 5]  # every 3 steps and the last (max_to_keep 2)
  restored = checkpointing.restore_latest(tmp_path / 'checkpoints',
                                          {'x': np.zeros((), np.float32)})
  assert restored[0] == 5 and float(restored[1]['x']) == 5


def test_resume_continues_from_the_given_step(tmp_path):
  _run(tmp_path, {'x': np.zeros((), np.float32)}, 0, 3)
  step, state = checkpointing.restore_latest(tmp_path / 'checkpoints',
                                             {'x': np.zeros((), np.float32)})
  state, _ = _run(tmp_path, state, step, 6)
  assert float(state['x']) == 6
  assert [r['step'] for r in _logged(tmp_path)] == [2, 3, 4, 6]


def test_non_finite_loss_stops_before_saving(tmp_path):
  def step(state):
    new, metrics = _step(state)
    if float(new['x']) == 5:
      metrics['loss'] = float('nan')
    return new, metrics
  with pytest.raises(FloatingPointError,
                     match='test: non-finite loss at step 5'):
    _run(tmp_path, {'x': np.zeros((), np.float32)}, 0, 8, step=step)
  saved = [int(p.name) for p in (tmp_path / 'checkpoints').iterdir()
           if p.name.isdigit()]
  assert saved == [3]
