"""The experiment's labelled data: the toy test set and one-shot examples."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from stylegan_seg_jax import toy
from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from tests.conftest import tiny_config


def test_toy_test_set_reads_back_with_plain_tfds(tmp_path):
  directory = experiment.build_toy_test_set(tmp_path / 'tfds')
  builder = tfds.builder_from_directory(str(directory))
  ds = builder.as_data_source(split='test')
  assert len(ds) == len(toy.TEST_SEEDS) >= 200
  assert builder.info.metadata['class_names'] == list(toy.CLASS_NAMES)
  rows = [ds[i] for i in (0, 17, len(ds) - 1)]
  seeds = [int(r['seed']) for r in rows]
  assert seeds == [toy.TEST_SEEDS[0], toy.TEST_SEEDS[17], toy.TEST_SEEDS[-1]]
  z = toy.latents(seeds)
  np.testing.assert_array_equal(np.stack([r['z'] for r in rows]), z)
  np.testing.assert_array_equal(np.stack([r['mask'] for r in rows]),
                                toy.ground_truth(z))
  image = rows[0]['image']
  assert image.shape == (64, 64, 3) and image.dtype == np.uint8


def test_oneshot_example_from_a_file_or_its_directory(tmp_path):
  gen = toy.load_generator()
  z = toy.latents([5])
  example = labelled_set.OneShotExample(
      w=np.asarray(gen.mapping(z))[0], psi=1.0,
      mask=toy.ground_truth(z)[0], class_names=toy.CLASS_NAMES, seed=5)
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
  return experiment.build_toy_test_set(tmp_path_factory.mktemp('toy'))


@pytest.mark.parametrize('spec,position', [('index:5', 5),
                                           (f'seed:{toy.TEST_SEEDS[7]}', 7)])
def test_a_test_sample_used_as_the_example_leaves_the_test_split(
    tmp_path, toy_set, spec, position):
  config = tiny_config(**{'data.test_set': str(toy_set), 'data.oneshot': spec,
                          'data.num_test': -1})
  gen = toy.load_generator()
  example = experiment.load_oneshot(config, tmp_path, gen)
  test = experiment.load_test_set(config, tmp_path)
  seed = toy.TEST_SEEDS[position]
  assert example.seed == seed
  assert len(test) == len(toy.TEST_SEEDS) - 1
  assert seed not in set(test.seeds.tolist())
  assert position not in set(test.indices.tolist())
  np.testing.assert_array_equal(example.mask,
                                toy.ground_truth(toy.latents([seed]))[0])
  # Every other sample is still there, in order.
  assert test.seeds.tolist() == [s for s in toy.TEST_SEEDS if s != seed]
