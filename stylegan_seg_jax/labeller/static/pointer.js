// Pointer events on the painting canvas: strokes, fills and polygon
// corners in label pixels; the hovered pixel; Ctrl+wheel zoom.

import {draw, renderOverlay, setZoom} from './canvas.js';
import {
  closePolygon, edited, floodFill, snapshot, strokeTo,
} from './editing.js';
import {$, st} from './state.js';

function position(ev) {
  const rect = $('paint').getBoundingClientRect();
  const x = (ev.clientX - rect.left) * st.res / rect.width;
  const y = (ev.clientY - rect.top) * st.res / rect.height;
  return [Math.min(Math.max(x, 0), st.res - 1e-3),
          Math.min(Math.max(y, 0), st.res - 1e-3)];
}

function onDown(ev) {
  if (ev.button !== 0 || !st.labels) return;
  ev.preventDefault();
  $('paint').setPointerCapture(ev.pointerId);
  const [fx, fy] = position(ev);
  const x = Math.floor(fx), y = Math.floor(fy);
  if (st.tool === 'brush' || st.tool === 'eraser') {
    snapshot();
    st.painting = true;
    st.last = null;
    strokeTo(x, y, st.tool === 'eraser' ? 0 : st.cls);
    renderOverlay();
  } else if (st.tool === 'fill') {
    const before = st.labels.slice();
    if (floodFill(x, y, st.cls)) {
      st.undo.push(before);
      st.redo = [];
      edited();
    }
  } else if (st.tool === 'lasso') {
    st.painting = true;
    st.polygon = [[fx, fy]];
  } else if (st.tool === 'polygon') {
    const k = $('paint').width / st.res;
    const first = st.polygon[0];
    if (first && st.polygon.length >= 3 &&
        Math.hypot(first[0] - fx, first[1] - fy) * k < 6) {
      closePolygon();
    } else {
      st.polygon.push([fx, fy]);
      draw();
    }
  }
}

function onMove(ev) {
  if (!st.labels) return;
  const [fx, fy] = position(ev);
  st.hover = [fx, fy];
  const x = Math.floor(fx), y = Math.floor(fy);
  $('pixel-info').textContent = `x ${x}, y ${y}: ` +
    st.session.class_names[st.labels[y * st.res + x]];
  if (st.painting && (st.tool === 'brush' || st.tool === 'eraser')) {
    strokeTo(x, y, st.tool === 'eraser' ? 0 : st.cls);
    renderOverlay();
    return;
  }
  if (st.painting && st.tool === 'lasso') st.polygon.push([fx, fy]);
  draw();
}

function onUp() {
  if (!st.painting) return;
  st.painting = false;
  st.last = null;
  if (st.tool === 'lasso') {
    closePolygon();
  } else {
    edited();
  }
}

// Listens to the pointer, double clicks and the wheel on `paint`.
export function attachPointer(paint) {
  paint.addEventListener('pointerdown', onDown);
  paint.addEventListener('pointermove', onMove);
  paint.addEventListener('pointerup', onUp);
  paint.addEventListener('pointercancel', onUp);
  paint.addEventListener('pointerleave', () => { st.hover = null; draw(); });
  paint.addEventListener('dblclick', (ev) => {
    if (st.tool === 'polygon') { ev.preventDefault(); closePolygon(); }
  });
  paint.addEventListener('wheel', (ev) => {
    if (!ev.ctrlKey) return;
    ev.preventDefault();
    setZoom(st.zoom * (ev.deltaY < 0 ? 2 : 0.5));
  }, {passive: false});
}
