"""Generator throughput: the Flax generator against the PyTorch originals.

  python -m benchmarks.generator [--batch_size=4 --repeats=5]

images/s of the jitted Flax generator (z -> image + every conv activation)
against the NVIDIA and rosinality PyTorch generators (forward hooks collect
every conv output) on the same machine, 256 config-f, random weights. Needs
the test requirements (torch, draggan).
"""

from __future__ import annotations

import sys

from absl import flags

from benchmarks import common
from benchmarks.common import Timing
from benchmarks.common import time_calls
from stylegan_seg_jax.commands import bootstrap


def _flax_generator(resolution: int, cm: int, batch: int, repeats: int,
                    seed: int) -> Timing:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  gen = common.random_generator(resolution, cm, seed)
  z = np.random.default_rng(seed).standard_normal((batch, gen.config.z_dim))
  z = jax.numpy.asarray(z, jax.numpy.float32)

  def run():
    img, feats = gen(z)
    jax.block_until_ready((img, feats))

  return Timing('stylegan_seg_jax (Flax, jit)', time_calls(run, repeats),
                batch)


def _torch_reference(which: str, resolution: int, cm: int, batch: int,
                     repeats: int, seed: int) -> Timing:
  import torch  # pylint: disable=g-import-not-at-top

  from tests.references import torch_models  # pylint: disable=g-import-not-at-top

  torch.manual_seed(seed)
  z = torch.randn(batch, 512)
  if which == 'nvidia':
    net = torch_models.nvidia_networks()
    g = net.Generator(
        z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution,
        img_channels=3, mapping_kwargs=dict(num_layers=8),
        synthesis_kwargs=dict(channel_base=16384 * cm, channel_max=512,
                              num_fp16_res=0, conv_clamp=None)).eval()
    outs, _ = torch_models.feature_hooks(g, net.SynthesisLayer)

    def forward():
      ws = g.mapping(z, None)
      return g.synthesis(ws, noise_mode='const')
    name = 'NVIDIA stylegan3 networks_stylegan2 (PyTorch)'
  else:
    model = torch_models.rosinality_model()
    g = model.Generator(resolution, 512, 8, channel_multiplier=cm).eval()
    outs, _ = torch_models.feature_hooks(g, model.StyledConv)

    def forward():
      return g([z], randomize_noise=False)
    name = 'rosinality model.py (PyTorch)'

  def run():
    outs.clear()
    with torch.no_grad():
      forward()

  return Timing(name, time_calls(run, repeats), batch)


def generator_benchmark(resolution: int, cm: int, batch: int, repeats: int,
                        references: list[str], seed: int = 0) -> list[Timing]:
  """Times the Flax generator and the requested PyTorch references."""
  timings = [_flax_generator(resolution, cm, batch, repeats, seed)]
  for which in references:
    if which not in ('nvidia', 'rosinality'):
      raise ValueError(f'unknown reference {which!r}')
    try:
      timings.append(_torch_reference(which, resolution, cm, batch, repeats,
                                      seed))
    except ImportError as e:
      print(f'skipping {which}: {e}', file=sys.stderr)
  return timings


def format_table(timings: list[Timing]) -> str:
  """Markdown table of images/s with the ratio to the fastest reference."""
  ours = timings[0]
  refs = timings[1:]
  best = max(refs, key=lambda t: t.images_per_s) if refs else None
  lines = ['| implementation | s / batch (median) | min .. max | images/s |',
           '|---|---|---|---|']
  for t in timings:
    lines.append(f'| {t.name} | {t.median:.3f} | {min(t.seconds):.3f} .. '
                 f'{max(t.seconds):.3f} | {t.images_per_s:.2f} |')
  if best is not None:
    lines.append('')
    lines.append(f'ratio (ours / fastest reference, {best.name}): '
                 f'{ours.images_per_s / best.images_per_s:.2f}')
  return '\n'.join(lines)


_REFERENCES = flags.DEFINE_list(
    'references', ['nvidia', 'rosinality'],
    'PyTorch references to time (nvidia, rosinality).')


def main(argv: list[str]) -> None:
  del argv
  print(f'{common.setup_line()}; {common.REPEATS.value} timed repeats after '
        'a warm-up call', flush=True)
  print(format_table(generator_benchmark(
      common.RESOLUTION.value, common.CHANNEL_MULTIPLIER.value,
      common.BATCH_SIZE.value, common.REPEATS.value, _REFERENCES.value)))


if __name__ == '__main__':
  bootstrap.run(main, name='benchmarks.generator')
