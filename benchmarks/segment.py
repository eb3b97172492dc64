"""On-the-fly segmentation speed: ours against the generator and the reference.

  python -m benchmarks.segment [--batch_size=2 --repeats=3]

images/s at 256 config-f (random weights, 8 classes) of (a) the generator
alone, (b) our on-the-fly segmentation (one jitted generator pass; the
linear SwAV projection folded into the XXS head's conv), (c) a re-creation
of the reference inference path (a second generator pass, the 5376-channel
concat, the projection, the head), (d) the DatasetGAN ensemble (10 MLPs,
lean first layer); one process, same batch.
"""

from __future__ import annotations

import statistics

from benchmarks import common
from benchmarks.common import time_calls
from stylegan_seg_jax.commands import bootstrap


def segment_benchmark(resolution: int, cm: int, batch: int, repeats: int,
                      seed: int = 0) -> list[dict[str, object]]:
  """images/s of the generator alone and of three segmentation paths."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from configs import common as configs_common  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import stylegan2  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.eval import segmentation  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.method import features as feat_lib  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.method import segmenters  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import swav as swav_stage  # pylint: disable=g-import-not-at-top

  num_classes = 8
  config = configs_common.base_config()
  gen = common.random_generator(resolution, cm, seed)
  gcfg = gen.config
  ws = gen.mapping(jax.random.normal(jax.random.key(1), (batch, gcfg.z_dim)),
                   psi=0.7)
  swav_model = swav_stage.SwAVModel(config, gcfg)
  swav_state = swav_stage.init_state(swav_model, swav_stage.make_optimizer(
      config), jax.random.key(2))
  frozen_ours = {'params': swav_state.params['head'], 'batch_stats': {}}
  module = gen.module
  synth = jax.jit(lambda v, ws: module.apply(
      v, ws, 'const', method=stylegan2.StyleGAN2.synthesis)[:2])
  image_only = jax.jit(lambda v, ws: module.apply(
      v, ws, 'const', method=stylegan2.StyleGAN2.synthesis)[0])

  rows = []

  def record(name, fn):
    seconds = statistics.median(time_calls(fn, repeats))
    rows.append(dict(name=name, seconds=seconds,
                     images_per_s=batch / seconds))

  record('(a) generator alone (image + activations, one pass)',
         lambda: jax.block_until_ready(image_only(gen.variables, ws)))

  def on_the_fly(name, frozen, label):
    seg = segmenters.build(name, config, gcfg, num_classes, swav_model)
    _, feats = synth(gen.variables, ws[:1])
    variables = seg.init(jax.random.key(3), seg.make_input(frozen, feats))
    fn = segmentation.make_segment_fn(gen, seg)
    record(label, lambda: jax.block_until_ready(
        fn(gen.variables, variables, frozen, ws)))
    return seg, variables

  seg, variables = on_the_fly(
      'ours', frozen_ours, '(b) ours on the fly: one pass, P folded into '
      'the XXS head')

  # (c) The reference inference path: a generator pass for the image, a
  # second pass for the features, the 5376-channel concat, the projection,
  # then the head on the 512-channel embedding.
  @jax.jit
  def concat_project_head(feats, kernel, variables):
    h = feat_lib.concat_maps([feats[i] for i in swav_model.layers],
                             resolution)
    logits = seg.head.apply(variables, h @ kernel)
    return jnp.argmax(logits, -1)

  def reference():
    image = image_only(gen.variables, ws)
    _, feats = synth(gen.variables, ws)
    labels = concat_project_head(feats, frozen_ours['params']['kernel'],
                                 variables)
    return jax.block_until_ready((image, labels))

  record(f'(c) reference path: 2 passes, {sum(swav_model.channels)}-ch '
         'concat, projection, XXS head', reference)
  on_the_fly('datasetgan_ensemble', {},
             f'(d) DatasetGAN ensemble of {config.baselines.datasetgan_members}'
             ' MLPs, majority vote + JS')
  return rows


def format_segment(rows: list[dict[str, object]]) -> str:
  """Markdown table of `segment_benchmark` rows with the target ratios."""
  lines = ['| path | s per batch (median) | images/s |', '|---|---|---|']
  for r in rows:
    lines.append(f"| {r['name']} | {r['seconds']:.3f} | "
                 f"{r['images_per_s']:.2f} |")
  a, b, c, _ = rows
  lines += ['', f"overhead of (b) over (a): "
            f"{100 * (b['seconds'] / a['seconds'] - 1):.1f}%; (b) is "
            f"{c['seconds'] / b['seconds']:.2f}x faster than (c)"]
  return '\n'.join(lines)


def main(argv: list[str]) -> None:
  del argv
  print(f'{common.setup_line()}; 8 classes, SwAV D 512; '
        f'{common.REPEATS.value} timed repeats after a warm-up call',
        flush=True)
  print(format_segment(segment_benchmark(
      common.RESOLUTION.value, common.CHANNEL_MULTIPLIER.value,
      common.BATCH_SIZE.value, common.REPEATS.value)))


if __name__ == '__main__':
  bootstrap.run(main, name='benchmarks.segment')
