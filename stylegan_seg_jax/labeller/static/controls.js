// Controls: the class palette, the tools, brush size, opacity and zoom,
// the buttons and the keys.

import {guarded} from './api.js';
import {colours, draw, setZoom} from './canvas.js';
import {clear, closePolygon, dropPolygon, redo, undo} from './editing.js';
import {randomSample, removeExample, showSeed} from './examples.js';
import {$, st} from './state.js';
import {drawGrid, regenerate, save, train} from './training.js';

export function setClass(i) {
  if (i < 0 || i >= st.session.class_names.length) return;
  st.cls = i;
  document.querySelectorAll('#palette button').forEach((b) =>
    b.classList.toggle('active', Number(b.dataset.cls) === i));
}

export function setTool(t) {
  st.tool = t;
  st.polygon = [];
  document.querySelectorAll('#toolbar button').forEach((b) =>
    b.classList.toggle('active', b.dataset.tool === t));
  draw();
}

export function setSize(n) {
  st.size = Math.min(48, Math.max(1, n));
  $('brush-size').value = st.size;
  $('brush-size-value').textContent = st.size;
  draw();
}

export function buildPalette() {
  const box = $('palette');
  box.textContent = '';
  st.session.class_names.forEach((name, i) => {
    const b = document.createElement('button');
    b.dataset.cls = i;
    const key = i < 9 ? String(i + 1) : (i === 9 ? '0' : '');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = `rgb(${colours()[i].join(',')})`;
    b.appendChild(sw);
    b.appendChild(document.createTextNode(`${key ? key + ' ' : ''}${name}`));
    b.addEventListener('click', () => setClass(i));
    box.appendChild(b);
  });
}

function onKey(ev) {
  const tag = (ev.target.tagName || '').toLowerCase();
  if (tag === 'input' || tag === 'textarea') return;
  const k = ev.key;
  if ((ev.ctrlKey || ev.metaKey) && (k === 'z' || k === 'Z')) {
    ev.preventDefault();
    if (ev.shiftKey) redo(); else undo();
    return;
  }
  if ((ev.ctrlKey || ev.metaKey) && (k === 'y' || k === 'Y')) {
    ev.preventDefault();
    redo();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (/^[0-9]$/.test(k)) {
    setClass(k === '0' ? 9 : Number(k) - 1);
  } else if ({b: 1, e: 1, p: 1, l: 1, f: 1}[k.toLowerCase()]) {
    setTool({b: 'brush', e: 'eraser', p: 'polygon', l: 'lasso',
             f: 'fill'}[k.toLowerCase()]);
  } else if (k === '[') {
    setSize(st.size - 1);
  } else if (k === ']') {
    setSize(st.size + 1);
  } else if (k === '+' || k === '=') {
    setZoom(st.zoom * 2);
  } else if (k === '-') {
    setZoom(st.zoom / 2);
  } else if (k === 'Enter' && st.tool === 'polygon') {
    closePolygon();
  } else if (k === 'Escape') {
    dropPolygon();
  }
}

// Listens to the keys, the tool and view controls and the buttons.
export function attachControls() {
  document.addEventListener('keydown', onKey);
  document.querySelectorAll('#toolbar button').forEach((b) =>
    b.addEventListener('click', () => setTool(b.dataset.tool)));
  $('brush-size').addEventListener('input', (e) =>
    setSize(Number(e.target.value)));
  $('opacity').addEventListener('input', (e) => {
    st.opacity = Number(e.target.value) / 100;
    $('opacity-value').textContent = e.target.value + '%';
    draw();
    drawGrid();
  });
  $('zoom-in').addEventListener('click', () => setZoom(st.zoom * 2));
  $('zoom-out').addEventListener('click', () => setZoom(st.zoom / 2));
  $('undo').addEventListener('click', undo);
  $('redo').addEventListener('click', redo);
  $('clear').addEventListener('click', clear);
  $('go-seed').addEventListener('click', () => guarded(showSeed));
  $('random').addEventListener('click', () => guarded(randomSample));
  $('remove').addEventListener('click', () => guarded(removeExample));
  $('train').addEventListener('click', () => guarded(train));
  $('regenerate').addEventListener('click', () => guarded(regenerate));
  $('save').addEventListener('click', () => guarded(save));
}
