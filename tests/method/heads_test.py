"""Segmentation heads against PyTorch re-creations of the reference heads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from stylegan_seg_jax.method import features as feat_lib
from stylegan_seg_jax.method import heads

pytestmark = pytest.mark.fast

SHAPES = [(4, 6), (8, 5), (16, 3)]
RES = 16


def _torch_conv_head(params, plan):
  """The reference OneShotSegmentor layers (Conv2d k3, pad = dilation)."""
  layers, cin = [], None
  for i, (dilation, cout) in enumerate(plan):
    k = np.asarray(params[f'conv{i}_kernel'])
    conv = torch.nn.Conv2d(k.shape[2], cout, 3, padding=dilation,
                           dilation=dilation)
    conv.weight.data = torch.from_numpy(k.transpose(3, 2, 0, 1).copy())
    conv.bias.data = torch.from_numpy(np.array(params[f'conv{i}_bias']))
    layers.append(conv)
    if i < len(plan) - 1:
      layers.append(torch.nn.LeakyReLU(0.2))
  del cin
  return torch.nn.Sequential(*layers)


@pytest.mark.parametrize('size', ['XS', 'S', 'M'])
def test_conv_heads_match_torch(size):
  x = jax.random.normal(jax.random.key(0), (2, RES, RES, 7))
  head = heads.ConvHead(5, size)
  params = head.init(jax.random.key(1), x)['params']
  plan = heads.conv_plan(size, 5)
  assert len(plan) == len(heads.CONV_SIZES[size][0])
  want = _torch_conv_head(params, plan)(
      torch.from_numpy(np.array(x).transpose(0, 3, 1, 2))).detach()
  got = head.apply({'params': params}, x)
  np.testing.assert_allclose(got, want.permute(0, 2, 3, 1).numpy(),
                             atol=1e-5)


def test_xxs_logits_and_reference_option():
  assert heads.conv_plan('XXS', 8) == [(1, 8)]
  assert heads.conv_plan('XXS', 8, reference_logits=True) == [(1, 12)]
  assert heads.conv_plan('XS', 3) == [(1, 16), (2, 8), (1, 3)]
  x = jnp.zeros((1, 8, 8, 4))
  out = heads.ConvHead(3, 'XXS', reference_logits=True).init_with_output(
      jax.random.key(0), x)[0]
  assert out.shape == (1, 8, 8, 12)
  with pytest.raises(ValueError, match='unknown head size'):
    heads.conv_plan('XXL', 3)


def test_torch_default_init_bounds():
  x = jnp.zeros((1, 4, 4, 10))
  params = heads.ConvHead(3, 'XXS').init(jax.random.key(0), x)['params']
  bound = 1 / np.sqrt(10 * 9)
  k = np.asarray(params['conv0_kernel'])
  assert np.abs(k).max() <= bound and np.abs(k).max() > 0.8 * bound


@pytest.mark.parametrize('make', [
    lambda: heads.ConvHead(4, 'XS', out_res=RES),
    lambda: heads.LinHead(4, out_res=RES),
    lambda: heads.PixelMLP(4, out_res=RES),
])
def test_lean_layer_input_equals_concat_input(make):
  keys = jax.random.split(jax.random.key(2), len(SHAPES))
  maps = [jax.random.normal(k, (2, r, r, c)) for k, (r, c) in zip(keys, SHAPES)]
  concat = feat_lib.concat_maps(maps, RES)
  head = make()
  variables = head.init(jax.random.key(3), maps)
  lean, _ = head.apply(variables, maps, train=True, mutable=['batch_stats'])
  naive, _ = head.apply(variables, concat, train=True, mutable=['batch_stats'])
  assert lean.shape == (2, RES, RES, 4)
  np.testing.assert_allclose(lean, naive, atol=1e-4)


def test_pixel_mlp_matches_torch_in_train_and_eval_mode():
  x = jax.random.normal(jax.random.key(4), (1, 8, 8, 12))
  head = heads.PixelMLP(5, datasetgan_init=False)
  variables = head.init(jax.random.key(5), x)
  p = variables['params']
  net = torch.nn.Sequential(
      torch.nn.Linear(12, 128), torch.nn.ReLU(), torch.nn.BatchNorm1d(128),
      torch.nn.Linear(128, 32), torch.nn.ReLU(), torch.nn.BatchNorm1d(32),
      torch.nn.Linear(32, 5))
  t = lambda a: torch.from_numpy(np.array(a))
  net[0].weight.data, net[0].bias.data = t(p['fc1_kernel']).T, t(p['fc1_bias'])
  net[3].weight.data, net[3].bias.data = t(p['fc2']['kernel']).T, t(
      p['fc2']['bias'])
  net[6].weight.data, net[6].bias.data = t(p['fc3']['kernel']).T, t(
      p['fc3']['bias'])
  pixels = t(x).reshape(-1, 12)
  want = net.train()(pixels).detach().numpy()
  got, upd = head.apply(variables, x, train=True, mutable=['batch_stats'])
  np.testing.assert_allclose(got.reshape(-1, 5), want, atol=1e-4)
  # Running statistics follow torch's momentum 0.1 (flax momentum 0.9),
  # except that torch keeps the unbiased variance.
  np.testing.assert_allclose(upd['batch_stats']['bn1']['mean'],
                             net[2].running_mean.numpy(), atol=1e-5)


def test_datasetgan_init():
  x = jnp.zeros((1, 4, 4, 300))
  p = heads.PixelMLP(5, datasetgan_init=True).init(jax.random.key(0), x)
  k = np.asarray(p['params']['fc1_kernel'])
  assert abs(k.std() - 0.02) < 0.002 and np.all(p['params']['fc1_bias'] == 0)


def test_cross_entropy_matches_torch():
  logits = jax.random.normal(jax.random.key(6), (2, 4, 4, 5))
  labels = jax.random.randint(jax.random.key(7), (2, 4, 4), 0, 5)
  want = torch.nn.functional.cross_entropy(
      torch.from_numpy(np.array(logits)).permute(0, 3, 1, 2),
      torch.from_numpy(np.array(labels)).long())
  np.testing.assert_allclose(heads.cross_entropy(logits, labels),
                             want.item(), rtol=1e-5)


@pytest.mark.parametrize('make', [
    lambda: heads.ConvHead(4, 'XS', out_res=RES),
    lambda: heads.LinHead(4, out_res=RES),
])
def test_projected_input_equals_embedding_input(make):
  keys = jax.random.split(jax.random.key(8), len(SHAPES) + 1)
  maps = [jax.random.normal(k, (2, r, r, c)) for k, (r, c) in zip(keys, SHAPES)]
  proj = jax.random.normal(keys[-1], (sum(c for _, c in SHAPES), 6))
  embedding = feat_lib.naive_embed_maps(maps, proj, RES)
  head = make()
  variables = head.init(jax.random.key(9), embedding)
  folded = head.apply(variables, heads.ProjectedMaps(maps, proj))
  np.testing.assert_allclose(folded, head.apply(variables, embedding),
                             atol=1e-4)
