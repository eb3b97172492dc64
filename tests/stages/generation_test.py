"""Dataset generation: plain-tfds read-back, sharding, resumption, refusal."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import generated_set
from stylegan_seg_jax.eval import segmentation
from stylegan_seg_jax.runtime import pictures
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import generation
from stylegan_seg_jax.stages import oneshot as oneshot_stage
from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.helpers import tiny_config

FACES = domains.get('faces')

# Every test here reads the shared tiny run (about a minute to train).
pytestmark = pytest.mark.slow

N = 12  # shards of 5, 5 and 2 seeds


def _config(**overrides):
  return tiny_config(**{'generate.shard_size': 5, 'generate.batch_size': 8,
                        'generate.seed_start': 100, **overrides})


def _rows(out):
  source = tfds.builder_from_directory(os.fspath(out)).as_data_source('train')
  return [source[i] for i in range(len(source))]


def _snapshot(out):
  return {p.name: (p.stat().st_mtime_ns, p.stat().st_size)
          for p in pathlib.Path(out).iterdir()}


@pytest.fixture(scope='module')
def dataset(tiny_workdir, tmp_path_factory):
  out = tmp_path_factory.mktemp('gen') / 'ds'
  result = generation.generate(_config(), tiny_workdir, out, N,
                                 show_progress=False)
  return out, result


def test_reads_back_with_plain_tfds_and_matches_a_naive_pass(
    dataset, tiny_workdir):
  out, result = dataset
  assert result.complete and result.num_examples == N
  assert result.samples_generated == N and result.shards_written == 3
  builder = tfds.builder_from_directory(os.fspath(out))
  assert builder.info.splits['train'].shard_lengths == [5, 5, 2]
  assert builder.info.metadata['class_names'] == list(FACES.class_names)
  assert builder.info.metadata['truncation_psi'] == 1.0
  rows = _rows(out)
  seeds = [int(r['seed']) for r in rows]
  assert seeds == list(range(100, 100 + N))
  # Independent reference: one unsharded generator call, then the head on
  # its features (no mesh, no batching, no padding).
  gen = FACES.load_generator()
  z = stylegan2.z_from_seeds(seeds, gen.config.z_dim)
  w = np.asarray(gen.mapping(jnp.asarray(z)))
  images, feats = gen.synthesis(w)
  prepared, state = oneshot_stage.restore('ours', _config(), tiny_workdir,
                                          gen, len(FACES.class_names))
  x = prepared.segmenter.make_input(prepared.frozen, feats)
  labels, unc = prepared.segmenter.predict(
      {'params': state.params, 'batch_stats': state.batch_stats}, x)
  got = lambda k: np.stack([r[k] for r in rows])
  np.testing.assert_array_equal(got('z'), z)
  np.testing.assert_allclose(got('w'), w, atol=1e-5)
  ref_images = pictures.to_uint8(np.asarray(images))
  assert np.abs(got('image').astype(int) - ref_images).max() <= 1
  mismatch = np.mean(got('mask') != segmentation.unknown_as_background(
      np.asarray(labels), len(FACES.class_names)))
  assert mismatch < 1e-3
  np.testing.assert_allclose(got('uncertainty'), np.asarray(unc), rtol=1e-4,
                             atol=1e-5)
  assert (out / 'preview.png').read_bytes()[:4] == b'\x89PNG'


def test_rerun_does_nothing_and_other_settings_are_refused(
    dataset, tiny_workdir, tmp_path):
  out, _ = dataset
  before = _snapshot(out)
  again = generation.generate(_config(), tiny_workdir, out, N,
                              show_progress=False)
  assert again.complete and again.samples_generated == 0
  shards = [n for n in before if n.startswith(generated_set.DATASET_NAME)]
  assert all(_snapshot(out)[n] == before[n] for n in shards)
  for overrides, n in [({'generate.psi': 0.5}, N), ({}, N + 1),
                       ({'generate.drop_uncertain': 0.2}, N)]:
    with pytest.raises(config_lib.ConfigError, match='other settings'):
      generation.generate(_config(**overrides), tiny_workdir, out, n,
                          show_progress=False)
  assert set(_snapshot(out)) == set(before)
  assert all(_snapshot(out)[n] == before[n] for n in shards)
  foreign = tmp_path / 'foreign'
  foreign.mkdir()
  (foreign / 'notes.txt').write_text('mine')
  with pytest.raises(config_lib.ConfigError, match='not written by this tool'):
    generation.generate(_config(), tiny_workdir, foreign, N,
                        show_progress=False)
  assert os.listdir(foreign) == ['notes.txt']
  with pytest.raises(config_lib.ConfigError, match='must be positive'):
    generation.generate(_config(), tiny_workdir, tmp_path / 'x', 0)
  assert not (tmp_path / 'x').exists()


def test_processes_write_disjoint_shards_with_the_same_content(
    dataset, tiny_workdir, tmp_path):
  out, _ = dataset
  split = tmp_path / 'split'
  second = generation.generate(_config(), tiny_workdir, split, N,
                               process_index=1, process_count=2,
                             barrier=lambda: None, show_progress=False)
  assert not second.complete and second.shards_written == 1
  assert not (split / 'dataset_info.json').exists()
  first = generation.generate(_config(), tiny_workdir, split, N,
                              process_index=0, process_count=2,
                            barrier=lambda: None, show_progress=False)
  assert first.complete and first.shards_written == 2
  a, b = _rows(out), _rows(split)
  assert [int(r['seed']) for r in a] == [int(r['seed']) for r in b]
  for ra, rb in zip(a, b):
    np.testing.assert_array_equal(ra['image'], rb['image'])
    np.testing.assert_array_equal(ra['mask'], rb['mask'])


def test_drop_uncertain_removes_the_most_uncertain_of_each_shard(
    dataset, tiny_workdir, tmp_path):
  out, _ = dataset
  rows = _rows(out)
  unc = {int(r['seed']): float(r['uncertainty']) for r in rows}
  expected = []
  for lo, hi in [(100, 105), (105, 110), (110, 112)]:
    shard = list(range(lo, hi))
    k = round(0.4 * len(shard))  # 2, 2 and 1 dropped
    worst = sorted(shard, key=lambda s: -unc[s])[:k]
    expected += [s for s in shard if s not in worst]
  filtered = generation.generate(_config(**{'generate.drop_uncertain': 0.4}),
                                 tiny_workdir, tmp_path / 'f', N,
                               show_progress=False)
  assert filtered.num_examples == len(expected) == 7
  assert [int(r['seed']) for r in _rows(tmp_path / 'f')] == expected


def _cli(workdir, out, n, extra=()):
  return [sys.executable, '-m', 'stylegan_seg_jax', 'generate',
          '--config=configs/tiny.py', f'--workdir={workdir}', f'--out={out}',
          f'--num_samples={n}', '--config.generate.shard_size=4',
          '--config.generate.batch_size=8', *extra]


def test_killed_run_resumes_with_no_missing_or_duplicate_seed(
    tiny_workdir, tmp_path):
  env = subprocess_env()
  out, n = tmp_path / 'ds', 400
  bad = subprocess.run(_cli(tiny_workdir, out, 0), cwd=ROOT, env=env,
                       capture_output=True, text=True)
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1].startswith('generate: error:')
  assert not out.exists()
  proc = subprocess.Popen(_cli(tiny_workdir, out, n), cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  pattern = re.compile(r'-train\.array_record-\d+-of-\d+$')
  deadline = time.time() + 240
  while time.time() < deadline and proc.poll() is None:
    if out.is_dir() and any(pattern.search(p.name) for p in out.iterdir()):
      break
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  written = [p for p in out.iterdir() if pattern.search(p.name)]
  assert 0 < len(written) < n // 4, 'the kill must land mid-way'
  assert not (out / 'dataset_info.json').exists()
  done = subprocess.run(_cli(tiny_workdir, out, n), cwd=ROOT, env=env,
                        capture_output=True, text=True)
  assert done.returncode == 0, done.stderr[-2000:]
  summary = json.loads(done.stdout.strip().splitlines()[-1])
  assert summary['complete'] and summary['num_examples'] == n
  assert summary['shards_written'] == n // 4 - len(written)
  seeds = [int(r['seed']) for r in _rows(out)]
  assert seeds == list(range(n))
  assert not [p for p in out.iterdir() if '.tmp-' in p.name]
