"""End to end in a real browser: `label serve`, headless Chromium (Debian's
package, driven by Playwright), real mouse and key events.

The painted label map is checked against a Python re-creation of the same
edits (brush discs along the stroke, the even-odd rule on pixel centres for
the polygon, the 4-connected region for the fill), the saved example against
the page, and `evaluate` scores the saved head.
"""

import collections
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from stylegan_seg_jax.data import experiment
from stylegan_seg_jax.data import labelled_set
from stylegan_seg_jax.stages import evaluation
from tests.helpers import ROOT
from tests.helpers import subprocess_env
from tests.labeller.conftest import STEPS
from tests.labeller.conftest import labeller_config

CHROMIUM = pathlib.Path(os.environ.get('LABELLER_CHROMIUM',
                                       '/usr/bin/chromium'))
# .ci/run sets this: there a missing browser is a failure, not a skip.
REQUIRED = os.environ.get('LABELLER_BROWSER_REQUIRED') == '1'
ZOOM = 8  # the page's zoom for a 64x64 sample (512 px)

pytestmark = pytest.mark.slow


def _disc(size: int) -> list[tuple[int, int]]:
  r = size / 2
  reach = int(np.ceil(r))
  return [(dx, dy) for dy in range(-reach, reach + 1)
          for dx in range(-reach, reach + 1)
          if size == 1 and dx == dy == 0 or size > 1 and dx * dx + dy * dy
          <= r * r]


def _flood(mask: np.ndarray, x: int, y: int, cls: int) -> None:
  target = mask[y, x]
  todo = collections.deque([(x, y)])
  seen = {(x, y)}
  while todo:
    px, py = todo.popleft()
    mask[py, px] = cls
    for qx, qy in ((px - 1, py), (px + 1, py), (px, py - 1), (px, py + 1)):
      if (0 <= qx < mask.shape[1] and 0 <= qy < mask.shape[0]
          and (qx, qy) not in seen and mask[qy, qx] == target):
        seen.add((qx, qy))
        todo.append((qx, qy))


@pytest.fixture
def served(swav_workdir):
  """(URL, workdir) of a `label serve` subprocess on a fresh workdir."""
  if not CHROMIUM.exists():
    if REQUIRED:
      pytest.fail(f'{CHROMIUM} is missing (apt-get install chromium)')
    pytest.skip(f'{CHROMIUM} is missing (apt-get install chromium)')
  cmd = [sys.executable, '-m', 'stylegan_seg_jax', 'label', 'serve',
         f'--config={ROOT}/configs/tiny.py', f'--workdir={swav_workdir}',
         '--config.oneshot.methods=ours',
         f'--config.oneshot.num_steps={STEPS}', '--port=0']
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=subprocess_env(), cwd=ROOT)
  lines = queue.Queue()
  threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout],
                   daemon=True).start()
  try:
    first = lines.get(timeout=120)
  except queue.Empty:
    proc.kill()
    pytest.fail(f'label serve printed nothing: {proc.stderr.read()}')
  assert first.startswith('labeller: http://127.0.0.1:'), first
  url = first.split()[1]
  yield url, swav_workdir
  proc.send_signal(signal.SIGINT)
  try:
    proc.wait(timeout=30)
  except subprocess.TimeoutExpired:
    proc.kill()
  assert proc.returncode == 0, proc.stderr.read()


