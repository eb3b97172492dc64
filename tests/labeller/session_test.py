"""The labelling session: training equals the one-shot stage, saving,
autosave and what each refusal leaves unchanged."""

import json
import pathlib
import time

import jax
import numpy as np
import pytest

from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.labeller import session as session_lib
from stylegan_seg_jax.runtime import checkpointing
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import evaluation
from stylegan_seg_jax.stages import oneshot
from stylegan_seg_jax.stages import runner
from tests.labeller.conftest import STEPS
from tests.labeller.conftest import labeller_config


def wait(s: session_lib.Session, timeout: float = 120) -> dict:
  """The job once it has finished (done or error)."""
  end = time.monotonic() + timeout
  while time.monotonic() < end:
    job = s.describe()['job']
    if job['state'] in ('done', 'error', 'idle'):
      return job
    time.sleep(0.05)
  raise AssertionError(f'job still running: {job}')


def painted(res: int, seed: int) -> np.ndarray:
  """A mask with every class of the tiny config in blocks."""
  rng = np.random.default_rng(seed)
  mask = np.zeros((res, res), np.uint8)
  for c in range(1, 8):
    y, x = rng.integers(0, res - 12, 2)
    mask[y:y + 12, x:x + 12] = c
  return mask


@pytest.fixture
def session(swav_workdir):
  s = session_lib.Session(labeller_config(), str(swav_workdir))
  wait(s)  # the first grid
  yield s
  s.close()


@pytest.mark.slow
def test_two_examples_train_and_save_what_the_stage_trains(session, tmp_path):
  """A naive twin: the head the labeller saves equals the one-shot stage's
  head trained by the training binary's library on the saved labels."""
  res = session.resolution
  session.set_seed(0, 11)
  session.set_mask(0, painted(res, 0).tobytes())
  session.add_example(12)
  session.set_mask(1, painted(res, 1).tobytes())
  session.start_training()
  job = wait(session)
  assert job['state'] == 'done', job
  assert job['step'] == STEPS
  out = session.save()
  labels = pathlib.Path(out['labels'])
  assert [p.name for p in experiment.example_files(labels)] == [
      'example.npz', 'example_1.npz']
  for i, path in enumerate(experiment.example_files(labels)):
    e = labelled_set.load_example(path)
    np.testing.assert_array_equal(e.mask, painted(res, i))
    assert e.seed == 11 + i and e.psi == session.psi
    z = stylegan2.z_from_seeds([e.seed], session.gen.config.z_dim)
    np.testing.assert_array_equal(
        e.w, np.asarray(session.gen.mapping(z, psi=1.0))[0])
    assert e.image.shape == (res, res, 3)
  # The stage on the saved labels, in a separate workdir.
  twin = tmp_path / 'twin'
  twin.mkdir()
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(session.workdir / 'swav', twin / 'swav')
  config = labeller_config(**{'stage': ('oneshot',),
                              'data.oneshot': str(labels)})
  runner.train_and_evaluate(config, str(twin))
  _, ours = oneshot.restore('ours', config, str(session.workdir),
                            session.gen, 8)
  _, stage = oneshot.restore('ours', config, str(twin), session.gen, 8)
  assert int(ours.step) == int(stage.step) == STEPS
  jax.tree.map(np.testing.assert_array_equal, ours.params, stage.params)
  assert pathlib.Path(out['head']) == oneshot.method_dir(session.workdir,
                                                         'ours')
  # Same settings record: the stage accepts the saved head as its own.
  assert json.loads((pathlib.Path(out['head']) / 'settings.json').read_text()
                    ) == config_lib.stage_settings(config, 'oneshot', 'ours')
  # A new session without the draft starts from the saved labels.
  session.draft_path.unlink()
  again = session_lib.Session(labeller_config(), str(session.workdir))
  try:
    assert again.restored_from == str(labels)
    for i in range(2):
      np.testing.assert_array_equal(
          np.frombuffer(again.mask(i), np.uint8).reshape(res, res),
          painted(res, i))
  finally:
    again.close()
  # evaluate reads the saved head directly.
  results = evaluation.evaluate_workdir(config, str(session.workdir))
  assert 0 <= results[0].metrics['miou_per_image'] <= 1


@pytest.mark.fast
def test_save_needs_a_head_trained_on_the_current_examples(session):
  with pytest.raises(session_lib.Conflict, match='Train first'):
    session.save()
  session.start_training()
  assert wait(session)['state'] == 'done'
  mask = painted(session.resolution, 3)
  session.set_mask(0, mask.tobytes())  # changed after training
  with pytest.raises(session_lib.Conflict, match='Train first'):
    session.save()
  assert not (session.workdir / 'labels').exists()
  assert not (session.workdir / 'oneshot').exists()


