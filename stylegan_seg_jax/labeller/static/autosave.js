// Autosave: the shown example's label map goes to the server shortly after
// each edit, one request after another.

import {api, message, status} from './api.js';
import {st} from './state.js';

export function scheduleSave() {
  st.dirty = true;
  status('unsaved changes');
  clearTimeout(st.saveTimer);
  st.saveTimer = setTimeout(flushSave, 300);
}

export function flushSave() {
  clearTimeout(st.saveTimer);
  if (!st.dirty) return st.saveChain;
  st.dirty = false;
  const index = st.example;
  const body = st.labels.slice();
  st.saveChain = st.saveChain.then(async () => {
    try {
      await api('PUT', `/api/examples/${index}/mask`, body, true);
      if (!st.dirty) status('autosaved');
    } catch (e) {
      st.dirty = true;
      status('not saved');
      message('autosave failed: ' + e.message, true);
    }
  });
  return st.saveChain;
}
