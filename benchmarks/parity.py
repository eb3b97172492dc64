"""Parity of converted checkpoints with the PyTorch originals.

  python -m benchmarks.parity [--batch_size=2]

Writes random 256 config-f checkpoints with the reference code (rosinality
`.pt`, NVIDIA `.pkl`, and a TF-format `.pkl` built from the NVIDIA weights),
converts them, and prints the largest differences of the image and of every
conv activation (psi 0.7, const noise, W+ with distinct rows). Needs the
test requirements (torch, draggan).
"""

from __future__ import annotations

from benchmarks import common
from stylegan_seg_jax.commands import bootstrap


def parity_report(resolution: int, cm: int, batch: int, psi: float = 0.7,
                  seed: int = 0) -> list[dict[str, object]]:
  """Max |Flax - reference| of the image and features for each format."""
  import pathlib  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top

  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top

  from stylegan_seg_jax import convert  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import stylegan2  # pylint: disable=g-import-not-at-top
  from tests.references import torch_models as refs  # pylint: disable=g-import-not-at-top

  rows = []
  tmp = pathlib.Path(tempfile.mkdtemp(prefix='parity_'))
  z = np.random.default_rng(seed).standard_normal((batch, 512)).astype(
      np.float32)

  def compare(name, gen, img_ref, feats_ref, ws):
    img, feats = gen.synthesis(ws)
    errs = [float(np.abs(np.asarray(a) - b).max())
            for a, b in zip(feats, feats_ref)]
    rel = [e / float(np.abs(b).max()) for e, b in zip(errs, feats_ref)]
    worst = int(np.argmax(errs))
    rows.append(dict(
        reference=name, image=float(np.abs(np.asarray(img) - img_ref).max()),
        image_absmax=float(np.abs(img_ref).max()), features=max(errs),
        worst_layer=f'{worst} ({feats_ref[worst].shape[1]}px)',
        feature_rel=max(rel), num_features=len(feats)))

  g = refs.nvidia_generator(resolution=resolution, z_dim=512, w_dim=512,
                            map_layers=8, channel_base=16384 * cm,
                            channel_max=512, conv_clamp=None, seed=seed)
  ws = refs.nvidia_mapping(g, z, psi)
  ws[:, 5] = ws[::-1, 5]  # distinct W+ rows
  img_ref, feats_ref, _ = refs.nvidia_outputs(g, ws)
  refs.write_nvidia_pkl(tmp / 'nvidia.pkl', g)
  refs.write_tf_pkl(tmp / 'tf.pkl', g)
  for fmt in ('nvidia', 'tf'):
    convert.convert_file(tmp / f'{fmt}.pkl', tmp / fmt)
    name = ('NVIDIA networks_stylegan2 (.pkl)' if fmt == 'nvidia' else
            'TF-format .pkl vs NVIDIA')
    compare(name, stylegan2.load(tmp / fmt), img_ref, feats_ref, ws)
  del g
  g = refs.rosinality_generator(size=resolution, style_dim=512, n_mlp=8,
                                channel_multiplier=cm, seed=seed)
  latent_avg = torch.randn(512) * 0.3
  refs.write_rosinality_pt(tmp / 'rosinality.pt', g, latent_avg)
  convert.convert_file(tmp / 'rosinality.pt', tmp / 'rosinality')
  gen = stylegan2.load(tmp / 'rosinality')
  ws = np.repeat(np.asarray(gen.mapping(z, psi=psi))[:, None],
                 gen.config.num_ws,
                 axis=1)
  ws[:, 5] = ws[::-1, 5]
  img_ref, feats_ref = refs.rosinality_outputs(g, ws)
  compare('rosinality model.py (.pt)', gen, img_ref, feats_ref, ws)
  return rows


def format_parity(rows: list[dict[str, object]]) -> str:
  """Markdown table of `parity_report` rows."""
  lines = ['| reference | image max abs diff (image absmax) | all conv '
           'features: '
           'max abs diff, worst layer | max diff / layer absmax |',
           '|---|---|---|---|']
  for r in rows:
    lines.append(
        f"| {r['reference']} | {r['image']:.2e} ({r['image_absmax']:.2f}) | "
        f"{r['features']:.2e} over {r['num_features']} layers, layer "
        f"{r['worst_layer']} | {r['feature_rel']:.1e} |")
  return '\n'.join(lines)


def main(argv: list[str]) -> None:
  del argv
  print(f'{common.setup_line()}; psi 0.7, const noise, float32', flush=True)
  print(format_parity(parity_report(common.RESOLUTION.value,
                                    common.CHANNEL_MULTIPLIER.value,
                                    common.BATCH_SIZE.value)))


if __name__ == '__main__':
  bootstrap.run(main, name='benchmarks.parity')
