"""Paths in a bucket (gs://, a local Cloud Storage emulator): atomic files
and directories, the metrics and TensorBoard files, a generator directory
(saved, converted), input checks, the report binary, the toy generator's
training, and the tools that refuse bucket paths."""

import json
import subprocess
import sys
import tempfile
import uuid

import jax
import numpy as np
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.eval import summary
from stylegan_seg_jax.runtime import files
from stylegan_seg_jax.runtime import metric_writer
from stylegan_seg_jax.stages import config as config_lib
from stylegan_seg_jax.stages import runner
from tests.convert import hostile_files
from tests.domains import generator_training_test
from tests.eval import summary_test
from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.helpers import tiny_config
from tests.launch import gcs_emulator
from tests.runtime import files_test

FACES = domains.get('faces')

BUCKET = 'unit-bucket'


@pytest.fixture(scope='module')
def store():
  """The emulator's filesystem (no instance or listing cache)."""
  with gcs_emulator.running(12450, BUCKET) as env, \
      pytest.MonkeyPatch.context() as mp:
    for key, value in env.items():
      mp.setenv(key, value)
    import fsspec  # pylint: disable=g-import-not-at-top
    yield fsspec.filesystem('gs', skip_instance_cache=True,
                            use_listings_cache=False)


@pytest.fixture
def url(store):
  """A fresh prefix in the bucket."""
  del store
  return f'gs://{BUCKET}/{uuid.uuid4().hex[:8]}'


def _objects(store, url):
  prefix = url[len('gs://'):]
  return sorted(p[len(prefix) + 1:] for p in store.find(prefix))


@pytest.mark.fast
def test_atomic_file_uploads_whole_objects_only_on_success(store, url):
  with files.atomic_file(f'{url}/a.json') as tmp:
    assert '://' not in str(tmp)  # a local scratch file
    tmp.write_text('{"v": 1}')
    assert _objects(store, url) == []  # nothing until the block succeeds
  assert store.cat_file(f'{url[5:]}/a.json') == b'{"v": 1}'
  with pytest.raises(RuntimeError):
    with files.atomic_file(f'{url}/a.json') as tmp:
      tmp.write_text('half')
      raise RuntimeError('killed')
  assert store.cat_file(f'{url[5:]}/a.json') == b'{"v": 1}'
  with pytest.raises(FileExistsError, match='already exists'):
    with files.atomic_file(f'{url}/a.json', overwrite=False) as tmp:
      tmp.write_text('other')
  with files.atomic_file(f'{url}/a.json') as tmp:
    tmp.write_text('{"v": 2}')
  assert store.cat_file(f'{url[5:]}/a.json') == b'{"v": 2}'
  assert _objects(store, url) == ['a.json']
  assert files.file_size(f'{url}/a.json') == 8


