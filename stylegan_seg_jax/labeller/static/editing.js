// Editing the label map: brush and eraser strokes, polygon and lasso
// fills, flood fill, clear, undo and redo. Every finished edit is redrawn
// and autosaved.

import {scheduleSave} from './autosave.js';
import {draw, renderOverlay} from './canvas.js';
import {MAX_UNDO, st} from './state.js';

export function snapshot() {
  st.undo.push(st.labels.slice());
  if (st.undo.length > MAX_UNDO) st.undo.shift();
  st.redo = [];
}

export function edited() {
  renderOverlay();
  scheduleSave();
}

function stamp(cx, cy, cls) {
  const r = st.res;
  const rad = st.size / 2;
  const reach = Math.ceil(rad);
  for (let dy = -reach; dy <= reach; dy++) {
    const y = cy + dy;
    if (y < 0 || y >= r) continue;
    for (let dx = -reach; dx <= reach; dx++) {
      const x = cx + dx;
      if (x < 0 || x >= r) continue;
      if (st.size > 1 && dx * dx + dy * dy > rad * rad) continue;
      if (st.size === 1 && (dx || dy)) continue;
      st.labels[y * r + x] = cls;
    }
  }
}

export function strokeTo(x, y, cls) {
  const from = st.last || [x, y];
  const n = Math.max(Math.abs(x - from[0]), Math.abs(y - from[1]), 1);
  for (let i = 0; i <= n; i++) {
    stamp(Math.round(from[0] + (x - from[0]) * i / n),
          Math.round(from[1] + (y - from[1]) * i / n), cls);
  }
  st.last = [x, y];
}

// Even-odd rule on pixel centres: the pixels inside the closed polygon.
export function fillPolygon(points, cls) {
  if (points.length < 3) return false;
  const r = st.res;
  let y0 = r, y1 = 0;
  for (const [, y] of points) { y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  y0 = Math.max(0, Math.floor(y0));
  y1 = Math.min(r - 1, Math.ceil(y1));
  for (let y = y0; y <= y1; y++) {
    const cy = y + 0.5;
    const xs = [];
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i];
      const [xj, yj] = points[j];
      if ((yi > cy) !== (yj > cy)) {
        xs.push(xi + (cy - yi) * (xj - xi) / (yj - yi));
      }
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // pixel x is inside when its centre x + 0.5 lies in [xs[k], xs[k+1])
      const a = Math.max(0, Math.ceil(xs[k] - 0.5));
      const b = Math.min(r - 1, Math.ceil(xs[k + 1] - 0.5) - 1);
      for (let x = a; x <= b; x++) st.labels[y * r + x] = cls;
    }
  }
  return true;
}

// 4-connected region of the clicked pixel's class, set to `cls`.
export function floodFill(x, y, cls) {
  const r = st.res;
  const target = st.labels[y * r + x];
  if (target === cls) return false;
  const stack = [y * r + x];
  st.labels[y * r + x] = cls;
  while (stack.length) {
    const p = stack.pop();
    const px = p % r;
    const py = (p - px) / r;
    const next = [];
    if (px > 0) next.push(p - 1);
    if (px < r - 1) next.push(p + 1);
    if (py > 0) next.push(p - r);
    if (py < r - 1) next.push(p + r);
    for (const q of next) {
      if (st.labels[q] === target) {
        st.labels[q] = cls;
        stack.push(q);
      }
    }
  }
  return true;
}

export function closePolygon() {
  if (st.polygon.length >= 3) {
    snapshot();
    fillPolygon(st.polygon, st.cls);
    st.polygon = [];
    edited();
  } else {
    st.polygon = [];
    draw();
  }
}

export function dropPolygon() {
  st.polygon = [];
  draw();
}

export function clear() {
  snapshot();
  st.labels.fill(0);
  edited();
}

export function undo() {
  if (!st.undo.length) return;
  st.redo.push(st.labels);
  st.labels = st.undo.pop();
  edited();
}

export function redo() {
  if (!st.redo.length) return;
  st.undo.push(st.labels);
  st.labels = st.redo.pop();
  edited();
}
