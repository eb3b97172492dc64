"""The binaries' bootstrap: one-line messages and the stage list."""

import pytest

from stylegan_seg_jax.runtime import errors
from stylegan_seg_jax.runtime import messages
from stylegan_seg_jax.stages import config as config_lib
from tests.helpers import tiny_config

pytestmark = pytest.mark.fast


def test_one_line_collapses_and_cuts():
  assert messages.one_line(ValueError('a\n  b\tc')) == 'a b c'
  assert messages.one_line(KeyError()) == 'KeyError'
  long = messages.one_line('x' * 1000, limit=20)
  assert long == 'x' * 17 + '...' and len(long) == 20


@pytest.mark.parametrize('stage,want', [
    (('swav',), ('swav',)),
    (('oneshot', 'swav'), ('swav', 'oneshot')),       # run in order
    (('swav,oneshot',), ('swav', 'oneshot')),         # --config.stage=a,b
])
def test_stages_of(stage, want):
  config = tiny_config(stage=stage, **{'oneshot.methods': ('ours',)})
  assert config_lib.stages_of(config) == want


def test_config_error_is_a_user_error():
  assert issubclass(config_lib.ConfigError, errors.UserError)
  with pytest.raises(config_lib.ConfigError, match='unknown stage'):
    config_lib.stages_of(tiny_config(stage=('train',)))
