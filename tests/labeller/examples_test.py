"""The labeller's examples without a generator: the draft round trip, where a
session starts from, and the refusals of unusable drafts and files."""

import numpy as np
import pytest

from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.labeller import examples
from stylegan_seg_jax.labeller import refusals
from stylegan_seg_jax.stages import config as config_lib

pytestmark = pytest.mark.fast

NAMES = ('background', 'face', 'hair')
RES = 16


def _example(seed: int) -> examples.Example:
  rng = np.random.default_rng(seed)
  mask = rng.integers(0, len(NAMES), (RES, RES)).astype(np.uint8)
  return examples.Example(seed, rng.normal(size=(4, 8)).astype(np.float32),
                          0.7, mask)


def _same(a: list[examples.Example], b: list[examples.Example]) -> None:
  assert [e.seed for e in a] == [e.seed for e in b]
  assert [e.psi for e in a] == [e.psi for e in b]
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x.w, y.w)
    np.testing.assert_array_equal(x.mask, y.mask)


def test_the_draft_round_trips_and_is_preferred(tmp_path):
  draft = tmp_path / examples.DRAFT_FILE
  saved = [_example(1), _example(2)]
  examples.save_draft(draft, saved, NAMES, 1)
  got, current = examples.load_draft(draft, NAMES, RES)
  _same(got, saved)
  assert current == 1
  assert examples.examples_key(got) == examples.examples_key(saved)
  # The draft comes first, whatever the labels directory holds.
  labels = tmp_path / examples.LABELS_DIR
  labels.mkdir()
  labelled_set.save_example(labels / 'example.npz',
                            examples.to_one_shot(_example(3), NAMES))
  restored = examples.restore(None, draft, labels, NAMES, RES)
  assert restored is not None
  _same(restored[0], saved)
  assert restored[1:] == (1, str(draft))
  # Without the draft: the labels directory; with neither: nothing.
  draft.unlink()
  restored = examples.restore(None, draft, labels, NAMES, RES)
  assert restored is not None
  _same(restored[0], [_example(3)])
  assert restored[1:] == (0, str(labels))
  assert examples.restore(None, draft, tmp_path / 'none', NAMES, RES) is None


def test_the_key_follows_every_painted_pixel():
  a = _example(4)
  key = examples.examples_key([a])
  a.mask[3, 5] = (a.mask[3, 5] + 1) % len(NAMES)
  assert examples.examples_key([a]) != key


@pytest.mark.parametrize('names,res,pattern', [
    (('background', 'face'), RES, 'class names'),
    (NAMES, 32, 'masks of shape'),
])
def test_a_mismatched_draft_is_refused_in_one_line(tmp_path, names, res,
                                                   pattern):
  draft = tmp_path / 'draft.npz'
  examples.save_draft(draft, [_example(5)], NAMES, 0)
  with pytest.raises(config_lib.ConfigError, match='unreadable draft') as e:
    examples.load_draft(draft, names, res)
  assert pattern in str(e.value) and '\n' not in str(e.value)


def test_unusable_example_files_are_refused(tmp_path):
  with pytest.raises(config_lib.ConfigError, match='no labelled example'):
    examples.load_files(tmp_path / 'missing.npz', NAMES, RES)
  path = tmp_path / 'example.npz'
  labelled_set.save_example(path, examples.to_one_shot(_example(6), NAMES))
  with pytest.raises(config_lib.ConfigError, match='class names'):
    examples.load_files(path, NAMES + ('eye',), RES)
  with pytest.raises(config_lib.ConfigError, match='does not match'):
    examples.load_files(path, NAMES, 2 * RES)
  _same(examples.load_files(path, NAMES, RES), [_example(6)])


@pytest.mark.parametrize('seed', [-1, True, '7', 2**31, 1.0, None])
def test_bad_seeds_are_request_errors(seed):
  with pytest.raises(refusals.RequestError, match='seed must be'):
    examples.check_seed(seed)


def test_good_seeds_pass():
  assert examples.check_seed(0) == 0
  assert examples.check_seed(examples.MAX_SEED) == examples.MAX_SEED
