"""Labelling: export, mask import, one-shot example files, reference data."""

import json
import re
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from stylegan_seg_jax import domains
from stylegan_seg_jax import stylegan2
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.data import labelling
from stylegan_seg_jax.runtime import pictures
from tests.helpers import ROOT
from tests.helpers import subprocess_env

FACES = domains.get('faces')

SEED = 3
NUM_CLASSES = len(FACES.class_names)


def _cli(*args):
  return subprocess.run(
      [sys.executable, '-m', 'stylegan_seg_jax', 'label', *args], cwd=ROOT,
      capture_output=True, text=True, env=subprocess_env())


def _assert_one_line_error(rc, stderr, pattern):
  assert rc == 1, stderr
  lines = [line for line in stderr.splitlines() if line.strip()]
  assert len(lines) == 1, stderr
  assert lines[0].startswith('label: error: '), stderr
  assert pattern in lines[0], lines[0]


def _no_leftovers(directory):
  return not [p.name for p in directory.iterdir() if p.name.startswith('.')]


@pytest.fixture(scope='module')
def gen():
  return FACES.load_generator()


@pytest.fixture(scope='module')
def truth():
  return FACES.ground_truth(FACES.latents([SEED]))[0].astype(np.uint8)


def _export(gen, out, seed=SEED, **kwargs):
  return labelling.export(gen, seed, out, psi=1.0,
                          class_names=FACES.class_names,
                          generator_name='toy:faces',
                          **kwargs)


@pytest.fixture(scope='module')
def exported(tmp_path_factory, gen):
  out = tmp_path_factory.mktemp('export') / 'shot'
  paths = _export(gen, out)
  assert sorted(paths) == sorted(labelling.EXPORT_FILES)
  return out


def _import(tmp_path, exported, mask, mode, **options):
  png = tmp_path / 'mask.png'
  Image.fromarray(mask, mode).save(png)
  out = tmp_path / 'shot.npz'
  return labelling.import_mask(exported, png, out, **options), out


@pytest.mark.fast
def test_z_from_seeds_is_the_toy_convention():
  z = stylegan2.z_from_seeds([5, 0], 7)
  assert z.shape == (2, 7) and z.dtype == np.float32
  np.testing.assert_array_equal(
      z[0], np.random.default_rng(5).standard_normal(7).astype(np.float32))
  np.testing.assert_array_equal(FACES.latents([5, 0]),
                                stylegan2.z_from_seeds([5, 0], FACES.z_dim))
  with pytest.raises(ValueError, match='non-negative'):
    stylegan2.z_from_seeds([-1], 3)


@pytest.mark.fast
def test_export_writes_untruncated_w_image_and_palette(exported, gen):
  assert sorted(p.name for p in exported.iterdir()) == sorted(
      labelling.EXPORT_FILES)
  z = FACES.latents([SEED])
  with np.load(exported / 'latent.npz') as data:
    np.testing.assert_array_equal(data['w'], np.asarray(gen.mapping(z))[0])
    np.testing.assert_array_equal(data['z'], z[0])
    assert int(data['seed']) == SEED and float(data['psi']) == 1.0
    assert tuple(data['class_names']) == FACES.class_names
    image = data['image']
  np.testing.assert_array_equal(np.asarray(Image.open(exported / 'image.png')),
                                image)
  want = pictures.to_uint8(np.asarray(gen(z)[0])[0])
  assert np.abs(image.astype(int) - want).max() <= 1
  doc = json.loads((exported / 'palette.json').read_text())
  assert list(doc) == list(FACES.class_names)
  np.testing.assert_array_equal(list(doc.values()),
                                pictures.palette(NUM_CLASSES))
  assert Image.open(exported / 'palette.png').mode == 'RGB'


