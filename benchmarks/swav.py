"""One SwAV training step: the lean per-layer embedding against the naive one.

  python -m benchmarks.swav [--repeats=2]

256 config-f (random weights, 13 layers = 5376 channels, K = 5000, 5 x 20000
pixels, one image as in the reference, 1 device): step time, and XLA's
buffer assignment of the compiled step (temporaries and total), which is the
step's peak device memory.
"""

from __future__ import annotations

import functools
import statistics
import time

from benchmarks import common
from benchmarks.common import time_calls
from stylegan_seg_jax.commands import bootstrap


def swav_benchmark(resolution: int, cm: int, repeats: int,
                   seed: int = 0) -> list[dict[str, object]]:
  """Step time and compiled memory of the lean and the naive SwAV step."""
  import jax  # pylint: disable=g-import-not-at-top

  from configs import common as configs_common  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.runtime import parallel  # pylint: disable=g-import-not-at-top
  from stylegan_seg_jax.stages import swav as swav_stage  # pylint: disable=g-import-not-at-top

  config = configs_common.base_config()
  config.batch_size = 1
  gen = common.random_generator(resolution, cm, seed)
  gcfg = gen.config
  mesh = parallel.make_mesh(jax.devices()[:1])
  put = lambda t: parallel.replicate(t, mesh)
  gen_vars = put(gen.variables)
  rng = put(jax.random.key_data(jax.random.key(seed)))
  rows = []
  for naive in (False, True):
    model = swav_stage.SwAVModel(config, gcfg, naive=naive)
    tx = swav_stage.make_optimizer(config)
    step = swav_stage.make_device_step(model, gen, config, tx, 1)
    state = put(swav_stage.init_state(model, tx, jax.random.key(seed)))
    run = parallel.shard_step(step, mesh, donate_state=False)
    t0 = time.perf_counter()
    compiled = run.lower(state, gen_vars, rng).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    call = functools.partial(compiled, state, gen_vars, rng)
    seconds = time_calls(lambda call=call: jax.block_until_ready(call()),
                         repeats)
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


def main(argv: list[str]) -> None:
  del argv
  print(f'{common.setup_line(batch=False)}; 1 image, K 5000, 5 x 20000 '
        f'pixels, 1 device; {common.REPEATS.value} timed steps after a '
        'warm-up step', flush=True)
  print(format_swav(swav_benchmark(common.RESOLUTION.value,
                                   common.CHANNEL_MULTIPLIER.value,
                                   common.REPEATS.value)))


if __name__ == '__main__':
  bootstrap.run(main, name='benchmarks.swav')
