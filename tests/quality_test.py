"""Segmentation quality of the whole toy chain: ours against baselines.

The toy benchmark of docs/results.md (`launch/toy_report.sh`), reduced to fit
the suite: the training and evaluation binaries on configs/toy_swav.py with
SwAV shortened (STEPS steps, 2 patches of 1000 pixels, K = 250), then ours,
RepurposeGAN and DatasetGAN fitted on toy one-shot seed 0 (its exact mask)
and scored on the first NUM_TEST held-out toy test samples (the one-shot
seed is not among them). The floors and margins below were set from the
measured values at this size (docstring of `test_ours_beats_the_baselines`)
with room for platform round-off, and well above what an untrained
embedding or a broken head scores.
"""

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT
from tests.helpers import subprocess_env

STEPS = 10
NUM_TEST = 64
METHODS = ('ours', 'repurposegan', 'datasetgan')


@pytest.fixture(scope='module')
def scores(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('quality')
  flags = ['--config=configs/toy_swav.py', f'--workdir={workdir}',
           f'--config.num_steps={STEPS}', '--config.swav.num_patches=2',
           '--config.swav.patch_size=1000',
           '--config.swav.num_prototypes=250',
           f'--config.oneshot.methods={",".join(METHODS)}',
           f'--config.data.num_test={NUM_TEST}']
  # One device (the toy config's batch of 1), XLA's optimisations on: this
  # is a benchmark-sized run, not a compile-time test.
  env = subprocess_env(
      XLA_FLAGS='--xla_force_host_platform_device_count=1',
      JAX_DISABLE_MOST_OPTIMIZATIONS='0')
  for tool, extra in (('train', ['--config.stage=swav,oneshot']),
                      ('evaluate', [])):
    proc = subprocess.run(
        [sys.executable, '-m', 'stylegan_seg_jax', tool, *flags, *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
  report = json.loads((workdir / 'eval' / 'metrics.json').read_text())
  assert report['num_test'] == NUM_TEST
  return report['methods']


@pytest.mark.slow
def test_ours_beats_the_baselines(scores):
  """Measured at this size (2-core CPU), mIoU per image / dataset /
  normalised wIoU: ours 0.717 / 0.719 / 0.839, RepurposeGAN 0.655 / 0.657 /
  0.804, DatasetGAN 0.543 / 0.512 / 0.699 (the full benchmark: ours 0.723,
  RepurposeGAN 0.648 on the same one-shot seed). Ours is not ahead on every
  metric at this size (FG-IoU: 0.940 against RepurposeGAN's 0.958), so
  the ordering is asserted on the three region metrics above."""
  ours = scores['ours']
  assert ours['miou_per_image'] >= 0.68
  assert ours['normalized_wiou'] >= 0.82
  for name in METHODS[1:]:
    for key in ('miou_per_image', 'miou_dataset', 'normalized_wiou'):
      assert ours[key] >= scores[name][key] + 0.02, (name, key)