@pytest.mark.fast
def test_refusals_change_nothing(session):
  res = session.resolution
  session.set_mask(0, painted(res, 5).tobytes())
  draft = session.draft_path.read_bytes()
  before = session.describe()
  bad = [
      (session.set_mask, (0, b'\x00' * (res * res - 1)), 'bytes'),
      (session.set_mask, (0, b'\x08' * (res * res)), 'class id 8'),
      (session.set_mask, (1, b'\x00' * (res * res)), 'no example 1'),
      (session.set_seed, (0, -1), 'seed must be'),
      (session.set_seed, (0, True), 'seed must be'),
      (session.set_seed, (0, '7'), 'seed must be'),
      (session.set_seed, (0, 2**40), 'seed must be'),
      (session.set_current, (3,), 'no example 3'),
      (session.add_example, (1.5,), 'seed must be'),
  ]
  for fn, args, match in bad:
    with pytest.raises(session_lib.RequestError, match=match):
      fn(*args)
  with pytest.raises(session_lib.Conflict, match='last example'):
    session.remove_example(0)
  assert session.draft_path.read_bytes() == draft
  after = session.describe()
  assert after['examples'] == before['examples']
  np.testing.assert_array_equal(
      np.frombuffer(session.mask(0), np.uint8).reshape(res, res),
      painted(res, 5))


@pytest.mark.fast
def test_a_new_session_resumes_the_autosaved_draft(session):
  res = session.resolution
  session.set_seed(0, 5)
  session.set_mask(0, painted(res, 7).tobytes())
  session.add_example(9)
  session.set_mask(1, painted(res, 8).tobytes())
  session.set_current(0)
  again = session_lib.Session(labeller_config(), str(session.workdir))
  try:
    d = again.describe()
    assert [e['seed'] for e in d['examples']] == [5, 9]
    assert d['current'] == 0 and d['restored_from'].endswith('draft.npz')
    for i in range(2):
      np.testing.assert_array_equal(
          np.frombuffer(again.mask(i), np.uint8).reshape(res, res),
          painted(res, 7 + i))
  finally:
    again.close()


@pytest.mark.fast
def test_the_grid_and_its_uncertainty_follow_training(session):
  d = session.describe()
  assert d['grid']['version'] >= 1 and not d['grid']['predicted']
  assert len(d['grid']['seeds']) == session_lib.GRID_SIZE
  assert session.grid_picture(0, 'image')[:4] == b'\x89PNG'
  with pytest.raises(session_lib.RequestError):
    session.grid_picture(0, 'mask')  # nothing predicted yet
  session.set_mask(0, painted(session.resolution, 2).tobytes())
  session.start_training()
  with pytest.raises(session_lib.Conflict, match='already running'):
    session.start_training()
  assert wait(session)['state'] == 'done'
  g = session.describe()['grid']
  assert g['predicted'] and len(g['uncertainty']) == session_lib.GRID_SIZE
  assert all(u >= 0 for u in g['uncertainty'])
  seeds = g['seeds']
  session.regenerate()
  assert wait(session)['state'] == 'done'
  g2 = session.describe()['grid']
  assert g2['seeds'] != seeds and g2['predicted']
  assert g2['version'] == g['version'] + 1


@pytest.mark.slow
def test_save_keeps_a_head_trained_from_another_example(swav_workdir):
  # The tiny run's own 'ours', trained on the toy one-shot seed.
  config = labeller_config(stage=('oneshot',))
  runner.train_and_evaluate(config, str(swav_workdir))
  old = oneshot.method_dir(swav_workdir, 'ours')
  old_files = sorted(p.relative_to(old) for p in old.rglob('*'))
  s = session_lib.Session(labeller_config(), str(swav_workdir))
  try:
    wait(s)
    s.set_mask(0, painted(s.resolution, 4).tobytes())
    s.start_training()
    assert wait(s)['state'] == 'done'
    out = s.save()
  finally:
    s.close()
  kept = pathlib.Path(out['kept'])
  assert kept.name.startswith('ours.replaced-')
  assert sorted(p.relative_to(kept) for p in kept.rglob('*')) == old_files
  assert checkpointing.CheckpointManager(
      pathlib.Path(out['head']) / 'checkpoints').latest_step() == STEPS
