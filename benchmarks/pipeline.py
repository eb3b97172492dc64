"""Wall time of every stage of the main job, through the real entry points.

  python -m benchmarks.pipeline [--model_resolution=256 --batch_size=16
      --swav_steps=10 --oneshot_steps=200 --num_samples=256]

On a random config-f generator saved as `convert_weights.py` leaves it and
a synthetic labelled example: the SwAV stage with the reference settings,
the one-shot head (ours), and dataset generation.
"""

from __future__ import annotations

import time

from absl import flags

from benchmarks import common
from stylegan_seg_jax.commands import bootstrap


def pipeline_benchmark(resolution: int, cm: int, swav_steps: int,
                       oneshot_steps: int, num_samples: int, batch: int,
                       seed: int = 0) -> list[dict[str, object]]:
  """Wall time of each stage of the main job on a random generator.

  Runs the real entry points in a scratch directory: `stylegan2.save` (as
  `convert_weights.py` would leave it), the SwAV stage with the reference
  settings, the one-shot stage (ours) on a synthetic labelled example (8
  horizontal bands), and `generation.generate` of `num_samples` samples.
  """
  import json  # pylint: disable=g-import-not-at-top
  import pathlib  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top

  import numpy as np  # pylint: disable=g-import-not-at-top

  from configs import common as configs_common  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax import stylegan2  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.data import labelled_set  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import generation  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import runner  # pylint: disable=g-import-not-at-top

  gen = common.random_generator(resolution, cm, seed)
  gcfg = gen.config
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    stylegan2.save(tmp / 'generator', gcfg, gen.variables, {'source': 'random'})
    w = np.asarray(gen.mapping(stylegan2.z_from_seeds([0], gcfg.z_dim)))[0]
    bands = (np.arange(resolution) * 8 // resolution).astype(np.uint8)
    labelled_set.save_example(tmp / 'example.npz', labelled_set.OneShotExample(
        w=w, psi=1.0, mask=np.repeat(bands[:, None], resolution, 1),
        class_names=tuple(f'class{i}' for i in range(8)), seed=0))
    config = configs_common.base_config()
    config.update_from_flattened_dict({
        'generator_dir': str(tmp / 'generator'), 'num_steps': swav_steps,
        'checkpoint_every': swav_steps, 'oneshot.methods': ('ours',),
        'oneshot.num_steps': oneshot_steps,
        'data.oneshot': str(tmp / 'example.npz'),
        'generate.batch_size': batch, 'generate.psi': 0.7})
    workdir = str(tmp / 'run')
    for stage, steps in (('swav', swav_steps), ('oneshot', oneshot_steps)):
      config.stage = (stage,)
      t0 = time.perf_counter()
      runner.train_and_evaluate(config, workdir)
      seconds = time.perf_counter() - t0
      log = pathlib.Path(workdir) / stage
      if stage == 'oneshot':
        log = log / 'ours'
      rows_logged = [json.loads(line)
                     for line in (log / 'metrics.jsonl').open()]
      # steps_per_s is cumulative since the first step: elapsed = step / sps.
      elapsed = {r['step']: r['step'] / r['steps_per_s'] for r in rows_logged}
      first, last = min(elapsed), max(elapsed)
      step_s = ((elapsed[last] - elapsed[first]) / (last - first)
                if last > first else float('nan'))
      rows.append(dict(stage=f'{stage} ({steps} steps)', seconds=seconds,
                       rate=f'{step_s:.3f} s/step after the first'))
    t0 = time.perf_counter()
    result = generation.generate(config, workdir, tmp / 'dataset', num_samples,
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


_SWAV_STEPS = flags.DEFINE_integer('swav_steps', 10, 'SwAV steps.')
_ONESHOT_STEPS = flags.DEFINE_integer('oneshot_steps', 200, 'One-shot steps.')
_NUM_SAMPLES = bootstrap.num_samples_flag(256)


def main(argv: list[str]) -> None:
  del argv
  print(f'{common.setup_line(batch=False)}; reference SwAV settings (K 5000, '
        '5 x 20000 pixels, 1 image per step); generate batch '
        f'{common.BATCH_SIZE.value}', flush=True)
  print(format_pipeline(pipeline_benchmark(
      common.RESOLUTION.value, common.CHANNEL_MULTIPLIER.value,
      _SWAV_STEPS.value, _ONESHOT_STEPS.value, _NUM_SAMPLES.value,
      common.BATCH_SIZE.value)))


if __name__ == '__main__':
  bootstrap.run(main, name='benchmarks.pipeline')
