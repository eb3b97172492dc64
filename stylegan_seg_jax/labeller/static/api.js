// The server: fetch calls, the session's JSON, images, and the messages
// the page shows.

import {$, st} from './state.js';

const CHANGE_HEADER = {'X-Labeller': '1'};

export async function api(method, url, body, raw) {
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

export async function refresh() {
  st.session = await (await api('GET', '/api/session')).json();
  return st.session;
}

export function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('could not load ' + url));
    img.src = url;
  });
}

export function message(text, isError) {
  const el = $('message');
  el.textContent = text || '';
  el.className = isError ? 'error' : '';
}

export function status(text) { $('status').textContent = text; }

export async function guarded(fn) {
  try {
    return await fn();
  } catch (e) {
    message(e.message, true);
    return undefined;
  }
}
