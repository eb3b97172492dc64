// The examples: their tabs, loading one into the canvas, adding, replacing
// and removing samples.

import {api, guarded, loadImage, message, refresh} from './api.js';
import {flushSave} from './autosave.js';
import {renderOverlay} from './canvas.js';
import {$, st} from './state.js';

function renderExamples() {
  const box = $('examples');
  box.textContent = '';
  st.session.examples.forEach((e, i) => {
    const b = document.createElement('button');
    b.className = 'example' + (i === st.example ? ' active' : '');
    b.dataset.index = i;
    b.textContent = `Example ${i + 1}` +
      (e.seed >= 0 ? ` · seed ${e.seed}` : '');
    b.addEventListener('click', () => guarded(() => showExample(i)));
    box.appendChild(b);
  });
  const add = document.createElement('button');
  add.id = 'add-example';
  add.textContent = '+ Add example';
  add.title = 'Label another sample; Train then uses all of them';
  add.addEventListener('click', () => guarded(() => addExample()));
  box.appendChild(add);
  const cur = st.session.examples[st.example];
  $('seed').value = cur && cur.seed >= 0 ? cur.seed : '';
  $('remove').disabled = st.session.examples.length < 2;
}

async function showExample(i) {
  await flushSave();
  await api('PUT', '/api/current', {index: i});
  await load(i);
}

// Shows example `i`: its sample and label map, with no undo history.
export async function load(i) {
  await refresh();
  st.example = i;
  const [maskResp, image] = await Promise.all([
    api('GET', `/api/examples/${i}/mask`),
    loadImage(`/api/examples/${i}/image.png?seed=` +
              st.session.examples[i].seed + '&t=' + Date.now()),
  ]);
  st.labels = new Uint8Array(await maskResp.arrayBuffer());
  st.image = image;
  st.undo = [];
  st.redo = [];
  st.polygon = [];
  renderExamples();
  renderOverlay();
}

export async function addExample(seed) {
  await flushSave();
  const body = seed === undefined ? {} : {seed};
  st.session = await (await api('POST', '/api/examples', body)).json();
  await load(st.session.current);
  message(`Added example ${st.session.current + 1}: paint it, then Train ` +
          'uses every example.');
}

async function replaceSample(seed) {
  const cur = st.session.examples[st.example];
  if (cur.labelled > 0 || st.labels.some((v) => v)) {
    if (!window.confirm('Replace this sample? Its painting is lost.')) return;
  }
  await flushSave();
  await api('PUT', `/api/examples/${st.example}/seed`, {seed});
  await load(st.example);
}

// The sample of the seed typed in the seed field, in the shown example.
export function showSeed() {
  const seed = Number($('seed').value);
  if (!Number.isInteger(seed) || seed < 0) {
    throw new Error('the seed must be a non-negative integer');
  }
  return replaceSample(seed);
}

// A random sample in the shown example.
export async function randomSample() {
  const r = await (await api('GET', '/api/random_seed')).json();
  await replaceSample(r.seed);
}

export async function removeExample() {
  if (!window.confirm(`Remove example ${st.example + 1}?`)) return;
  await flushSave();
  await api('DELETE', `/api/examples/${st.example}`);
  await refresh();
  await load(st.session.current);
}
