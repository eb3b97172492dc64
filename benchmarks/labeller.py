"""The browser labeller end to end, timed: paint a toy sample's exact ground
truth with real mouse strokes, Train, Save, evaluate the saved head.

  python -m benchmarks.labeller --config=configs/toy_swav.py \
      --workdir=workdirs/quickstart [--seed=0] \
      [--screenshot=docs/images/labeller.png]

`--config` is an experiment config like every command's (with
`--config.FIELD=VALUE` overrides, passed on to `label serve` and
`evaluate`).

Needs a workdir with a trained SwAV stage (the quickstart's) and Debian's
chromium. The workdir is not changed: its SwAV stage is copied into a
scratch workdir, where `label serve` runs. Playwright paints the toy
domain's exact part mask of `--seed` (one brush stroke of size 1 per run of
a class in a row), checks the page's label map equals it, clicks Train
twice (the first includes compilation) and Save, then runs the evaluation
binary on the saved head. Toy seed 0 is the quickstart's one-shot example
(`data.oneshot='toy:faces:seed:0'`), so the head trained in the browser is
the one the training binary fits, and evaluate gives the same scores. Prints a
markdown table (docs/labeller.md).
"""

from __future__ import annotations

import json
import pathlib
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from absl import flags
import numpy as np

from stylegan_seg_jax.commands import bootstrap
from stylegan_seg_jax.runtime import errors

_CONFIG = bootstrap.config_flag()
_WORKDIR = bootstrap.workdir_flag()
_SEED = bootstrap.seed_flag(0)
_SCREENSHOT = flags.DEFINE_string('screenshot', None,
                                  'Write a screenshot of the page here.')
_CHROMIUM = flags.DEFINE_string('chromium', '/usr/bin/chromium',
                                'The Chromium executable.')


def _config_args() -> list[str]:
  """--config and its --config.FIELD overrides, as given, for the tools."""
  return [a for a in sys.argv[1:] if a.startswith(('--config=', '--config.'))]


def _start_server(workdir: pathlib.Path):
  cmd = [sys.executable, '-m', 'stylegan_seg_jax', 'label', 'serve',
         *_config_args(), f'--workdir={workdir}', '--port=0']
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
  lines = queue.Queue()
  threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout],
                   daemon=True).start()
  first = lines.get(timeout=300)
  if not first.startswith('labeller: http'):
    raise RuntimeError(f'label serve: {first}')
  return proc, first.split()[1]


def _paint(page, mask: np.ndarray, zoom: float) -> None:
  box = page.locator('#paint').bounding_box()
  centre = lambda x, y: (box['x'] + (x + 0.5) * zoom,
                         box['y'] + (y + 0.5) * zoom)
  page.keyboard.press('b')
  for _ in range(int(page.evaluate('window.labeller.state.size')) - 1):
    page.keyboard.press('[')  # down to a one-pixel brush
  for c in range(1, int(mask.max()) + 1):
    page.locator(f'#palette button[data-cls="{c}"]').click()
    for y in range(mask.shape[0]):
      row = np.concatenate([[0], (mask[y] == c).astype(np.int8), [0]])
      edges = np.flatnonzero(np.diff(row))
      for x0, x1 in zip(edges[::2], edges[1::2] - 1):
        page.mouse.move(*centre(x0, y))
        page.mouse.down()
        if x1 > x0:
          page.mouse.move(*centre(x1, y), steps=2)
        page.mouse.up()


def _train(page) -> float:
  """Seconds from the click on Train to the grid, as the page measures."""
  page.evaluate("document.querySelector('#train-info').removeAttribute("
                "'data-seconds')")
  page.click('#train')
  page.wait_for_selector('#train-info[data-seconds]', timeout=600_000)
  return float(page.locator('#train-info').get_attribute('data-seconds'))


def main(argv: list[str]) -> None:
  del argv
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top

  from stylegan_seg_jax import domains  # pylint: disable=g-import-not-at-top
  faces = domains.get('faces')
  source = pathlib.Path(_WORKDIR.value)
  if not (source / 'swav' / 'checkpoints').is_dir():
    raise errors.UserError(f'{source} has no trained SwAV stage (run the '
                        'quickstart first)')
  truth = faces.ground_truth(faces.latents([_SEED.value]))[0].astype(np.uint8)
  scratch = pathlib.Path(tempfile.mkdtemp(prefix='labeller-bench-'))
  shutil.copytree(source / 'swav', scratch / 'swav')
  proc, url = _start_server(scratch)
  try:
    with sync_playwright() as p:
      browser = p.chromium.launch(executable_path=_CHROMIUM.value,
                                  headless=True, args=['--no-sandbox'])
      page = browser.new_page(viewport={'width': 1400, 'height': 860})
      page.goto(url)
      page.wait_for_selector('body[data-ready="1"]', timeout=300_000)
      page.fill('#seed', str(_SEED.value))
      page.click('#go-seed')
      page.wait_for_selector(f'#examples button.active:has-text("seed '
                             f'{_SEED.value}")')
      zoom = page.evaluate('window.labeller.state.zoom')
      t0 = time.perf_counter()
      _paint(page, truth, zoom)
      paint_s = time.perf_counter() - t0
      got = np.array(page.evaluate('Array.from(window.labeller.state.labels)'),
                     np.uint8).reshape(truth.shape)
      if not np.array_equal(got, truth):
        raise RuntimeError(f'{int((got != truth).sum())} painted pixels '
                           'differ from the ground truth')
      first = _train(page)
      second = _train(page)
      page.click('#save')
      page.wait_for_selector('#message:has-text("Saved")', timeout=120_000)
      if _SCREENSHOT.value:
        page.screenshot(path=_SCREENSHOT.value)
      browser.close()
  finally:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
  t0 = time.perf_counter()
  subprocess.run([sys.executable, '-m', 'stylegan_seg_jax', 'evaluate',
                  *_config_args(), f'--workdir={scratch}',
                  '--config.oneshot.methods=ours',
                  f'--config.data.oneshot={scratch}/labels'],
                 check=True, stdout=subprocess.DEVNULL)
  eval_s = time.perf_counter() - t0
  ours = json.loads((scratch / 'eval' / 'metrics.json').read_text()
                    )['methods']['ours']
  print(f'toy seed {_SEED.value}, {truth.shape[0]}x{truth.shape[1]}, '
        f'{int((truth > 0).sum())} labelled pixels; scratch workdir {scratch}')
  print('| step | value |\n| --- | --- |')
  print(f'| painting the exact mask (Playwright strokes) | {paint_s:.1f} s |')
  print(f'| Train -> grid, first click (compiles) | {first:.1f} s |')
  print(f'| Train -> grid, second click | {second:.1f} s |')
  print(f'| evaluate (subprocess, 256 test samples) | {eval_s:.1f} s |')
  print(f"| ours mIoU per image | {ours['miou_per_image']:.3f} |")
  print(f"| ours normalised wIoU | {ours['normalized_wiou']:.3f} |")


if __name__ == '__main__':
  bootstrap.run(main, name='benchmarks.labeller',
                required=('config', 'workdir'))
