"""PyTorch reference generators and checkpoint writers (tests, benchmarks only).

draggan==1.1.6 (installed with --no-deps from requirements-test.txt) ships
NVIDIA's `networks_stylegan2.py` (with `torch_utils`, `dnnlib`) and a copy of
rosinality's `model.py` with a CPU fallback. This module locates them without
importing `draggan` itself; torch is imported lazily. The package never
imports this module. Tests use the references to write real checkpoint
files and to compute reference outputs; the benchmark times them.

rosinality `.pt` and NVIDIA `.pkl` files are written by the reference code
itself (`torch.save` of a rosinality state dict, `pickle.dump` of NVIDIA
persistent modules). TF pickles cannot be produced by TF 1.x on Python 3.11,
so they are synthesised with the TF variable names and layouts
(docs/formats.md), from an NVIDIA generator by the inverse of
the official TF -> PyTorch mapping (flip the up-conv kernel, subtract 1 from
the affine biases).

Importing NVIDIA's code puts the top-level names `training`, `torch_utils`,
`dnnlib` and `legacy` on sys.path; converter tests therefore read the files
they write in a subprocess where those names cannot be imported.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import os
import pathlib
import pickle
import sys
import tempfile
import types

import numpy as np


def _draggan_dir() -> pathlib.Path:
  spec = importlib.util.find_spec('draggan')
  if spec is None or spec.origin is None:
    raise ImportError(
        'draggan==1.1.6 is not installed (bash launch/setup_env.sh --test)')
  return pathlib.Path(spec.origin).parent


def nvidia_networks() -> types.ModuleType:
  """NVIDIA's `training.networks` (stylegan3's networks_stylegan2)."""
  path = str(_draggan_dir() / 'stylegan2')
  if path not in sys.path:
    sys.path.insert(0, path)
  return importlib.import_module('training.networks')


def rosinality_model() -> types.ModuleType:
  """rosinality's `model.py` (native CPU ops)."""
  os.environ.setdefault('TORCH_EXTENSIONS_DIR',
                        tempfile.mkdtemp(prefix='torch_ext_'))
  path = str(_draggan_dir() / 'deprecated')
  if path not in sys.path:
    sys.path.insert(0, path)
  import warnings
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    return importlib.import_module('stylegan2.model')


def randomize_(module, seed: int, scale: float = 0.2) -> None:
  """Gives every zero-initialised bias and noise strength a random value.

  A fresh generator has zero biases and noise strengths, which would hide
  mapping mistakes for those tensors; parity tests call this first.
  """
  import torch
  gen = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for name, p in module.named_parameters():
      if name.endswith('noise_strength') or name.endswith('noise.weight'):
        p.copy_(torch.randn(p.shape, generator=gen) * scale)
      elif name.endswith('bias') or name.endswith('.activate.bias'):
        p.add_(torch.randn(p.shape, generator=gen) * scale)


def feature_hooks(module, layer_type) -> tuple[list, list]:
  """Registers forward hooks on every `layer_type` submodule, in order.

  Returns:
    (outputs, handles): `outputs` is filled with each hooked layer's output
    (NCHW numpy) on every forward pass, in registration order.
  """
  outputs, handles = [], []
  for _, sub in module.named_modules():
    if isinstance(sub, layer_type):
      handles.append(sub.register_forward_hook(
          lambda m, i, o: outputs.append(o.detach().numpy().copy())))
  return outputs, handles


def to_nhwc(x) -> np.ndarray:
  return np.transpose(np.asarray(x), (0, 2, 3, 1))


def nvidia_generator(resolution=32, z_dim=32, w_dim=32, map_layers=2,
                     channel_base=1024, channel_max=64, conv_clamp=None,
                     seed=0):
  """A random NVIDIA generator with non-zero biases, noise and w_avg."""
  import torch
  net = nvidia_networks()
  torch.manual_seed(seed)
  g = net.Generator(
      z_dim=z_dim, c_dim=0, w_dim=w_dim, img_resolution=resolution,
      img_channels=3, mapping_kwargs=dict(num_layers=map_layers),
      synthesis_kwargs=dict(channel_base=channel_base, channel_max=channel_max,
                            num_fp16_res=0, conv_clamp=conv_clamp)).eval()
  randomize_(g, seed + 1)
  with torch.no_grad():
    g.mapping.w_avg.copy_(torch.randn(w_dim) * 0.5)
  return g


def perturbed_copy(module, seed: int = 123, scale: float = 0.1):
  """A deep copy of a network with every parameter moved by noise.

  The checkpoint writers store it as the non-EMA generator (`G`, `g`, TF
  `G`), so that a converter reading the wrong network fails the parity
  tests.
  """
  import torch
  other = copy.deepcopy(module)
  gen = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for p in other.parameters():
      p.add_(torch.randn(p.shape, generator=gen) * scale)
  return other


