// Training and the grid: Train, Regenerate and Save, polling the job, and
// the grid of (predicted) samples with their uncertainty.

import {api, guarded, loadImage, message, refresh, status} from './api.js';
import {flushSave} from './autosave.js';
import {addExample} from './examples.js';
import {$, st} from './state.js';

export async function train() {
  await flushSave();
  st.trainClick = performance.now();
  await api('POST', '/api/train', {});
  message('');
  poll();
}

export async function regenerate() {
  st.trainClick = null;
  await api('POST', '/api/regenerate', {});
  poll();
}

// Follows the job until it is done, then shows a new grid.
export async function poll() {
  if (st.polling) return;
  st.polling = true;
  try {
    for (;;) {
      const s = await refresh();
      const job = s.job;
      const busy = job.state === 'training' || job.state === 'predicting';
      $('progress').max = job.num_steps || 1;
      $('progress').value = job.state === 'training' ? job.step :
        (job.state === 'idle' ? 0 : job.num_steps);
      $('train').disabled = busy;
      $('regenerate').disabled = busy;
      $('save').disabled = busy;
      if (job.state === 'training') {
        $('train-info').textContent = `training step ${job.step}/` +
          `${job.num_steps}` + (job.loss !== undefined ?
          ` · loss ${job.loss.toFixed(3)}` : '');
      } else if (job.state === 'predicting') {
        $('train-info').textContent = 'segmenting new samples…';
      } else if (job.state === 'error') {
        message('training failed: ' + job.message, true);
      }
      if (!busy) {
        if (s.grid.version !== st.gridVersion) await showGrid(s);
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    message(e.message, true);
  } finally {
    st.polling = false;
  }
}

async function showGrid(s) {
  const g = s.grid;
  if (!g.version) return;  // the first samples are still being drawn
  st.gridCells = await Promise.all(g.seeds.map(async (seed, k) => {
    const v = `?v=${g.version}`;
    const img = await loadImage(`/api/grid/${k}/image.png${v}`);
    const mask = g.predicted ?
      await loadImage(`/api/grid/${k}/mask.png${v}`) : null;
    return {seed, k, img, mask};
  }));
  st.gridUncertainty = g.uncertainty || [];
  drawGrid();
  const box = $('grid');
  st.gridVersion = g.version;
  box.dataset.version = g.version;
  box.dataset.predicted = g.predicted ? '1' : '0';
  const job = s.job;
  if (g.predicted && st.trainClick !== null && job.state === 'done') {
    const secs = (performance.now() - st.trainClick) / 1000;
    st.trainClick = null;
    $('train-info').textContent = `Train → grid: ${secs.toFixed(1)} s ` +
      `(training ${job.train_seconds} s, ${job.num_steps} steps); the ` +
      'outlined sample is the most uncertain';
    $('train-info').dataset.seconds = secs.toFixed(2);
  }
}

export function drawGrid() {
  const box = $('grid');
  box.textContent = '';
  const unc = st.gridUncertainty || [];
  const worst = unc.length ? unc.indexOf(Math.max(...unc)) : -1;
  for (const {seed, k, img, mask} of st.gridCells || []) {
    const cell = document.createElement('figure');
    cell.className = 'cell' + (k === worst ? ' worst' : '');
    const c = document.createElement('canvas');
    c.width = c.height = 160;
    const ctx = c.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(img, 0, 0, 160, 160);
    if (mask) {
      ctx.globalAlpha = st.opacity;
      ctx.drawImage(mask, 0, 0, 160, 160);
      ctx.globalAlpha = 1;
    }
    cell.appendChild(c);
    const cap = document.createElement('figcaption');
    cap.textContent = `seed ${seed}` + (unc.length ?
      ` · uncertainty ${unc[k].toFixed(3)}` : '');
    const b = document.createElement('button');
    b.textContent = 'Label this';
    b.title = 'Add this sample as another example';
    b.addEventListener('click', () => guarded(() => addExample(seed)));
    cap.appendChild(b);
    cell.appendChild(cap);
    box.appendChild(cell);
  }
}

export async function save() {
  await flushSave();
  const r = await (await api('POST', '/api/save', {})).json();
  message(`Saved ${st.session.examples.length} example(s) to ${r.labels} ` +
          `and the head to ${r.head}` +
          (r.kept ? `; the head trained before is kept in ${r.kept}` : '') +
          '.');
  status('saved');
}