@pytest.mark.fast
def test_atomic_directory_replaces_only_a_complete_directory(store, url,
                                                             monkeypatch):
  target = f'{url}/eval'
  with files.atomic_directory(target) as tmp:
    (tmp / 'sub').mkdir()
    (tmp / 'sub' / 'x.txt').write_text('old x')
    (tmp / 'm.json').write_text('old')
  assert _objects(store, url) == ['eval/m.json', 'eval/sub/x.txt']
  # Refused without overwrite; a failure inside the block changes nothing.
  files_test.check_refuses_and_keeps(target, lambda: _objects(store, url))
  assert _objects(store, url) == ['eval/m.json', 'eval/sub/x.txt']
  # A replacement removes what the new directory does not hold.
  with files.atomic_directory(target, overwrite=True) as tmp:
    (tmp / 'm.json').write_text('new')
  assert _objects(store, url) == ['eval/m.json']
  assert store.cat_file(f'{target[5:]}/m.json') == b'new'
  # The copy into place fails: the partial copy goes, the previous
  # contents come back.
  real = files._move_prefix  # pylint: disable=protected-access
  calls = []

  def failing(fs, src, dst, *, fail=(2,), **kwargs):
    calls.append(src)
    if len(calls) in fail:  # 1: old aside, 2: the new one in, 3: old back
      fs.copy(fs.find(src)[0], dst + '/partial')
      raise OSError('network down')
    real(fs, src, dst, **kwargs)

  monkeypatch.setattr(files, '_move_prefix', failing)
  with pytest.raises(OSError, match='network down.*previous contents are '
                     'back in place'):
    with files.atomic_directory(target, overwrite=True) as tmp:
      (tmp / 'm.json').write_text('newer')
  assert _objects(store, url) == ['eval/m.json']
  assert store.cat_file(f'{target[5:]}/m.json') == b'new'
  # Moving them back fails too: the error says where they are.
  calls.clear()
  monkeypatch.setattr(files, '_move_prefix',
                      lambda *a, **k: failing(*a, fail=(2, 3), **k))
  with pytest.raises(OSError, match=r'previous contents are in .*\.eval\.old-'):
    with files.atomic_directory(target, overwrite=True) as tmp:
      (tmp / 'm.json').write_text('newer')
  kept = [p for p in _objects(store, url) if '.eval.old-' in p]
  assert [k.split('/', 1)[1] for k in kept] == ['m.json']
  assert store.cat_file(f'{url[5:]}/{kept[0]}') == b'new'
  assert not [p for p in _objects(store, url) if '.tmp-' in p]
  # A first write that fails leaves nothing behind.
  calls.clear()
  monkeypatch.setattr(files, '_move_prefix',
                      lambda *a, **k: failing(*a, fail=(1,), **k))
  with pytest.raises(OSError, match='network down'):
    with files.atomic_directory(f'{url}/fresh') as tmp:
      (tmp / 'm.json').write_text('x')
  assert not [p for p in _objects(store, url) if 'fresh' in p]


class _RecordingStore:
  """The fsspec calls `_move_prefix` makes, on a list of object names."""

  def __init__(self, names):
    self.names, self.copied = names, []

  def find(self, prefix):
    return [n for n in self.names if n.startswith(prefix + '/')]

  def copy(self, src, dst):
    self.copied.append(src)

  def rm(self, prefix, recursive):
    assert recursive and len(self.copied) == len(self.names)


@pytest.mark.fast
def test_an_interrupted_copy_lacks_the_files_that_mark_it_complete():
  names = ['s/generator.json', 's/variables/_METADATA',
           's/variables/commit_success.txt', 's/variables/d/abc',
           's/variables/manifest.ocdbt', 's/variables/ocdbt.process_0/d/x',
           's/variables/ocdbt.process_0/manifest.ocdbt', 's/z.png']
  fs = _RecordingStore(names)
  files._move_prefix(fs, 's', 't', last=('generator.json',))  # pylint: disable=protected-access
  # Hand-ordered: deepest first, the orbax marker after its siblings, the
  # named marker at the very end.
  assert fs.copied == [
      's/variables/ocdbt.process_0/d/x',
      's/variables/d/abc', 's/variables/ocdbt.process_0/manifest.ocdbt',
      's/variables/_METADATA', 's/variables/manifest.ocdbt',
      's/variables/commit_success.txt', 's/z.png', 's/generator.json']


@pytest.mark.fast
def test_the_emulator_serves_generations_for_conditional_writes(url):
  # Orbax's OCDBT manifest is rewritten conditionally on its generation;
  # a second writer must see the first one's (real Cloud Storage sends it).
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  spec = {'driver': 'ocdbt', 'base': {
      'driver': 'gcs', 'bucket': BUCKET, 'path': url[len(f'gs://{BUCKET}/'):]
      + '/db/'}}
  ts.KvStore.open(spec).result().write(b'a', b'1').result()
  second = ts.KvStore.open(spec, context=ts.Context()).result()
  second.write(b'b', b'2').result()
  assert second.read(b'a').result().value == b'1'
  assert second.read(b'b').result().value == b'2'