def write_nvidia_pkl(path, g) -> None:
  """A training-style NVIDIA pickle: dict(G, D, G_ema=g, ...); G differs."""
  with open(path, 'wb') as f:
    pickle.dump(dict(G=perturbed_copy(g), D=None, G_ema=g, augment_pipe=None,
                     training_set_kwargs=None), f)


def nvidia_outputs(g, ws: np.ndarray):
  """(image, all 2L-3 conv activations, per-block images) in NHWC."""
  import torch
  net = nvidia_networks()
  feats, handles = feature_hooks(g, net.SynthesisLayer)
  block_imgs, block_handles = [], []
  for name, sub in g.synthesis.named_children():
    if name.startswith('b'):
      block_handles.append(sub.register_forward_hook(
          lambda m, i, o: block_imgs.append(o[1].detach().numpy().copy())))
  try:
    with torch.no_grad():
      img = g.synthesis(torch.from_numpy(ws), noise_mode='const')
  finally:
    for h in handles + block_handles:
      h.remove()
  nhwc = to_nhwc
  return (nhwc(img.numpy()), [nhwc(f) for f in feats],
          [nhwc(b) for b in block_imgs])


def nvidia_mapping(g, z: np.ndarray, psi: float,
                   cutoff: int | None = None) -> np.ndarray:
  """NVIDIA's W+ for z at truncation psi (optionally with a cutoff)."""
  import torch
  with torch.no_grad():
    return g.mapping(torch.from_numpy(z), None, truncation_psi=psi,
                     truncation_cutoff=cutoff).numpy()


def rosinality_generator(size=32, style_dim=64, n_mlp=2, channel_multiplier=1,
                         seed=0):
  """A random rosinality generator with non-zero biases and noise weights."""
  import torch
  model = rosinality_model()
  torch.manual_seed(seed)
  g = model.Generator(size, style_dim, n_mlp,
                      channel_multiplier=channel_multiplier).eval()
  randomize_(g, seed + 1)
  return g


def write_rosinality_pt(path, g, latent_avg=None, training=False) -> None:
  """convert_weight.py-style ({g_ema, latent_avg}) or train.py-style file."""
  import torch
  ckpt = {'g_ema': g.state_dict()}
  if latent_avg is not None:
    ckpt['latent_avg'] = latent_avg
  if training:
    ckpt['g'] = perturbed_copy(g).state_dict()
    ckpt['args'] = argparse.Namespace(size=g.size, n_mlp=len(g.style) - 1)
  torch.save(ckpt, path)


def rosinality_outputs(g, ws_plus: np.ndarray):
  """(image, all conv activations) in NHWC for W+ input, const noise."""
  import torch
  model = rosinality_model()
  feats, handles = feature_hooks(g, model.StyledConv)
  try:
    with torch.no_grad():
      img, _ = g([torch.from_numpy(ws_plus)], input_is_latent=True,
                 randomize_noise=False)
  finally:
    for h in handles:
      h.remove()
  nhwc = to_nhwc
  return nhwc(img.numpy()), [nhwc(f) for f in feats]


class _TFNetworkPickle:
  """Pickles as `dnnlib.tflib.network.Network` with a TF-style state."""

  def __init__(self, state):
    self._state = state

  def __getstate__(self):
    return self._state


def _tf_network(name, variables, components=None, static_kwargs=None):
  return _TFNetworkPickle(dict(
      version=4, name=name, static_kwargs=static_kwargs or {},
      components=components or {}, build_module_src='# not executed',
      build_func_name='G_main', variables=list(variables)))