def test_paint_train_save_and_evaluate_in_chromium(served, tmp_path):
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  url, workdir = served
  res = 64
  expected = np.zeros((res, res), np.uint8)
  with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                args=['--no-sandbox'])
    page = browser.new_page(viewport={'width': 1400, 'height': 860})
    errors = []
    page.on('pageerror', lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector('body[data-ready="1"]', timeout=60_000)
    labels = lambda: np.array(page.evaluate(
        'Array.from(window.labeller.state.labels)'), np.uint8).reshape(res,
                                                                      res)
    box = page.locator('#paint').bounding_box()
    assert round(box['width']) == res * ZOOM
    at = lambda x, y: (box['x'] + x * ZOOM, box['y'] + y * ZOOM)
    centre = lambda x, y: at(x + 0.5, y + 0.5)

    # 1. Brush: class 'hair' (key 3 -> id 2), size 4, a horizontal stroke.
    page.keyboard.press('3')
    page.mouse.move(*centre(8, 12))
    page.mouse.down()
    page.mouse.move(*centre(40, 12), steps=12)
    page.mouse.up()
    for x in range(8, 41):
      for dx, dy in _disc(4):
        if 0 <= x + dx < res and 0 <= 12 + dy < res:
          expected[12 + dy, x + dx] = 2
    # 2. Polygon: 'nose' from the palette (id 5), corners on pixel corners.
    page.locator('#palette button[data-cls="5"]').click()
    page.keyboard.press('p')
    for corner in ((20, 40), (36, 40), (36, 52), (20, 52)):
      page.mouse.click(*at(*corner))
    page.keyboard.press('Enter')
    expected[40:52, 20:36] = 5
    np.testing.assert_array_equal(labels(), expected)
    # 3. Flood fill the background region around (60, 60) with 'ear' (7).
    page.keyboard.press('8')
    page.keyboard.press('f')
    page.mouse.click(*centre(60, 60))
    before_fill = expected.copy()
    _flood(expected, 60, 60, 7)
    assert (expected == 7).sum() > 1000
    np.testing.assert_array_equal(labels(), expected)
    # 4. Undo, redo; eraser.
    page.keyboard.press('Control+z')
    np.testing.assert_array_equal(labels(), before_fill)
    page.keyboard.press('Control+y')
    np.testing.assert_array_equal(labels(), expected)
    page.keyboard.press('e')
    page.mouse.click(*centre(30, 46))
    for dx, dy in _disc(4):
      expected[46 + dy, 30 + dx] = 0
    np.testing.assert_array_equal(labels(), expected)
    # 5. Zoom and opacity change the view, not the labels.
    page.keyboard.press('+')
    assert page.locator('#paint').bounding_box()['width'] == res * ZOOM * 2
    page.keyboard.press('-')
    page.locator('#opacity').focus()
    page.keyboard.press('Home')
    assert page.evaluate('window.labeller.state.opacity') == 0
    page.keyboard.press('End')
    np.testing.assert_array_equal(labels(), expected)

    # 6. Train: the grid of predicted samples with their uncertainty.
    page.click('#train')
    page.wait_for_selector('#train-info[data-seconds]', timeout=120_000)
    assert page.locator('#grid').get_attribute('data-predicted') == '1'
    captions = page.locator('#grid figcaption').all_inner_texts()
    assert len(captions) == 8
    assert all('uncertainty' in c for c in captions)
    seconds = float(page.locator('#train-info').get_attribute('data-seconds'))
    assert seconds > 0
    # 7. Save, then a reload shows the autosaved labels again.
    page.click('#save')
    page.wait_for_selector('#message:has-text("Saved")', timeout=60_000)
    page.screenshot(path=str(tmp_path / 'labeller.png'))
    page.reload()
    page.wait_for_selector('body[data-ready="1"]', timeout=60_000)
    np.testing.assert_array_equal(labels(), expected)
    browser.close()
  assert not errors, errors

  saved = experiment.example_files(workdir / 'labels')
  assert [p.name for p in saved] == ['example.npz']
  example = labelled_set.load_example(saved[0])
  np.testing.assert_array_equal(example.mask, expected)
  assert (tmp_path / 'labeller.png').stat().st_size > 10_000
  # evaluate scores the saved head, as the README tells users to run it.
  config = labeller_config(**{'data.oneshot': str(workdir / 'labels')})
  results = evaluation.evaluate_workdir(config, str(workdir))
  assert [r.name for r in results] == ['ours']
  assert 0 <= results[0].metrics['miou_per_image'] <= 1
  assert (workdir / 'eval' / 'metrics.json').is_file()
  shutil.rmtree(workdir / 'eval')