@pytest.mark.fast
def test_metrics_are_rewritten_whole_and_kept_on_resume(store, url):
  writer = metric_writer.MetricWriter(url, tensorboard=False, flush_secs=0)
  writer.write(1, {'loss': 2.0})
  writer.write(2, {'loss': 1.5})
  path = f'{url[5:]}/metrics.jsonl'
  assert [json.loads(x)['step'] for x in
          store.cat_file(path).decode().splitlines()] == [1, 2]
  writer.close()
  resumed = metric_writer.MetricWriter(url, tensorboard=False,
                                       flush_secs=3600)
  resumed.write(3, {'loss': 1.0})
  # Rows wait for the flush interval (or close), never half-written.
  assert len(store.cat_file(path).decode().splitlines()) == 2
  resumed.close()
  rows = [json.loads(x) for x in store.cat_file(path).decode().splitlines()]
  assert rows == [{'step': 1, 'loss': 2.0}, {'step': 2, 'loss': 1.5},
                  {'step': 3, 'loss': 1.0}]


def _scalars(event_file: bytes) -> list[tuple[int, str, float]]:
  """(step, tag, value) of every scalar in a TensorBoard event file (TFRecord
  framing: length, its CRC, the Event proto, its CRC)."""
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  out, at = [], 0
  while at < len(event_file):
    n = int.from_bytes(event_file[at:at + 8], 'little')
    event = event_pb2.Event.FromString(event_file[at + 12:at + 12 + n])
    at += 12 + n + 4
    out += [(event.step, v.tag, v.simple_value) for v in event.summary.value]
  return out


@pytest.mark.fast
def test_tensorboard_events_are_uploaded_whole(store, url, tmp_path,
                                               monkeypatch):
  monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
  events = lambda: [p for p in _objects(store, url) if p.startswith('events.')]
  for run, first in enumerate((1, 3)):  # a run, then its resumption
    writer = metric_writer.MetricWriter(url, flush_secs=3600)
    writer.write(first, {'loss': 2.0})
    writer.write(first + 1, {'loss': 1.5})
    assert len(events()) == run  # nothing until the flush (or close)
    writer.close()
  assert len(events()) == 2  # one per run, both kept
  got = sorted(s for e in events()
               for s in _scalars(store.cat_file(f'{url[5:]}/{e}')))
  assert not list(tmp_path.iterdir())  # the local event files are gone
  assert got == [(1, 'loss', 2.0), (2, 'loss', 1.5), (3, 'loss', 2.0),
                 (4, 'loss', 1.5)]


