// The one-shot labeller page: paints exact class ids into a label map in
// the browser, sends the finished mask to the server after each edit
// (autosave), and drives training and the grid of predicted samples.
//
// ES modules, no build step: state (the shared state), api (the server),
// autosave, canvas (drawing, zoom), editing (the tools, undo/redo), pointer,
// examples (tabs, samples), training (Train, the grid, Save), controls
// (palette, buttons, keys), and this one, which starts the page.

import {refresh, status} from './api.js';
import {flushSave} from './autosave.js';
import {setZoom} from './canvas.js';
import {
  attachControls, buildPalette, setClass, setSize, setTool,
} from './controls.js';
import {fillPolygon, floodFill} from './editing.js';
import {load} from './examples.js';
import {attachPointer} from './pointer.js';
import {$, st} from './state.js';
import {poll} from './training.js';

async function start() {
  await refresh();
  const s = st.session;
  st.res = s.resolution;
  st.overlay = document.createElement('canvas');
  st.overlay.width = st.overlay.height = st.res;
  $('info').textContent = `method ${s.method} · ${s.resolution}×` +
    `${s.resolution} · psi ${s.psi} · ${s.workdir}`;
  buildPalette();
  setClass(Math.min(1, s.class_names.length - 1));
  setTool('brush');
  setSize(st.size);
  st.zoom = Math.max(1, Math.floor(512 / st.res));
  if (st.res > 512) st.zoom = 512 / st.res;
  setZoom(st.zoom);

  attachPointer($('paint'));
  attachControls();
  window.addEventListener('beforeunload', () => { flushSave(); });

  await load(s.current);
  status(`restored from ${s.restored_from}`);
  await poll();  // a job still running (page reload) or the first grid
  document.body.dataset.ready = '1';
}

const labeller = {start, state: st, fillPolygon, floodFill};
window.labeller = labeller;
labeller.start().catch((e) => {
  const el = document.getElementById('message');
  el.textContent = 'could not start: ' + e.message;
  el.className = 'error';
});