def tf_variables_from_nvidia(g):
  """TF `Gs` variables (component-key names) equivalent to NVIDIA `g`."""
  sd = {k: v.detach().numpy().astype(np.float32)
        for k, v in g.state_dict().items()}
  mapping = []
  i = 0
  while f'mapping.fc{i}.weight' in sd:
    mapping.append((f'Dense{i}/weight', sd[f'mapping.fc{i}.weight'].T.copy()))
    mapping.append((f'Dense{i}/bias', sd[f'mapping.fc{i}.bias']))
    i += 1
  synthesis = [('lod', np.float32(0))]
  res_list = sorted(int(k.split('.')[1][1:]) for k in sd
                    if k.endswith('.torgb.bias'))
  noise = 0
  for res in res_list:
    blk = f'synthesis.b{res}'
    tf_blk = f'{res}x{res}'
    layers = [('conv1', 'Conv')] if res == 4 else [('conv0', 'Conv0_up'),
                                                   ('conv1', 'Conv1')]
    if res == 4:
      synthesis.append(('4x4/Const/const', sd[f'{blk}.const'][None]))
    for layer, tf_layer in layers:
      w = sd[f'{blk}.{layer}.weight']  # OIHW
      if layer == 'conv0':
        w = w[:, :, ::-1, ::-1]
      synthesis += [
          (f'{tf_blk}/{tf_layer}/weight', np.transpose(w, (2, 3, 1, 0)).copy()),
          (f'{tf_blk}/{tf_layer}/mod_weight',
           sd[f'{blk}.{layer}.affine.weight'].T.copy()),
          (f'{tf_blk}/{tf_layer}/mod_bias',
           sd[f'{blk}.{layer}.affine.bias'] - 1.0),
          (f'{tf_blk}/{tf_layer}/noise_strength',
           np.float32(sd[f'{blk}.{layer}.noise_strength'])),
          (f'{tf_blk}/{tf_layer}/bias', sd[f'{blk}.{layer}.bias']),
      ]
      synthesis.append((f'noise{noise}',
                        sd[f'{blk}.{layer}.noise_const'][None, None]))
      noise += 1
    synthesis += [
        (f'{tf_blk}/ToRGB/weight',
         np.transpose(sd[f'{blk}.torgb.weight'], (2, 3, 1, 0)).copy()),
        (f'{tf_blk}/ToRGB/mod_weight',
         sd[f'{blk}.torgb.affine.weight'].T.copy()),
        (f'{tf_blk}/ToRGB/mod_bias', sd[f'{blk}.torgb.affine.bias'] - 1.0),
        (f'{tf_blk}/ToRGB/bias', sd[f'{blk}.torgb.bias']),
    ]
  return mapping, synthesis, sd['mapping.w_avg']


def _tf_generator(name, g, with_avg):
  mapping, synthesis, w_avg = tf_variables_from_nvidia(g)
  kwargs = dict(
      resolution=g.img_resolution, mapping_layers=len(mapping) // 2,
      mapping_lrmul=0.01, architecture='skip', latent_size=g.z_dim,
      dlatent_size=g.w_dim,
      fmap_base=g.init_kwargs['synthesis_kwargs']['channel_base'] // 2,
      fmap_max=g.init_kwargs['synthesis_kwargs']['channel_max'])
  return _tf_network(
      name, [('dlatent_avg', w_avg)] if with_avg else [],
      components={'mapping': _tf_network('G_mapping', mapping),
                  'synthesis': _tf_network('G_synthesis', synthesis)},
      static_kwargs=kwargs)


def write_tf_pkl(path, g, *, with_avg=True) -> None:
  """Writes a TF-format (G, D, Gs) pickle: Gs equivalent to NVIDIA `g`, G a
  perturbed copy."""
  gs = _tf_generator('Gs', g, with_avg)
  g_train = _tf_generator('G', perturbed_copy(g), with_avg)
  d = _tf_network('D', [('dummy/weight', np.zeros((1,), np.float32))])
  # Register the TF class name only while pickling.
  names = ['dnnlib.tflib.network']
  saved = {n: sys.modules.get(n) for n in names}
  mod = types.ModuleType('dnnlib.tflib.network')
  mod.Network = _TFNetworkPickle
  _TFNetworkPickle.__module__ = 'dnnlib.tflib.network'
  _TFNetworkPickle.__qualname__ = 'Network'
  sys.modules['dnnlib.tflib.network'] = mod
  try:
    with open(path, 'wb') as f:
      pickle.dump((g_train, d, gs), f, protocol=pickle.HIGHEST_PROTOCOL)
  finally:
    _TFNetworkPickle.__module__ = __name__
    _TFNetworkPickle.__qualname__ = '_TFNetworkPickle'
    for n, m in saved.items():
      if m is None:
        sys.modules.pop(n, None)
      else:
        sys.modules[n] = m


def nvidia_tf_loader(path):
  """The PyTorch generator NVIDIA's own code makes of a TF pickle's `Gs`.

  `legacy.convert_tf_generator` (stylegan2-ada-pytorch, bundled in draggan)
  is an independent TF -> PyTorch mapping: the TF-format fixtures are
  checked against it rather than against this package's converter.
  """
  nvidia_networks()  # puts NVIDIA's code on sys.path
  legacy = importlib.import_module('legacy')
  with open(path, 'rb') as f:
    _, _, gs = legacy._LegacyUnpickler(f).load()  # pylint: disable=protected-access
  return legacy.convert_tf_generator(gs)
