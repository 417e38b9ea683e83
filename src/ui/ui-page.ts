// The live view's page: one self-contained HTML document (no build step, no CDN, no external
// file), served by the process itself. It reads GET /state once, then GET /events; it draws
// states on small canvases scaled up by CSS, so a refresh costs the browser little.

/** The page, as served at `/`. */
export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>streamroll live view</title>
<style>
  body { font-family: Helvetica, Arial, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 18px; display: flex; flex-wrap: wrap; gap: 14px; align-items: center; }
  header h1 { font-size: 17px; margin: 0 12px 0 0; }
  header .meta { font-size: 13px; color: #b9c1d0; }
  #status { contain: content; font-family: Menlo, Consolas, monospace; font-size: 13px; flex: 1; min-width: 320px; }
  #controls button, #controls input { font-size: 13px; padding: 3px 9px; margin-left: 4px; }
  #controls input { width: 64px; }
  main { display: grid; grid-template-columns: minmax(520px, 3fr) minmax(360px, 2fr); gap: 14px; padding: 14px; }
  section { contain: content; background: #fff; border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  section h2 { font-size: 14px; margin: 0 0 8px; color: #3a4355; }
  #states { display: flex; flex-wrap: wrap; gap: 10px; }
  .node { contain: content; border: 1px solid #dde1e8; border-radius: 5px; padding: 6px; }
  .node .title { font-size: 12px; margin-bottom: 4px; }
  .node .title b { font-size: 13px; }
  .node .range { font-size: 11px; color: #6b7385; margin-top: 3px; font-family: Menlo, Consolas, monospace; }
  canvas.maps { image-rendering: pixelated; background: #fff; }
  canvas.picture { image-rendering: pixelated; width: 112px; height: 112px; background: #000; }
  canvas.bars { width: 260px; height: 64px; }
  #rollout { overflow-x: auto; }
  #rollout svg { max-width: 100%; height: auto; }
  table { border-collapse: collapse; font-size: 12px; width: 100%; }
  td, th { padding: 3px 5px; text-align: left; border-bottom: 1px solid #eef0f4; }
  .bar { height: 10px; display: inline-block; vertical-align: middle; }
  .compute { background: #2f6fd6; } .wait { background: #c8cfdb; }
  canvas.chart { width: 100%; height: 130px; }
  .muted { color: #6b7385; font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1 id="name">streamroll</h1>
  <span class="meta" id="meta"></span>
  <span id="status">connecting...</span>
  <span id="controls">
    <button id="pause" disabled>Pause</button>
    <button id="step" disabled>Step</button>
    <label class="meta">rate <input id="rate" type="number" min="0.1" max="100000" step="any" disabled></label>
    <button id="setrate" disabled>Set</button>
  </span>
</header>
<main>
  <div>
    <section><h2>Node states <span class="muted" id="frame"></span></h2><div id="states"></div></section>
    <section style="margin-top:14px"><h2>Rollout window <span class="muted" id="now-label"></span></h2><div id="rollout"></div></section>
  </div>
  <div>
    <section><h2>Per worker, per frame <span class="muted">(compute / wait, mean µs over the last refresh)</span></h2><table id="workers"></table></section>
    <section style="margin-top:14px"><h2>Latency <span class="muted">(arrival to outputs, every tick since start)</span></h2><canvas class="chart" id="latency" width="520" height="130"></canvas><div class="muted" id="latency-text"></div></section>
    <section style="margin-top:14px"><h2>Over time <span class="muted">(per second: <span style="color:#2f6fd6">accuracy</span>, <span style="color:#d1495b">frames/s</span>)</span></h2><canvas class="chart" id="history" width="520" height="130"></canvas></section>
  </div>
</main>
<script>
'use strict';
const token = new URLSearchParams(location.search).get('token');
const withToken = (path) => token === null ? path : path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
// DOM writes only when something changed: an unchanged write still costs a style pass.
const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
const setProp = (el, key, value) => { if (el[key] !== value) el[key] = value; };
const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const lut = new Uint8ClampedArray(256 * 3);
for (let i = 0; i < 256; i++) {
  const x = (i / 255) * (stops.length - 1);
  const a = Math.min(stops.length - 2, Math.floor(x));
  const f = x - a;
  for (let c = 0; c < 3; c++) lut[i * 3 + c] = stops[a][c] + f * (stops[a + 1][c] - stops[a][c]);
}
const fmt = (x) => Math.abs(x) >= 1000 || (Math.abs(x) < 0.01 && x !== 0) ? x.toExponential(2) : String(Number(x.toPrecision(3)));
const bytes = (b64) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
let network = null;
const view = (window.streamrollView = { updates: 0, statesTick: 0 });
let history = [];
let updates = 0;
const cards = new Map();

function card(view, info) {
  let c = cards.get(view.name);
  if (c !== undefined && c.key === view.kind + view.shown.length + 'x' + view.height + 'x' + view.width) return c;
  const el = document.createElement('div');
  el.className = 'node';
  const title = document.createElement('div');
  title.className = 'title';
  title.innerHTML = '<b></b> <span class="muted"></span>';
  title.firstChild.textContent = view.name;
  title.lastChild.textContent = '[' + view.shape.join(',') + ']' + (info && info.worker >= 0 ? ' · worker ' + info.worker : info && info.isInput ? ' · input' : '') + (info && info.isOutput ? ' · output' : '');
  el.appendChild(title);
  const canvases = [];
  let atlas = null;
  if (view.kind === 'maps') {
    // Every shown channel in one canvas (a grid with 1-pixel gaps), scaled up by CSS: one
    // image to draw and composite per node, not one per channel.
    const cols = Math.min(8, view.shown.length);
    const rows = Math.ceil(view.shown.length / cols);
    const cv = document.createElement('canvas');
    cv.className = 'maps';
    cv.width = cols * (view.width + 1) - 1;
    cv.height = rows * (view.height + 1) - 1;
    const scale = Math.max(1, Math.floor(44 / Math.max(view.width, view.height)));
    cv.style.width = cv.width * scale + 'px';
    cv.style.height = cv.height * scale + 'px';
    cv.title = 'channels ' + view.shown.join(', ');
    el.appendChild(cv);
    canvases.push(cv);
    atlas = { cols, image: new ImageData(cv.width, cv.height) };
    atlas.image.data.fill(255);
  } else {
    const cv = document.createElement('canvas');
    cv.className = view.kind === 'image' ? 'picture' : 'bars';
    cv.width = view.kind === 'image' ? view.width : 260;
    cv.height = view.kind === 'image' ? view.height : 64;
    el.appendChild(cv);
    canvases.push(cv);
  }
  const range = document.createElement('div');
  range.className = 'range';
  el.appendChild(range);
  if (c !== undefined) c.el.replaceWith(el);
  else $('states').appendChild(el);
  c = { el, canvases, range, atlas, key: view.kind + view.shown.length + 'x' + view.height + 'x' + view.width };
  cards.set(view.name, c);
  return c;
}

function drawNode(view, info) {
  const c = card(view, info);
  const data = bytes(view.data);
  const n = view.height * view.width;
  if (view.kind === 'bars' || view.kind === 'vector') {
    const ctx = c.canvases[0].getContext('2d');
    const W = c.canvases[0].width, H = c.canvases[0].height;
    ctx.clearRect(0, 0, W, H);
    const lo = view.min[0], hi = view.max[0];
    const zero = hi > lo ? H - 1 - ((0 - lo) / (hi - lo)) * (H - 2) : H - 1;
    const bw = W / view.width;
    ctx.fillStyle = '#2f6fd6';
    for (let i = 0; i < view.width; i++) {
      const y = H - 1 - (data[i] / 255) * (H - 2);
      ctx.fillRect(i * bw, Math.min(y, zero), Math.max(1, bw - (bw > 3 ? 1 : 0)), Math.max(1, Math.abs(zero - y)));
    }
    ctx.fillStyle = '#999';
    ctx.fillRect(0, zero, W, 1);
    setText(c.range, view.shape.reduce((a, b) => a * b, 1) + ' values' + (view.shown.length < view.shape.reduce((a, b) => a * b, 1) ? ' in ' + view.shown.length + ' bars' : '') + ', ' + fmt(lo) + ' .. ' + fmt(hi));
    return;
  }
  if (view.kind === 'image') {
    const img = new ImageData(view.width, view.height);
    const rgb = view.shown.length === 3;
    for (let p = 0; p < n; p++) {
      for (let ch = 0; ch < 3; ch++) img.data[p * 4 + ch] = rgb ? data[p * 3 + ch] : data[p];
      img.data[p * 4 + 3] = 255;
    }
    c.canvases[0].getContext('2d').putImageData(img, 0, 0);
    setText(c.range, fmt(view.min[0]) + ' .. ' + fmt(view.max[0]));
    return;
  }
  const img = c.atlas.image;
  const stride = img.width;
  view.shown.forEach((ch, i) => {
    const x0 = (i % c.atlas.cols) * (view.width + 1);
    const y0 = Math.floor(i / c.atlas.cols) * (view.height + 1);
    for (let y = 0; y < view.height; y++) {
      for (let x = 0; x < view.width; x++) {
        const q = data[i * n + y * view.width + x] * 3;
        const o = ((y0 + y) * stride + x0 + x) * 4;
        img.data[o] = lut[q];
        img.data[o + 1] = lut[q + 1];
        img.data[o + 2] = lut[q + 2];
      }
    }
  });
  c.canvases[0].getContext('2d').putImageData(img, 0, 0);
  const C = view.shape[0];
  setText(c.range, view.shown.length + ' of ' + C + ' channels' + (view.height < view.shape[1] ? ', ' + view.height + 'x' + view.width + ' block means' : '') + ', ' + fmt(Math.min(...view.min)) + ' .. ' + fmt(Math.max(...view.max)));
}

function drawLatency(loop) {
  const cv = $('latency');
  const ctx = cv.getContext('2d');
  ctx.clearRect(0, 0, cv.width, cv.height);
  if (loop === null) { $('latency-text').textContent = 'no real-time loop reports to this view'; return; }
  const b = loop.latencyBuckets;
  let first = b.findIndex((x) => x > 0), last = b.length - 1;
  while (last > 0 && b[last] === 0) last--;
  if (first < 0) return;
  first = Math.max(0, first - 2); last = Math.min(b.length - 1, last + 2);
  const top = Math.max(...b);
  const bw = cv.width / (last - first + 1);
  for (let i = first; i <= last; i++) {
    const h = b[i] === 0 ? 0 : Math.max(2, (Math.log1p(b[i]) / Math.log1p(top)) * (cv.height - 18));
    ctx.fillStyle = Math.pow(2, i / 4) > (loop.rateHz ? 1e6 / loop.rateHz : Infinity) ? '#d1495b' : '#2f6fd6';
    ctx.fillRect((i - first) * bw + 1, cv.height - 14 - h, Math.max(1, bw - 2), h);
  }
  ctx.fillStyle = '#555';
  ctx.font = '10px sans-serif';
  for (let i = first; i <= last; i += 4) { const us = Math.pow(2, i / 4); ctx.fillText(us < 1000 ? Math.round(us) + ' µs' : fmt(us / 1000) + ' ms', (i - first) * bw, cv.height - 2); }
  const l = loop.latencyUs;
  $('latency-text').textContent = 'p50 ' + fmt(l.p50 / 1000) + ' ms, p99 ' + fmt(l.p99 / 1000) + ' ms, p99.9 ' + fmt(l.p999 / 1000) + ' ms, max ' + fmt(l.max / 1000) + ' ms (log-scaled counts; red: later than a frame period)';
}

function drawHistory() {
  const cv = $('history');
  const ctx = cv.getContext('2d');
  ctx.clearRect(0, 0, cv.width, cv.height);
  if (history.length < 2) return;
  const pts = history.slice(-300);
  const t0 = pts[0].t, t1 = pts[pts.length - 1].t;
  const x = (t) => ((t - t0) / Math.max(1e-9, t1 - t0)) * (cv.width - 40) + 30;
  const maxFps = Math.max(1, ...pts.map((p) => p.fps));
  const line = (color, value) => {
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    for (const p of pts) {
      const v = value(p);
      if (v === null) { started = false; continue; }
      const y = cv.height - 12 - v * (cv.height - 24);
      if (!started) ctx.moveTo(x(p.t), y); else ctx.lineTo(x(p.t), y);
      started = true;
    }
    ctx.stroke();
  };
  line('#2f6fd6', (p) => p.accuracy);
  line('#d1495b', (p) => p.fps / maxFps);
  ctx.fillStyle = '#555'; ctx.font = '10px sans-serif';
  ctx.fillText('100%', 0, 14); ctx.fillText('0', 0, cv.height - 10);
  ctx.fillText(fmt(maxFps) + ' f/s', cv.width - 60, 14);
  ctx.fillText(fmt(t0) + ' s', 30, cv.height);
  ctx.fillText(fmt(t1) + ' s', cv.width - 40, cv.height);
}

let slowAt = 0;
let bandCol = -1;
function apply(u) {
  updates++;
  // Timing, histogram and history change slowly: redrawn once a second, so the page costs the
  // browser (which may share the loop's cores) as little as it can.
  const slow = performance.now() - slowAt >= 1000;
  if (slow) slowAt = performance.now();
  // For tools driving the page (tools/ui-browser.ts); an attribute on <body> would restyle it.
  view.updates = updates;
  if (u.history) history.push(u.history);
  if (history.length > 600) history.shift();
  const byName = new Map((network ? network.nodes : []).map((n) => [n.name, n]));
  if (u.states !== null) {
    for (const v of u.states.nodes) drawNode(v, byName.get(v.name));
    view.statesTick = u.states.tick;
    setText($('frame'), '(tick ' + u.states.tick + (u.states.stream > 0 ? ', stream ' + u.states.stream : '') + ')');
    const band = document.getElementById('now');
    const frames = band === null ? 0 : Number(band.dataset.frames);
    const col = Math.min(u.states.tick, frames);
    if (band !== null && col !== bandCol) {
      bandCol = col;
      band.setAttribute('x', String(Number(band.dataset.left) + col * Number(band.dataset.col) - Number(band.dataset.col) / 2));
      $('now-label').textContent = u.states.tick > frames ? '(the current tick, at frame ' + frames + ': from there on every frame looks the same)' : '(tick ' + u.states.tick + ')';
    }
  }
  if (slow) drawSlow(u);
  const l = u.loop;
  if (l !== null) {
    const text = 'tick ' + l.ticks + '  ' + fmt(l.fps) + ' fps  p99 ' + fmt(l.latencyUs.p99 / 1000) + ' ms  misses ' + l.deadlineMisses + '  drops ' + l.drops + (l.accuracy === null ? '' : '  accuracy ' + (100 * l.accuracy).toFixed(1) + '%') + (l.rejected > 0 ? '  rejected ' + l.rejected : '') + (u.control.paused ? '  PAUSED' : '');
    setText($('status'), text);
  } else {
    setText($('status'), 'no real-time loop reports to this view');
  }
  const can = u.control.available;
  setProp($('pause'), 'disabled', !can);
  setText($('pause'), u.control.paused ? 'Resume' : 'Pause');
  setProp($('step'), 'disabled', !can || !u.control.paused);
  setProp($('rate'), 'disabled', !can || u.control.rateHz === null);
  setProp($('setrate'), 'disabled', !can || u.control.rateHz === null);
  if (document.activeElement !== $('rate') && u.control.rateHz !== null) setProp($('rate'), 'value', String(u.control.rateHz));
}

function drawSlow(u) {
  const rows = ['<tr><th>worker</th><th>nodes</th><th>compute</th><th>wait</th><th></th></tr>'];
  const most = Math.max(1, ...u.workers.map((w) => w.computeUs + w.waitUs));
  u.workers.forEach((w, i) => {
    const names = w.nodes.join(', ').replace(/[&<>]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[ch]);
    rows.push('<tr><td>' + i + '</td><td>' + names + '</td><td>' + fmt(w.computeUs) + '</td><td>' + fmt(w.waitUs) + '</td><td style="width:40%"><span class="bar compute" style="width:' + (100 * w.computeUs / most) + '%"></span><span class="bar wait" style="width:' + (100 * w.waitUs / most) + '%"></span></td></tr>');
  });
  $('workers').innerHTML = rows.join('');
  drawLatency(u.loop);
  drawHistory();
}

async function control(body) {
  const res = await fetch(withToken('/control'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) alert((await res.json()).error);
}
$('pause').onclick = () => control({ action: $('pause').textContent === 'Pause' ? 'pause' : 'resume' });
$('step').onclick = () => control({ action: 'step' });
$('setrate').onclick = () => control({ action: 'rate', rateHz: Number($('rate').value) });

async function start() {
  const state = await (await fetch(withToken('/state'))).json();
  network = state.network;
  history = state.history.slice();
  $('name').textContent = state.network.name;
  $('meta').textContent = state.backend + ' · ' + state.workers + ' worker' + (state.workers === 1 ? '' : 's') + ' · F(R) = ' + state.rollout.inferenceFactor + ' · refresh ' + state.refreshHz + ' Hz';
  $('rollout').innerHTML = await (await fetch(withToken('/rollout.svg'))).text();
  apply(state.update);
  const events = new EventSource(withToken('/events'));
  events.onmessage = (e) => apply(JSON.parse(e.data));
  events.onerror = () => { $('status').textContent = 'disconnected (the run ended?); retrying...'; };
}
start().catch((err) => { $('status').textContent = 'cannot load the view: ' + err; });
</script>
</body>
</html>
`;