@pytest.mark.fast
@pytest.mark.parametrize('mode', ['L', 'P'])
def test_import_index_png(tmp_path, exported, gen, truth, capsys, mode):
  if mode == 'P':
    png = tmp_path / 'mask.png'
    img = Image.fromarray(truth, 'P')
    # Colours unrelated to the class palette: the indices must be used.
    img.putpalette([(7 * i) % 256 for i in range(768)])
    img.save(png)
    out = tmp_path / 'shot.npz'
    labelling.import_mask(exported, png, out)
    assert Image.open(png).mode == 'P'
  else:
    _, out = _import(tmp_path, exported, truth, 'L')
  captured = capsys.readouterr()
  assert f'wrote {out}' in captured.out
  assert 'skin' in captured.out and 'px' in captured.out
  ex = labelled_set.load_example(out)
  np.testing.assert_array_equal(ex.mask, truth)
  assert ex.mask.dtype == np.uint8
  np.testing.assert_array_equal(
      ex.w, np.asarray(gen.mapping(FACES.latents([SEED]), psi=1.0))[0])
  assert ex.seed == SEED and ex.psi == 1.0
  assert ex.class_names == FACES.class_names
  np.testing.assert_array_equal(
      ex.image, np.asarray(Image.open(exported / 'image.png')))
  # Plain numpy reads the file too.
  with np.load(out) as data:
    np.testing.assert_array_equal(data['mask'], truth)


@pytest.mark.fast
@pytest.mark.parametrize('mode', ['RGB', 'RGBA'])
def test_import_colour_png(tmp_path, exported, truth, capsys, mode):
  colours = pictures.colorize(truth, NUM_CLASSES)
  if mode == 'RGBA':  # alpha is ignored
    alpha = np.random.default_rng(0).integers(0, 256, truth.shape, np.uint8)
    colours = np.concatenate([colours, alpha[..., None]], axis=-1)
  _, out = _import(tmp_path, exported, colours, mode)
  np.testing.assert_array_equal(labelled_set.load_example(out).mask, truth)


@pytest.mark.fast
def test_import_colour_png_with_partial_reordered_palette(tmp_path, exported):
  mask = np.zeros((64, 64), np.uint8)
  mask[10:20, 10:20] = 3  # eye
  rgb = np.zeros((64, 64, 3), np.uint8)
  rgb[10:20, 10:20] = (1, 2, 3)
  pal = tmp_path / 'pal.json'
  pal.write_text('{"eye": [1, 2, 3], "background": [0, 0, 0]}')
  _, out = _import(tmp_path, exported, rgb, 'RGB', palette=str(pal))
  np.testing.assert_array_equal(labelled_set.load_example(out).mask, mask)


def _unknown_colour(truth):
  colours = pictures.colorize(truth, NUM_CLASSES).copy()
  colours[5, 9] = colours[40, 41] = (1, 2, 3)
  return colours, 'RGB', '2 pixels have colours not in the palette; the first '\
      'is (1, 2, 3) at row 5, column 9'


def _out_of_range(truth):
  mask = truth.copy()
  mask[7, 4] = NUM_CLASSES
  return mask, 'L', (f'class index {NUM_CLASSES} at row 7, column 4 is out of '
                     f'range for {NUM_CLASSES} classes')


def _wrong_size(truth):
  return truth[:, :60], 'L', 'mask is 60x64, the image is 64x64'


@pytest.mark.fast
@pytest.mark.parametrize('make', [_unknown_colour, _out_of_range, _wrong_size])
def test_import_errors_write_nothing(tmp_path, exported, truth, make):
  mask, mode, pattern = make(truth)
  with pytest.raises(ValueError, match=re.escape(pattern)):
    _import(tmp_path, exported, mask, mode)
  assert not (tmp_path / 'shot.npz').exists() and _no_leftovers(tmp_path)


@pytest.mark.fast
def test_import_refuses_to_overwrite(tmp_path, exported, truth):
  out = tmp_path / 'shot.npz'
  out.write_bytes(b'keep')
  with pytest.raises(FileExistsError, match='already exists'):
    _import(tmp_path, exported, truth, 'L')
  assert out.read_bytes() == b'keep'
  _import(tmp_path, exported, truth, 'L', overwrite=True)
  np.testing.assert_array_equal(labelled_set.load_example(out).mask, truth)


@pytest.mark.fast
def test_reexport_into_a_non_empty_directory_refuses(exported, gen):
  before = {p.name: p.read_bytes() for p in exported.iterdir()}
  with pytest.raises(FileExistsError, match='already contains an export'):
    _export(gen, exported, seed=4)
  assert {p.name: p.read_bytes() for p in exported.iterdir()} == before
  assert _no_leftovers(exported.parent)


