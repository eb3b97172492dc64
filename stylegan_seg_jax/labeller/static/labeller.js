// The one-shot labeller page: paints exact class ids into a label map in
// the browser, sends the finished mask to the server after each edit
// (autosave), and drives training and the grid of predicted samples.
'use strict';

const labeller = (() => {
  const $ = (id) => document.getElementById(id);
  const CHANGE_HEADER = {'X-Labeller': '1'};
  const MAX_UNDO = 100;

  const st = {
    session: null,      // the last /api/session answer
    res: 0,             // label map side R
    labels: null,       // Uint8Array R*R: class ids of the shown example
    image: null,        // the shown example's sample (HTMLImageElement)
    example: 0,         // index of the shown example
    cls: 1,             // the painting class
    tool: 'brush',
    size: 4,
    opacity: 0.6,
    zoom: 1,
    undo: [],
    redo: [],
    polygon: [],        // vertices [x, y] in label pixels (polygon/lasso)
    painting: false,
    last: null,         // last brush pixel of a stroke
    hover: null,
    saveChain: Promise.resolve(),
    saveTimer: null,
    dirty: false,
    polling: false,
    gridVersion: -1,
    trainClick: null,   // performance.now() of the last Train click
    overlay: null,      // offscreen canvas R x R with the class colours
  };

  // --- server ---------------------------------------------------------

  async function api(method, url, body, raw) {
    const opts = {method, headers: {}};
    if (method !== 'GET') Object.assign(opts.headers, CHANGE_HEADER);
    if (body !== undefined) {
      if (raw) {
        opts.body = body;
        opts.headers['Content-Type'] = 'application/octet-stream';
      } else {
        opts.body = JSON.stringify(body);
        opts.headers['Content-Type'] = 'application/json';
      }
    }
    let resp;
    try {
      resp = await fetch(url, opts);
    } catch (e) {
      throw new Error('the server is unreachable (' + e.message + ')');
    }
    if (!resp.ok) {
      let msg = resp.status + ' ' + resp.statusText;
      try { msg = (await resp.json()).error || msg; } catch (e) { /* text */ }
      throw new Error(msg);
    }
    return resp;
  }

  function message(text, isError) {
    const el = $('message');
    el.textContent = text || '';
    el.className = isError ? 'error' : '';
  }

  function status(text) { $('status').textContent = text; }

  async function guarded(fn) {
    try {
      return await fn();
    } catch (e) {
      message(e.message, true);
      return undefined;
    }
  }

  // --- drawing --------------------------------------------------------

  function colours() { return st.session.colours; }

  function renderOverlay() {
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

  function draw() {
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

  function setZoom(z) {
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

  // --- editing the label map ------------------------------------------

  function snapshot() {
    st.undo.push(st.labels.slice());
    if (st.undo.length > MAX_UNDO) st.undo.shift();
    st.redo = [];
  }

  function edited() {
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

  function strokeTo(x, y, cls) {
    const from = st.last || [x, y];
    const n = Math.max(Math.abs(x - from[0]), Math.abs(y - from[1]), 1);
    for (let i = 0; i <= n; i++) {
      stamp(Math.round(from[0] + (x - from[0]) * i / n),
            Math.round(from[1] + (y - from[1]) * i / n), cls);
    }
    st.last = [x, y];
  }

  // Even-odd rule on pixel centres: the pixels inside the closed polygon.
  function fillPolygon(points, cls) {
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
  function floodFill(x, y, cls) {
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

  function closePolygon() {
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

  function undo() {
    if (!st.undo.length) return;
    st.redo.push(st.labels);
    st.labels = st.undo.pop();
    edited();
  }

  function redo() {
    if (!st.redo.length) return;
    st.undo.push(st.labels);
    st.labels = st.redo.pop();
    edited();
  }

  // --- pointer --------------------------------------------------------

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

  // --- autosave -------------------------------------------------------

  function scheduleSave() {
    st.dirty = true;
    status('unsaved changes');
    clearTimeout(st.saveTimer);
    st.saveTimer = setTimeout(flushSave, 300);
  }

  function flushSave() {
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

  // --- examples -------------------------------------------------------

  async function refresh() {
    st.session = await (await api('GET', '/api/session')).json();
    return st.session;
  }

  function renderExamples() {
    const box = $('examples');
    box.textContent = '';
    st.session.examples.forEach((e, i) => {
      const b = document.createElement('button');
      b.className = 'example' + (i === st.example ? ' active' : '');
      b.dataset.index = i;
      b.textContent = `Example ${i + 1}` + (e.seed >= 0 ? ` · seed ${e.seed}` : '');
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

  async function load(i) {
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

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error('could not load ' + url));
      img.src = url;
    });
  }

  async function addExample(seed) {
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

  // --- training and the grid -------------------------------------------

  async function train() {
    await flushSave();
    st.trainClick = performance.now();
    await api('POST', '/api/train', {});
    message('');
    poll();
  }

  async function regenerate() {
    st.trainClick = null;
    await api('POST', '/api/regenerate', {});
    poll();
  }

  async function poll() {
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

  function drawGrid() {
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

  async function save() {
    await flushSave();
    const r = await (await api('POST', '/api/save', {})).json();
    message(`Saved ${st.session.examples.length} example(s) to ${r.labels} ` +
            `and the head to ${r.head}` +
            (r.kept ? `; the head trained before is kept in ${r.kept}` : '') +
            '.');
    status('saved');
  }

  // --- controls -------------------------------------------------------

  function setClass(i) {
    if (i < 0 || i >= st.session.class_names.length) return;
    st.cls = i;
    document.querySelectorAll('#palette button').forEach((b) =>
      b.classList.toggle('active', Number(b.dataset.cls) === i));
  }

  function setTool(t) {
    st.tool = t;
    st.polygon = [];
    document.querySelectorAll('#toolbar button').forEach((b) =>
      b.classList.toggle('active', b.dataset.tool === t));
    draw();
  }

  function setSize(n) {
    st.size = Math.min(48, Math.max(1, n));
    $('brush-size').value = st.size;
    $('brush-size-value').textContent = st.size;
    draw();
  }

  function buildPalette() {
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
      st.polygon = [];
      draw();
    }
  }

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

    const paint = $('paint');
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
    $('clear').addEventListener('click', () => {
      snapshot();
      st.labels.fill(0);
      edited();
    });
    $('go-seed').addEventListener('click', () => guarded(() => {
      const seed = Number($('seed').value);
      if (!Number.isInteger(seed) || seed < 0) {
        throw new Error('the seed must be a non-negative integer');
      }
      return replaceSample(seed);
    }));
    $('random').addEventListener('click', () => guarded(async () => {
      const r = await (await api('GET', '/api/random_seed')).json();
      await replaceSample(r.seed);
    }));
    $('remove').addEventListener('click', () => guarded(async () => {
      if (!window.confirm(`Remove example ${st.example + 1}?`)) return;
      await flushSave();
      await api('DELETE', `/api/examples/${st.example}`);
      await refresh();
      await load(st.session.current);
    }));
    $('train').addEventListener('click', () => guarded(train));
    $('regenerate').addEventListener('click', () => guarded(regenerate));
    $('save').addEventListener('click', () => guarded(save));
    window.addEventListener('beforeunload', () => { flushSave(); });

    await load(s.current);
    status(`restored from ${s.restored_from}`);
    await poll();  // a job still running (page reload) or the first grid
    document.body.dataset.ready = '1';
  }

  return {start, state: st, fillPolygon, floodFill};
})();

window.labeller = labeller;
labeller.start().catch((e) => {
  const el = document.getElementById('message');
  el.textContent = 'could not start: ' + e.message;
  el.className = 'error';
});
