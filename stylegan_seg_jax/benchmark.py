"""Throughput benchmarks, one process, printed as markdown tables.

  python -m stylegan_seg_jax.benchmark generator [--batch=4 --repeats=5]

  python -m stylegan_seg_jax.benchmark parity [--batch=2]

`generator`: images/s of the jitted Flax generator (z -> image + every conv
activation) against the NVIDIA and rosinality PyTorch references on the same
machine, at 256 config-f with random weights.

`parity`: writes random 256 config-f checkpoints with the reference code
(rosinality `.pt`, NVIDIA `.pkl`, and a TF-format `.pkl` built from the NVIDIA
weights), converts them, and prints the largest differences of the image and
of every conv activation (psi 0.7, const noise, W+ with distinct rows).

Both need the test requirements (torch, draggan).

  python -m stylegan_seg_jax.benchmark swav [--repeats=2]

  python -m stylegan_seg_jax.benchmark segment [--batch=2 --repeats=3]

`segment`: images/s at 256 config-f (random weights, 8 classes) of (a) the
generator alone, (b) our on-the-fly segmentation (one jitted generator pass;
the linear SwAV projection folded into the XXS head's conv), (c) a
re-creation of the reference inference path (a second generator pass, the
5376-channel concat, the projection, the head), (d) the DatasetGAN ensemble
(10 MLPs, lean first layer); one process, same batch.

  python -m stylegan_seg_jax.benchmark pipeline [--resolution=256 --batch=16
      --swav_steps=10 --oneshot_steps=200 --num_samples=256]

`pipeline`: wall time of each stage of the main job (SwAV with the
reference settings, the one-shot head, dataset generation) through the real
entry points, on a random config-f generator saved as `convert_weights.py`
leaves it and a synthetic labelled example.

`swav`: one SwAV training step at 256 config-f (random weights, 13 layers =
5376 channels, K = 5000, 5 x 20000 pixels, one image as in the reference,
1 device) with the lean per-layer
embedding against the reference's upsample-concat-project embedding: step
time, and XLA's buffer assignment of the compiled step (temporaries and
total), which is the step's peak device memory.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from collections.abc import Callable

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_integer('batch', 4, 'Images per forward pass.')
flags.DEFINE_integer('repeats', 5, 'Timed repeats after one warm-up call.')
flags.DEFINE_integer('resolution', 256, 'Generator resolution.')
flags.DEFINE_integer('swav_steps', 10, 'pipeline: SwAV steps.')
flags.DEFINE_integer('oneshot_steps', 200, 'pipeline: one-shot steps.')
flags.DEFINE_integer('num_samples', 256, 'pipeline: generated samples.')
flags.DEFINE_integer('channel_multiplier', 2, 'rosinality channel multiplier '
                     '(2 = config-f; NVIDIA channel_base = 16384 * cm).')
flags.DEFINE_list('references', ['nvidia', 'rosinality'],
                  'PyTorch references to time (nvidia, rosinality).')


@dataclasses.dataclass
class Timing:
  """Seconds per call of one implementation."""

  name: str
  seconds: list[float]
  batch: int

  @property
  def median(self) -> float:
    return statistics.median(self.seconds)

  @property
  def images_per_s(self) -> float:
    return self.batch / self.median


def time_calls(fn: Callable[[], object], repeats: int) -> list[float]:
  """Calls `fn` once to warm up, then `repeats` timed times."""
  fn()
  out = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    out.append(time.perf_counter() - t0)
  return out


def _flax_generator(resolution: int, cm: int, batch: int, repeats: int,
                    seed: int) -> Timing:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import generator as gen_lib  # pylint: disable=g-import-not-at-top

  config = gen_lib.GeneratorConfig(
      resolution=resolution,
      channels=tuple(gen_lib.rosinality_channels(resolution, cm).items()))
  gen = gen_lib.init(config, jax.random.key(seed))
  z = np.random.default_rng(seed).standard_normal((batch, config.z_dim))
  z = jax.numpy.asarray(z, jax.numpy.float32)

  def run():
    img, feats = gen(z)
    jax.block_until_ready((img, feats))

  return Timing('stylegan_seg_jax (Flax, jit)', time_calls(run, repeats),
                batch)


def _torch_reference(which: str, resolution: int, cm: int, batch: int,
                     repeats: int, seed: int) -> Timing:
  import torch  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import torch_references  # pylint: disable=g-import-not-at-top

  torch.manual_seed(seed)
  z = torch.randn(batch, 512)
  if which == 'nvidia':
    net = torch_references.nvidia_networks()
    g = net.Generator(
        z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution,
        img_channels=3, mapping_kwargs=dict(num_layers=8),
        synthesis_kwargs=dict(channel_base=16384 * cm, channel_max=512,
                              num_fp16_res=0, conv_clamp=None)).eval()
    outs, _ = torch_references.feature_hooks(g, net.SynthesisLayer)

    def forward():
      ws = g.mapping(z, None)
      return g.synthesis(ws, noise_mode='const')
    name = 'NVIDIA stylegan3 networks_stylegan2 (PyTorch)'
  else:
    model = torch_references.rosinality_model()
    g = model.Generator(resolution, 512, 8, channel_multiplier=cm).eval()
    outs, _ = torch_references.feature_hooks(g, model.StyledConv)

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


def parity_report(resolution: int, cm: int, batch: int, psi: float = 0.7,
                  seed: int = 0) -> list[dict[str, object]]:
  """Max |Flax - reference| of the image and features for each format."""
  import pathlib  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import convert  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import generator as gen_lib  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import torch_references as refs  # pylint: disable=g-import-not-at-top

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
    compare(name, gen_lib.load(tmp / fmt), img_ref, feats_ref, ws)
  del g
  g = refs.rosinality_generator(size=resolution, style_dim=512, n_mlp=8,
                                channel_multiplier=cm, seed=seed)
  latent_avg = torch.randn(512) * 0.3
  refs.write_rosinality_pt(tmp / 'rosinality.pt', g, latent_avg)
  convert.convert_file(tmp / 'rosinality.pt', tmp / 'rosinality')
  gen = gen_lib.load(tmp / 'rosinality')
  ws = np.repeat(np.asarray(gen.mapping(z, psi=psi))[:, None], gen.config.num_ws,
                 axis=1)
  ws[:, 5] = ws[::-1, 5]
  img_ref, feats_ref = refs.rosinality_outputs(g, ws)
  compare('rosinality model.py (.pt)', gen, img_ref, feats_ref, ws)
  return rows


def format_parity(rows: list[dict[str, object]]) -> str:
  """Markdown table of `parity_report` rows."""
  lines = ['| reference | image max abs diff (image absmax) | all conv features: '
           'max abs diff, worst layer | max diff / layer absmax |',
           '|---|---|---|---|']
  for r in rows:
    lines.append(
        f"| {r['reference']} | {r['image']:.2e} ({r['image_absmax']:.2f}) | "
        f"{r['features']:.2e} over {r['num_features']} layers, layer "
        f"{r['worst_layer']} | {r['feature_rel']:.1e} |")
  return '\n'.join(lines)


def swav_benchmark(resolution: int, cm: int, repeats: int,
                   seed: int = 0) -> list[dict[str, object]]:
  """Step time and compiled memory of the lean and the naive SwAV step."""
  import jax  # pylint: disable=g-import-not-at-top
  from configs import common  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import generator as gen_lib  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import parallel  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import swav_stage  # pylint: disable=g-import-not-at-top

  config = common.swav_config()
  config.batch_size = 1
  gcfg = gen_lib.GeneratorConfig(
      resolution=resolution,
      channels=tuple(gen_lib.rosinality_channels(resolution, cm).items()))
  gen = gen_lib.init(gcfg, jax.random.key(seed))
  mesh = parallel.make_mesh(jax.devices()[:1])
  put = lambda t: parallel.replicate(t, mesh)
  gen_vars = put(gen.params)
  rng = put(jax.random.key_data(jax.random.key(seed)))
  rows = []
  for naive in (False, True):
    model = swav_stage.SwAVModel(config, gcfg, naive=naive)
    tx = swav_stage.make_optimizer(config)
    step = swav_stage.make_step(model, gen, config, tx, 1)
    state = put(swav_stage.init_state(model, tx, jax.random.key(seed)))
    run = parallel.shard_step(step, mesh, donate_state=False)
    t0 = time.perf_counter()
    compiled = run.lower(state, gen_vars, rng).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    seconds = time_calls(
        lambda: jax.block_until_ready(compiled(state, gen_vars, rng)), repeats)
    rows.append(dict(
        name=('naive: upsample + concat ' f'{sum(model.channels)} ch + project'
              if naive else 'lean: per-layer projection + gather'),
        seconds=statistics.median(seconds), compile_s=compile_s,
        temp_gib=mem.temp_size_in_bytes / 2**30,
        total_gib=(mem.temp_size_in_bytes + mem.argument_size_in_bytes
                   + mem.output_size_in_bytes - mem.alias_size_in_bytes)
        / 2**30))
  return rows


def format_swav(rows: list[dict[str, object]]) -> str:
  """Markdown table of `swav_benchmark` rows with the lean/naive ratios."""
  lines = ['| embedding | step s (median) | compile s | XLA temporaries GiB '
           '| step total GiB |', '|---|---|---|---|---|']
  for r in rows:
    lines.append(f"| {r['name']} | {r['seconds']:.2f} | {r['compile_s']:.1f} "
                 f"| {r['temp_gib']:.2f} | {r['total_gib']:.2f} |")
  lean, naive = rows
  lines += ['', f"lean / naive: time {lean['seconds'] / naive['seconds']:.2f}, "
            f"memory (total) {lean['total_gib'] / naive['total_gib']:.2f}"]
  return '\n'.join(lines)


def segment_benchmark(resolution: int, cm: int, batch: int, repeats: int,
                      seed: int = 0) -> list[dict[str, object]]:
  """images/s of the generator alone and of three segmentation paths."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from configs import common  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import features as feat_lib  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import generator as gen_lib  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import segmentation  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import segmenters  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import swav_stage  # pylint: disable=g-import-not-at-top

  num_classes = 8
  config = common.add_oneshot(common.swav_config())
  gcfg = gen_lib.GeneratorConfig(
      resolution=resolution,
      channels=tuple(gen_lib.rosinality_channels(resolution, cm).items()))
  gen = gen_lib.init(gcfg, jax.random.key(seed))
  ws = gen.mapping(jax.random.normal(jax.random.key(1), (batch, gcfg.z_dim)),
                   psi=0.7)
  swav_model = swav_stage.SwAVModel(config, gcfg)
  swav_state = swav_stage.init_state(swav_model, swav_stage.make_optimizer(
      config), jax.random.key(2))
  frozen_ours = {'params': swav_state.params['head'], 'batch_stats': {}}
  module = gen.module
  synth = jax.jit(lambda v, ws: module.apply(
      v, ws, 'const', method=gen_lib.StyleGAN2.synthesize)[:2])
  image_only = jax.jit(lambda v, ws: module.apply(
      v, ws, 'const', method=gen_lib.StyleGAN2.synthesize)[0])

  rows = []

  def record(name, fn):
    seconds = statistics.median(time_calls(fn, repeats))
    rows.append(dict(name=name, seconds=seconds,
                     images_per_s=batch / seconds))

  record('(a) generator alone (image + activations, one pass)',
         lambda: jax.block_until_ready(image_only(gen.params, ws)))

  def on_the_fly(name, frozen, label):
    seg = segmenters.build(name, config, gcfg, num_classes, swav_model)
    _, feats = synth(gen.params, ws[:1])
    variables = seg.init(jax.random.key(3), seg.make_input(frozen, feats))
    fn = segmentation.make_segment_fn(gen, seg)
    record(label, lambda: jax.block_until_ready(
        fn(gen.params, variables, frozen, ws)))
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
    image = image_only(gen.params, ws)
    _, feats = synth(gen.params, ws)
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


