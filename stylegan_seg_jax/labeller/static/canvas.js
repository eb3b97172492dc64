// Drawing: the sample, the class overlay, the polygon being drawn, the
// brush outline, and the zoom.

import {$, st} from './state.js';

export function colours() { return st.session.colours; }

export function renderOverlay() {
  const r = st.res;
  const ctx = st.overlay.getContext('2d');
  const img = ctx.createImageData(r, r);
  const cols = colours();
  for (let i = 0; i < r * r; i++) {
    const c = st.labels[i];
    if (c === 0) continue;  // the background stays see-through
    const col = cols[c];
    img.data[4 * i] = col[0];
    img.data[4 * i + 1] = col[1];
    img.data[4 * i + 2] = col[2];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  draw();
}

export function draw() {
  const canvas = $('paint');
  const ctx = canvas.getContext('2d');
  const side = canvas.width;
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, side, side);
  if (st.image) ctx.drawImage(st.image, 0, 0, side, side);
  ctx.globalAlpha = st.opacity;
  ctx.drawImage(st.overlay, 0, 0, side, side);
  ctx.globalAlpha = 1;
  const k = side / st.res;
  if (st.polygon.length) {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 1.5;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    st.polygon.forEach(([x, y], i) =>
      i ? ctx.lineTo(x * k, y * k) : ctx.moveTo(x * k, y * k));
    if (st.hover && st.tool === 'polygon') {
      ctx.lineTo(st.hover[0] * k, st.hover[1] * k);
    }
    ctx.stroke();
    ctx.setLineDash([]);
  }
  if (st.hover && (st.tool === 'brush' || st.tool === 'eraser')) {
    ctx.strokeStyle = 'rgba(255,255,255,0.8)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.arc(Math.floor(st.hover[0]) * k + k / 2,
            Math.floor(st.hover[1]) * k + k / 2, st.size / 2 * k, 0,
            2 * Math.PI);
    ctx.stroke();
  }
}

export function setZoom(z) {
  st.zoom = Math.min(16, Math.max(0.25, z));
  const side = Math.round(st.res * st.zoom);
  const canvas = $('paint');
  canvas.width = side;
  canvas.height = side;
  canvas.style.width = side + 'px';
  canvas.style.height = side + 'px';
  $('zoom-value').textContent = st.zoom * 100 + '%';
  draw();
}