@pytest.mark.slow
def test_cli_export_from_the_config_and_import(tmp_path, exported, truth):
  out = tmp_path / 'shot'
  proc = _cli('export', '--config=configs/tiny.py', f'--seed={SEED}',
              f'--out={out}')
  assert proc.returncode == 0, proc.stderr
  for name in labelling.EXPORT_FILES:
    assert f'wrote {out / name}' in proc.stdout, proc.stdout
  with np.load(out / 'latent.npz') as a, np.load(exported / 'latent.npz') as b:
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
      np.testing.assert_array_equal(a[key], b[key], err_msg=key)
  png = tmp_path / 'mask.png'
  Image.fromarray(truth, 'L').save(png)
  proc = _cli('import', f'--export={out}', f'--mask={png}')
  assert proc.returncode == 0, proc.stderr
  np.testing.assert_array_equal(
      labelled_set.load_example(out / 'example.npz').mask, truth)


@pytest.mark.slow
def test_cli_import_error_is_one_line(tmp_path, exported, truth):
  colours, _, pattern = _unknown_colour(truth)
  png = tmp_path / 'mask.png'
  Image.fromarray(colours).save(png)
  out = tmp_path / 'shot'
  proc = _cli('import', f'--export={exported}', f'--mask={png}',
              f'--out={out}')
  _assert_one_line_error(proc.returncode, proc.stderr, pattern)
  assert 'Traceback' not in proc.stderr
  assert not out.exists() and _no_leftovers(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize('args,pattern', [
    ((), 'expected one command of serve, export, import, import_reference; '
         'got none'),
    (('paint',), "got 'paint'"),
    (('export', '--config=configs/tiny.py', '--seed=1'),
     '--out is required for export'),
    (('export', '--seed=1', '--out=x'), '--config is required for export'),
    (('import', '--export=a', '--mask=b', '--seed=1'),
     '--seed does not apply to import'),
    (('export', '--config=configs/nonexistent.py', '--seed=1', '--out=x'),
     'nonexistent.py'),
    # The first release's flags are gone (the config carries the values).
    (('export', '--generator=toy', '--seed=1', '--out=x'),
     "Unknown command line flag 'generator'"),
    (('import_reference', '--config=configs/tiny.py', '--latents=a',
      '--labels=b', '--name=n', '--data_dir=d'),
     "Unknown command line flag 'data_dir'"),
])
def test_cli_usage_errors_exit_2(args, pattern):
  proc = _cli(*args)
  assert proc.returncode == 2, proc.stderr
  err = proc.stderr.splitlines()
  assert err[0].startswith('usage: ') and err[-1].startswith('label: error: ')
  assert pattern in err[-1]


@pytest.mark.fast
def test_example_file_checks(tmp_path, truth):
  ex = labelled_set.OneShotExample(
      w=np.ones((4, 8)), psi=0.7, mask=truth.astype(np.int64),
      class_names=FACES.class_names, seed=-1)
  assert ex.w.dtype == np.float32 and ex.mask.dtype == np.uint8
  path = labelled_set.save_example(tmp_path / 'ex.npz', ex)
  back = labelled_set.load_example(path)
  np.testing.assert_array_equal(back.w, ex.w)
  assert back.psi == 0.7 and back.seed == -1 and back.image is None
  with pytest.raises(FileExistsError):
    labelled_set.save_example(path, ex)
  assert _no_leftovers(tmp_path)
  with pytest.raises(ValueError, match='out of range for 8 classes'):
    labelled_set.OneShotExample(w=ex.w, psi=1.0, mask=truth + 8,
                                class_names=FACES.class_names)
  with np.load(path) as data:
    arrays = dict(data)
  del arrays['psi']
  np.savez(tmp_path / 'missing.npz', **arrays)
  with pytest.raises(ValueError, match=r"missing key\(s\) \['psi'\]"):
    labelled_set.load_example(tmp_path / 'missing.npz')
  arrays['psi'] = np.array(1.0)
  arrays['class_names'] = np.array(['bg', 'fg'])
  np.savez(tmp_path / 'bad_ids.npz', **arrays)
  with pytest.raises(ValueError, match='bad_ids.npz: mask class id 7 out of'):
    labelled_set.load_example(tmp_path / 'bad_ids.npz')
  arrays['class_names'] = np.array(FACES.class_names)
  arrays['image'] = np.zeros((32, 32, 3), np.uint8)
  np.savez(tmp_path / 'bad_image.npz', **arrays)
  with pytest.raises(ValueError, match='image must be uint8'):
    labelled_set.load_example(tmp_path / 'bad_image.npz')
