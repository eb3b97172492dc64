"""The experiment's labelled data: the toy test set and one-shot examples."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from stylegan_seg_jax import domains
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from tests.helpers import tiny_config

FACES = domains.get('faces')

pytestmark = pytest.mark.fast


def test_toy_test_set_reads_back_with_plain_tfds(tmp_path):
  directory = experiment.build_domain_test_set(FACES, tmp_path / 'tfds')
  builder = tfds.builder_from_directory(str(directory))
  ds = builder.as_data_source(split='test')
  assert len(ds) == len(FACES.test_seed_list()) >= 200
  assert builder.info.metadata['class_names'] == list(FACES.class_names)
  rows = [ds[i] for i in (0, 17, len(ds) - 1)]
  seeds = [int(r['seed']) for r in rows]
  test_seeds = FACES.test_seed_list()
  assert seeds == [test_seeds[0], test_seeds[17], test_seeds[-1]]
  z = FACES.latents(seeds)
  np.testing.assert_array_equal(np.stack([r['z'] for r in rows]), z)
  np.testing.assert_array_equal(np.stack([r['mask'] for r in rows]),
                                FACES.ground_truth(z))
  image = rows[0]['image']
  assert image.shape == (64, 64, 3) and image.dtype == np.uint8


def test_oneshot_example_from_a_file_or_its_directory(tmp_path):
  gen = FACES.load_generator()
  z = FACES.latents([5])
  example = labelled_set.OneShotExample(
      w=np.asarray(gen.mapping(z))[0], psi=1.0,
      mask=FACES.ground_truth(z)[0], class_names=FACES.class_names, seed=5)
  labelled_set.save_example(tmp_path / 'shot' / experiment.EXAMPLE_FILE,
                            example)
  for spec in (tmp_path / 'shot', tmp_path / 'shot' / 'example.npz'):
    got = experiment.load_oneshot(
        tiny_config(**{'data.oneshot': str(spec)}), tmp_path, gen)
    np.testing.assert_array_equal(got.mask, example.mask)
    assert got.seed == 5
  with pytest.raises(ValueError, match='no such example file'):
    experiment.load_oneshot(
        tiny_config(**{'data.oneshot': str(tmp_path / 'missing')}),
        tmp_path, gen)


@pytest.fixture(scope='module')
def toy_set(tmp_path_factory):
  return experiment.build_domain_test_set(FACES,
                                         tmp_path_factory.mktemp('toy'))


@pytest.mark.parametrize('spec,position', [
    ('index:5', 5), (f'seed:{FACES.test_seed_list()[7]}', 7)])
def test_a_test_sample_used_as_the_example_leaves_the_test_split(
    tmp_path, toy_set, spec, position):
  config = tiny_config(**{'data.test_set': str(toy_set), 'data.oneshot': spec,
                          'data.num_test': -1})
  gen = FACES.load_generator()
  example = experiment.load_oneshot(config, tmp_path, gen)
  test = experiment.load_test_set(config, tmp_path)
  seed = FACES.test_seed_list()[position]
  assert example.seed == seed
  assert len(test) == len(FACES.test_seed_list()) - 1
  assert seed not in set(test.seeds.tolist())
  assert position not in set(test.indices.tolist())
  np.testing.assert_array_equal(example.mask,
                                FACES.ground_truth(FACES.latents([seed]))[0])
  # Every other sample is still there, in order.
  assert test.seeds.tolist() == [s for s in FACES.test_seed_list() if s != seed]


def test_a_labels_directory_holds_several_examples_in_order(tmp_path):
  gen = FACES.load_generator()
  z = FACES.latents([5, 6, 7])
  w = np.asarray(gen.mapping(z))
  masks = FACES.ground_truth(z)

  def save(name, i, names=FACES.class_names):
    labelled_set.save_example(tmp_path / 'labels' / name,
                              labelled_set.OneShotExample(
                                  w=w[i], psi=1.0, mask=masks[i],
                                  class_names=names, seed=5 + i))
  # Written out of order, with names that are not examples.
  save('example_2.npz', 2)
  save('example.npz', 0)
  save('example_1.npz', 1)
  save('example_01.npz', 2)
  save('example_x.npz', 2)
  config = tiny_config(**{'data.oneshot': str(tmp_path / 'labels')})
  got = experiment.load_oneshot_examples(config, tmp_path, gen)
  assert [e.seed for e in got] == [5, 6, 7]
  for e, mask in zip(got, masks):
    np.testing.assert_array_equal(e.mask, mask)
  assert experiment.load_oneshot(config, tmp_path, gen).seed == 5
  # A toy seed is still one example.
  assert len(experiment.load_oneshot_examples(
      tiny_config(**{'data.oneshot': 'toy:faces:seed:3'}), tmp_path, gen)) == 1
  save('example_3.npz', 2, names=FACES.class_names[:-1] + ('other',))
  with pytest.raises(ValueError, match='example_3.npz: class names'):
    experiment.load_oneshot_examples(config, tmp_path, gen)
  (tmp_path / 'labels' / 'example.npz').unlink()
  with pytest.raises(ValueError, match='no example.npz'):
    experiment.load_oneshot_examples(config, tmp_path, gen)
