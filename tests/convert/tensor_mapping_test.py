"""The shared part of the format mappings: one architecture inference."""

import numpy as np
import pytest

from stylegan_seg_jax.convert import tensor_mapping as tm

pytestmark = pytest.mark.fast


def _tensors(shapes, fmt='test'):
  return tm.Tensors({k: np.zeros(s, np.float32) for k, s in shapes.items()},
                    fmt)


@pytest.mark.parametrize('torch_layout', [True, False])
def test_infer_config_reads_both_dense_layouts(torch_layout):
  """PyTorch stores dense weights [out, in], TF [in, out]: same config."""
  dims = [(12, 32), (32, 32), (32, 16)]  # (in, out): z=12, hidden 32, w=16
  t = _tensors({f'fc{i}.weight': (o, n) if torch_layout else (n, o)
                for i, (n, o) in enumerate(dims)} | {'rgb': (1, 5)})
  config = tm.infer_config(t, lambda i: f'fc{i}.', 3, {4: 64, 8: 32},
                           torch_layout=torch_layout, rgb='rgb',
                           conv_clamp=256.0, mapping_lr_multiplier=0.5)
  assert (config.z_dim, config.w_dim, config.mapping_layers) == (12, 16, 3)
  assert config.mapping_features == 32
  assert config.resolution == 8 and config.channels == ((4, 64), (8, 32))
  assert (config.img_channels, config.conv_clamp,
          config.mapping_lr_multiplier) == (1, 256.0, 0.5)


def test_infer_config_mapping_width_defaults_to_w():
  t = _tensors({'m0.weight': (16, 8), 'm1.weight': (16, 16)})
  config = tm.infer_config(t, lambda i: f'm{i}.', 2, {4: 8},
                           torch_layout=True)
  assert config.mapping_features is None and config.img_channels == 3
  one = tm.infer_config(t, lambda i: f'm{i}.', 1, {4: 8}, torch_layout=True)
  assert (one.z_dim, one.w_dim, one.mapping_features) == (8, 16, None)


def test_infer_config_without_mapping_names_the_missing_tensor():
  with pytest.raises(tm.ConversionError,
                     match="NVIDIA checkpoint is missing tensor 'fc0.weight'"):
    tm.infer_config(_tensors({}, 'NVIDIA'), lambda i: f'fc{i}.', 0, {4: 8},
                    torch_layout=True)


def test_count_layers_stops_at_the_first_gap():
  t = _tensors({'a0': (1,), 'a1': (1,), 'a3': (1,)})
  assert tm.count_layers(t, lambda i: f'a{i}') == 2
  assert tm.count_layers(t, lambda i: f'b{i}') == 0
