"""Importing the reference code's test data (latents.pt, labels.pt)."""

import hashlib
import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from stylegan_seg_jax import domains
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.data import reference_data
from stylegan_seg_jax.runtime import pictures

FACES = domains.get('faces')

pytestmark = pytest.mark.fast


@pytest.fixture(scope='module')
def gen():
  return FACES.load_generator()


def _no_leftovers(directory):
  return not [p.name for p in directory.iterdir() if p.name.startswith('.')]


REF_SEEDS = [11, 12, 13, 14]


@pytest.fixture(scope='module')
def reference(gen):
  z = FACES.latents(REF_SEEDS)
  w = np.array(gen.mapping(z, psi=1.0))  # a writable copy, for torch
  masks = FACES.ground_truth(z).astype(np.uint8)
  return z, w, masks


def _write_reference(tmp_path, reference, gen, variant):
  torch = pytest.importorskip('torch')
  _, w, masks = reference
  latents, labels = tmp_path / 'latents.pt', tmp_path / 'labels.pt'
  if variant == 'w_tuple':
    torch.save((torch.from_numpy(w), [torch.zeros(3)]), latents)
    torch.save(torch.from_numpy(masks), labels)
    return latents, labels, w
  if variant == 'w_plus_numpy':
    wp = np.broadcast_to(w[:, None], (len(w), gen.config.num_ws, w.shape[1]))
    wp = np.ascontiguousarray(wp)
    torch.save(torch.from_numpy(wp), latents)
    torch.save(masks.astype(np.int64), labels)  # a numpy array in a .pt
    return latents, labels, wp
  assert variant == 'float_over_255_legacy'
  torch.save([torch.from_numpy(w)], latents,
             _use_new_zipfile_serialization=False)
  torch.save(torch.from_numpy(masks.astype(np.float32) / 255), labels,
             _use_new_zipfile_serialization=False)
  return latents, labels, w


@pytest.mark.parametrize('variant,psi', [
    ('w_tuple', None), ('w_plus_numpy', 1.0), ('float_over_255_legacy', 0.5)])
def test_import_reference(tmp_path, gen, reference, capsys, variant, psi):
  z, _, masks = reference
  latents, labels, w_stored = _write_reference(tmp_path, reference, gen,
                                               variant)
  data_dir = tmp_path / 'data'
  psi = 0.7 if psi is None else psi
  run = lambda: reference_data.import_reference(
      latents, labels, gen, ','.join(FACES.class_names), data_dir, 'ref',
      psi=psi, generator_name=str(FACES.generator_dir))
  run()
  captured = capsys.readouterr()
  out = pathlib.Path(captured.out.strip().splitlines()[-1])
  assert out == data_dir / 'labelled_samples' / 'ref' / labelled_set.VERSION
  assert sorted(p.name for p in data_dir.iterdir()) == ['labelled_samples']

  builder = tfds.builder_from_directory(str(out))
  ds = builder.as_data_source('test')
  assert len(ds) == len(REF_SEEDS)
  # Independent path: the generator's own truncating mapping from z.
  want = pictures.to_uint8(np.asarray(gen(z, psi=psi)[0]))
  for i in range(len(REF_SEEDS)):
    ex = ds[i]
    np.testing.assert_array_equal(ex['w'], w_stored[i])
    np.testing.assert_array_equal(ex['mask'], masks[i])
    assert int(ex['seed']) == -1 and not ex['z'].any()
    assert np.abs(ex['image'].astype(int) - want[i]).max() <= 1
  meta = builder.info.metadata
  assert meta['truncation_psi'] == psi
  assert list(meta['class_names']) == list(FACES.class_names)
  assert meta['labels_scaled_by_255'] == (variant == 'float_over_255_legacy')
  for key, path in (('latents', latents), ('labels', labels)):
    assert meta['sources'][key]['file'] == path.name
    assert meta['sources'][key]['sha256'] == hashlib.sha256(
        path.read_bytes()).hexdigest()
  # A second import under the same name is refused.
  with pytest.raises(FileExistsError, match='already exists'):
    run()


@pytest.mark.parametrize('problem,pattern', [
    ('count', 'latents.pt has 4 latents but labels.pt has 3 label maps'),
    ('size', 'label maps are 32x32, the generator renders 64x64'),
    ('class_id', 'sample 0 has class id 7, out of range for 3 classes'),
])
def test_import_reference_errors_write_nothing(tmp_path, gen, reference,
                                               problem, pattern):
  torch = pytest.importorskip('torch')
  _, w, masks = reference
  latents, labels = tmp_path / 'latents.pt', tmp_path / 'labels.pt'
  torch.save((torch.from_numpy(w), None), latents)
  names = FACES.class_names
  if problem == 'count':
    masks = masks[:3]
  elif problem == 'size':
    masks = masks[:, :32, :32]
  else:
    names = names[:3]
  torch.save(torch.from_numpy(np.ascontiguousarray(masks)), labels)
  data_dir = tmp_path / 'data'
  with pytest.raises(ValueError, match=pattern):
    reference_data.import_reference(latents, labels, gen, ','.join(names),
                               data_dir, 'ref', psi=0.7,
                               generator_name='toy:faces')
  assert not data_dir.exists()


def test_import_reference_pads_and_resizes_car_style_labels(tmp_path, gen,
                                                            reference):
  """PASCAL-Part cars: 384-row label maps padded to 512 rows (centred),
  then nearest-resized to the image size; here 96 rows of 128 columns,
  padded to 128 and resized to the toy generator's 64."""
  torch = pytest.importorskip('torch')
  _, w, _ = reference
  rng = np.random.default_rng(0)
  small = rng.integers(0, 3, (len(w), 96, 128)).astype(np.int64)
  latents, labels = tmp_path / 'latents.pt', tmp_path / 'labels.pt'
  torch.save(torch.from_numpy(w), latents)
  torch.save(torch.from_numpy(small), labels)
  out = reference_data.import_reference(
      latents, labels, gen, 'background,a,b', tmp_path / 'data', 'car',
      psi=1.0, generator_name='toy:faces', label_size=128)
  masks = np.stack([r['mask'] for r in
                    tfds.builder_from_directory(str(out)).as_data_source(
                        'test')])
  padded = np.zeros((len(w), 128, 128), np.int64)
  padded[:, 16:112] = small
  np.testing.assert_array_equal(masks, padded[:, ::2, ::2])
  with pytest.raises(ValueError, match='cannot be padded'):
    reference_data.pad_labels(small, 97)