@pytest.mark.fast
def test_a_generator_directory_in_a_bucket(url):
  gen = FACES.load_generator()
  stylegan2.storage.save(f'{url}/toy_gen', gen.config, gen.variables,
                         {'source': 'test'})
  back = stylegan2.load(f'{url}/toy_gen')
  assert back.config == gen.config and back.metadata == {'source': 'test'}
  for a, b in zip(jax.tree.leaves(gen.variables),
                  jax.tree.leaves(back.variables)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  config = tiny_config(generator_dir=f'{url}/toy_gen')
  assert config_lib.check_inputs(config) == [f'{url}/toy_gen/generator.json']
  with pytest.raises(config_lib.ConfigError, match='does not exist'):
    config_lib.check_inputs(tiny_config(generator_dir=f'{url}/missing'))


@pytest.mark.fast
def test_a_checkpoint_converts_into_a_bucket(url, tmp_path):
  from stylegan_seg_jax import convert  # pylint: disable=g-import-not-at-top
  src = tmp_path / 'g.pt'
  src.write_bytes(hostile_files.rosinality_res4(z=8, w=8, channels=4))
  convert.convert_file(src, tmp_path / 'local')
  convert.convert_file(src, f'{url}/gen')
  local, remote = stylegan2.load(tmp_path / 'local'), stylegan2.load(
      f'{url}/gen')
  assert remote.config == local.config
  for a, b in zip(jax.tree.leaves(local.variables),
                  jax.tree.leaves(remote.variables)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  with pytest.raises(FileExistsError):  # an existing output is kept
    convert.convert_file(src, f'{url}/gen')
  assert sorted(p.name for p in tmp_path.iterdir()) == ['g.pt', 'local']


@pytest.mark.fast
def test_local_only_tools_refuse_a_bucket_path(tmp_path):
  tiny = f'--config={ROOT / "configs" / "tiny.py"}'
  for argv in (['label', 'serve', tiny, '--workdir=gs://b/run'],
               ['toy', 'testset', '--out=gs://b/toy'],
               ['label', 'import_reference', tiny, '--latents=l.pt',
                '--labels=m.pt', '--name=n', '--out=gs://b/data'],
               ['convert', '--src=gs://b/g.pt', '--out=g']):
    proc = subprocess.run([sys.executable, '-m', 'stylegan_seg_jax', *argv],
                          cwd=tmp_path,
                          capture_output=True, text=True,
                          env=subprocess_env())
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert 'must be a local path' in last and "'gs://b/" in last
    assert not (tmp_path / 'gs:').exists()
  # The labeller's library entry point too, before loading anything.
  from stylegan_seg_jax.labeller import session  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match="workdir must be a local path, not "
                     "'gs://b/run'"):
    session.Session(tiny_config(), 'gs://b/run')


@pytest.mark.slow
def test_report_reads_and_writes_a_bucket(store, url, tmp_path):
  local = tmp_path / 'runs'
  base = summary_test.variant(local, 'random_init', [0.5, 0.7], [9.0], 0.0,
                              2.0)
  trained = summary_test.variant(local, 'trained', [0.6, 0.9],
                                 [10.0] * 20 + [6.0] * 20, 0.25, 4.0)
  store.put(str(local), f'{url[5:]}/runs', recursive=True)
  remote = [f'{url}/runs/{v}' for v in ('random_init', 'trained')]
  # The same tables from the bucket as from the local copy.
  assert (summary.format_ablation(summary.load_ablation(remote))
          == summary.format_ablation(summary.load_ablation([base, trained])))
  seeds = [f'{remote[1]}/seed_{i}' for i in (0, 1)]
  runs = summary.load_runs([trained / 'seed_0', trained / 'seed_1'])
  expected = summary.format_summary(summary.summarize(runs), runs)
  # The binary writes its --out into the bucket, nothing on the local disk.
  for args, name, text in (
      ([f'--workdir={s}' for s in seeds], 'report.md', expected),
      (['--ablation', *(f'--workdir={r}' for r in remote)], 'ablation.md',
       summary.format_ablation(summary.load_ablation([base, trained])))):
    proc = subprocess.run(
        [sys.executable, '-m', 'stylegan_seg_jax', 'report', *args,
         f'--out={url}/tables'], cwd=tmp_path, capture_output=True,
        text=True, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == text
    assert store.cat_file(f'{url[5:]}/tables/{name}').decode() == text
    assert not (tmp_path / 'gs:').exists()


@pytest.mark.slow
def test_toy_generator_training_in_a_bucket(store, url, tmp_path,
                                            monkeypatch):
  monkeypatch.chdir(tmp_path)
  config = generator_training_test.small_config(3)
  result = runner.train_and_evaluate(config, url)
  stage = f'{url}/toy_generator'
  assert result['generator_dir'] == f'{stage}/generator'
  rows = store.cat_file(f'{stage[5:]}/metrics.jsonl').decode().splitlines()
  assert [json.loads(r)['step'] for r in rows] == [3]
  assert store.exists(f'{stage[5:]}/checkpoints/3/commit_success.txt')
  assert stylegan2.load(f'{stage}/generator').metadata[
      'training_steps'] == 3
  assert not list(tmp_path.iterdir())  # nothing on the local disk


@pytest.mark.fast
def test_other_url_schemes_are_refused_in_one_line(tmp_path):
  with pytest.raises(files.UnsupportedURLError, match="only gs:// URLs"):
    files.as_path('gcs://b/run')
  tiny = f'--config={ROOT / "configs" / "tiny.py"}'
  for argv, where in (
      (['train', tiny, '--workdir=gcs://b/run'], '--workdir'),
      (['train', tiny, '--workdir=w', '--config.generator_dir=s3://b/g'],
       '--config.generator_dir'),
      (['report', '--workdir=w', '--workdir=file:///tmp/run'], '--workdir')):
    proc = subprocess.run([sys.executable, '-m', 'stylegan_seg_jax', *argv],
                          cwd=tmp_path, capture_output=True, text=True,
                          env=subprocess_env())
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'{argv[0]}: error: {where}'), last
    assert 'only gs:// URLs are supported' in last, last
    assert not list(tmp_path.iterdir())