def pipeline_benchmark(resolution: int, cm: int, swav_steps: int,
                       oneshot_steps: int, num_samples: int, batch: int,
                       seed: int = 0) -> list[dict[str, object]]:
  """Wall time of each stage of the main job on a random generator.

  Runs the real entry points in a scratch directory: `generator.save` (as
  `convert_weights.py` would leave it), the SwAV stage with the reference
  settings, the one-shot stage (ours) on a synthetic labelled example (8
  horizontal bands), and `generate` of `num_samples` samples.
  """
  import json  # pylint: disable=g-import-not-at-top
  import pathlib  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from configs import common  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import generate  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import generator as gen_lib  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import labelled_set  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import train  # pylint: disable=g-import-not-at-top

  gcfg = gen_lib.GeneratorConfig(
      resolution=resolution,
      channels=tuple(gen_lib.rosinality_channels(resolution, cm).items()))
  gen = gen_lib.init(gcfg, jax.random.key(seed))
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    gen_lib.save(tmp / 'generator', gcfg, gen.params, {'source': 'random'})
    w = np.asarray(gen.mapping(gen_lib.z_from_seeds([0], gcfg.z_dim)))[0]
    bands = (np.arange(resolution) * 8 // resolution).astype(np.uint8)
    labelled_set.save_example(tmp / 'example.npz', labelled_set.OneShotExample(
        w=w, psi=1.0, mask=np.repeat(bands[:, None], resolution, 1),
        class_names=tuple(f'class{i}' for i in range(8)), seed=0))
    config = common.swav_config()
    common.add_oneshot(config)
    config.update_from_flattened_dict({
        'generator_dir': str(tmp / 'generator'), 'num_steps': swav_steps,
        'checkpoint_every': swav_steps, 'oneshot.methods': ('ours',),
        'oneshot.num_steps': oneshot_steps,
        'data.oneshot': str(tmp / 'example.npz'),
        'generate.batch_size': batch, 'generate.psi': 0.7})
    workdir = str(tmp / 'run')
    for stage, steps in (('swav', swav_steps), ('oneshot', oneshot_steps)):
      config.stage = stage
      t0 = time.perf_counter()
      train.train_and_evaluate(config, workdir)
      seconds = time.perf_counter() - t0
      log = pathlib.Path(workdir) / stage
      if stage == 'oneshot':
        log = log / 'ours'
      lines = [json.loads(l) for l in (log / 'metrics.jsonl').open()]
      # steps_per_s is cumulative since the first step: elapsed = step / sps.
      elapsed = {l['step']: l['step'] / l['steps_per_s'] for l in lines}
      first, last = min(elapsed), max(elapsed)
      step_s = ((elapsed[last] - elapsed[first]) / (last - first)
                if last > first else float('nan'))
      rows.append(dict(stage=f'{stage} ({steps} steps)', seconds=seconds,
                       rate=f'{step_s:.3f} s/step after the first'))
    t0 = time.perf_counter()
    result = generate.generate(config, workdir, tmp / 'dataset', num_samples,
                               show_progress=False)
    rows.append(dict(stage=f'generate ({num_samples} samples, batch {batch})',
                     seconds=time.perf_counter() - t0,
                     rate=f'{result.images_per_s:.1f} images/s after the '
                     'first batch'))
  return rows


def format_pipeline(rows: list[dict[str, object]]) -> str:
  """Markdown table of `pipeline_benchmark` rows."""
  lines = ['| stage | wall s (incl. compile) | steady rate |', '|---|---|---|']
  lines += [f"| {r['stage']} | {r['seconds']:.1f} | {r['rate']} |"
            for r in rows]
  return '\n'.join(lines)


def main(argv: list[str]) -> None:
  logging.set_verbosity(logging.WARNING)
  commands = {'generator', 'parity', 'swav', 'segment', 'pipeline'}
  if len(argv) != 2 or argv[1] not in commands:
    print(f'usage: python -m stylegan_seg_jax.benchmark '
          f'{{{",".join(sorted(commands))}}} [--flags]', file=sys.stderr)
    sys.exit(2)
  import jax  # pylint: disable=g-import-not-at-top
  setup = (f'device: {jax.devices()[0].device_kind}, {jax.device_count()} '
           f'device(s); {FLAGS.resolution}x{FLAGS.resolution}, channel '
           f'multiplier {FLAGS.channel_multiplier}, 8-layer mapping, w_dim '
           f'512, random weights; batch {FLAGS.batch}')
  if argv[1] == 'swav':
    print(f'{setup.split("; batch")[0]}; 1 image, K 5000, 5 x 20000 pixels, '
          f'1 device; {FLAGS.repeats} timed steps after a warm-up step',
          flush=True)
    print(format_swav(swav_benchmark(FLAGS.resolution,
                                     FLAGS.channel_multiplier, FLAGS.repeats)))
    return
  if argv[1] == 'segment':
    print(f'{setup}; 8 classes, SwAV D 512; {FLAGS.repeats} timed repeats '
          'after a warm-up call', flush=True)
    print(format_segment(segment_benchmark(
        FLAGS.resolution, FLAGS.channel_multiplier, FLAGS.batch,
        FLAGS.repeats)))
    return
  if argv[1] == 'pipeline':
    print(f'{setup.split("; batch")[0]}; reference SwAV settings (K 5000, '
          f'5 x 20000 pixels, 1 image per step); generate batch '
          f'{FLAGS.batch}', flush=True)
    print(format_pipeline(pipeline_benchmark(
        FLAGS.resolution, FLAGS.channel_multiplier, FLAGS.swav_steps,
        FLAGS.oneshot_steps, FLAGS.num_samples, FLAGS.batch)))
    return
  if argv[1] == 'parity':
    print(f'{setup}; psi 0.7, const noise, float32', flush=True)
    print(format_parity(parity_report(FLAGS.resolution,
                                      FLAGS.channel_multiplier, FLAGS.batch)))
    return
  print(f'{setup}; {FLAGS.repeats} timed repeats after a warm-up call',
        flush=True)
  timings = generator_benchmark(FLAGS.resolution, FLAGS.channel_multiplier,
                                FLAGS.batch, FLAGS.repeats, FLAGS.references)
  print(format_table(timings))


if __name__ == '__main__':
  app.run(main)
