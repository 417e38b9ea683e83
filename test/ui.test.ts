import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LoopControl } from '../src/engine/loop-control.js';
import { loadSource } from '../src/engine/model-source.js';
import { runRealtime } from '../src/engine/realtime.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime } from '../src/engine/runtime.js';
import { validateNetwork } from '../src/graph/network.js';
import { nodeView, readStates } from '../src/ui/state-snapshot.js';
import { serveUi, type UiState, type UiUpdate } from '../src/ui/ui-server.js';
import { isStreamrollError } from '../src/util/errors.js';
import { CHROMIUM } from '../tools/ui-browser.js';
import { cli } from './helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = await mkdtemp(join(tmpdir(), 'streamroll-ui-'));
after(() => rm(dir, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const decode = (b64: string): number[] => [...Buffer.from(b64, 'base64')];

/** One HTTP request to the view; the body as text. */
function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The first `n` updates of an event stream. */
function events(url: string, n: number): Promise<UiUpdate[]> {
  return new Promise((resolve, reject) => {
    const got: UiUpdate[] = [];
    const req = request(url, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let at = buffer.indexOf('\n\n');
        while (at >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) got.push(JSON.parse(line.slice(6)) as UiUpdate);
          at = buffer.indexOf('\n\n');
        }
        if (got.length >= n) {
          req.destroy();
          resolve(got.slice(0, n));
        }
      });
    });
    req.on('error', (err) => (got.length >= n ? undefined : reject(err)));
    req.end();
  });
}

test('a view of a node: input frames as pictures, maps as evenly spaced channels of block means, vectors as bars from zero', () => {
  const net = validateNetwork({
    name: 'shapes',
    nodes: [
      { name: 'flat', shape: [784] },
      { name: 'maps', shape: [32, 64, 48], activation: 'relu' },
      { name: 'v', shape: [1000] },
    ],
    edges: [
      { from: 'flat', to: 'v', op: { type: 'dense' } },
      { from: 'flat', to: 'maps', op: { type: 'dense' } },
    ],
    outputs: ['v'],
  });
  const [flat, maps, v] = net.nodes;
  const pixels = Float32Array.from({ length: 784 }, (_, i) => (i % 28) / 27);
  const picture = nodeView(flat, pixels);
  assert.equal(picture.kind, 'image');
  assert.deepEqual([picture.height, picture.width], [28, 28]);
  assert.deepEqual(
    decode(picture.data).slice(0, 28),
    Array.from({ length: 28 }, (_, x) => Math.round((x / 27) * 255)),
  );

  const values = Float32Array.from({ length: 32 * 64 * 48 }, (_, i) => {
    const c = Math.floor(i / (64 * 48));
    const x = i % 48;
    return c * 100 + x;
  });
  const view = nodeView(maps, values);
  assert.equal(view.kind, 'maps');
  assert.deepEqual(view.shown, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]);
  // 64x48 in blocks of 2x2: 32x24 means.
  assert.deepEqual([view.height, view.width], [32, 24]);
  assert.equal(view.min[1], 200 + 0.5, 'channel 2, block mean of x = 0 and 1');
  assert.equal(view.max[1], 200 + 46.5);
  const bytes = decode(view.data);
  assert.equal(bytes.length, 16 * 32 * 24);
  assert.equal(bytes[24 * 32 + 0], 0, "each channel's own range");
  assert.equal(bytes[24 * 32 + 23], 255);

  const bars = nodeView(
    v,
    Float32Array.from({ length: 1000 }, (_, i) => (i < 500 ? -1 : 3)),
  );
  assert.equal(bars.kind, 'vector');
  assert.equal(bars.width, 125, '1000 values in blocks of 8');
  assert.deepEqual([bars.min[0], bars.max[0]], [-1, 3]);
  assert.deepEqual(decode(bars.data).slice(60, 66), [0, 0, 128, 255, 255, 255], 'block 62 holds four of each: mean 1');
  const positive = nodeView(v, new Float32Array(1000).fill(2));
  assert.deepEqual([positive.min[0], positive.max[0]], [0, 2], 'bars grow from zero');
});

test('the states read from a running engine are the executor states of the same tick (HWC native layout, 2 workers)', async () => {
  const loaded = await loadSource(join(root, 'examples/conv-chain-4.json'), { seed: 7 });
  const rt = await Runtime.create(loaded.network, { rollout: 'streaming', params: loaded.params, workers: 2 });
  try {
    // The same kernels as the engine's, so the states agree bit for bit.
    const ex = new ReferenceExecutor(loaded.network, 'streaming', loaded.params, { backend: rt.backend.name });
    const full = { maxChannels: 1000, maxSide: 1000, maxBars: 1_000_000 };
    for (let t = 0; t < 6; t++) {
      const input = Float32Array.from({ length: 16 * 32 * 32 }, (_, i) => Math.sin(i * 0.37 + t));
      await rt.step(input);
      ex.step(input);
    }
    // The last tick through a zero-copy slot: its batch entry carries a flag beside the stream.
    const input = Float32Array.from({ length: 16 * 32 * 32 }, (_, i) => Math.cos(i * 0.11));
    const slot = await rt.nextInput();
    slot.input('image').set(input);
    (await slot.commit()).release();
    ex.step(input);
    const snapshot = readStates(rt.network, rt.arena, rt.backend.layout, full);
    assert.ok(snapshot !== null);
    assert.equal(snapshot.tick, 7, 'the seventh tick (ticks count from 1, as in run)');
    assert.equal(snapshot.stream, 0);
    for (const [v, node] of rt.network.nodes.entries()) {
      assert.deepEqual(snapshot.nodes[v], nodeView(node, ex.state(node.name), full), `node ${node.name}`);
    }
  } finally {
    await rt.close();
  }
});

test('serveUi: the page, /state, /events with states that advance, and pause / step / rate through POST /control', async () => {
  const loaded = await loadSource(join(root, 'examples/mnist-sr.srm'), {});
  const rt = await Runtime.create(loaded.network, { rollout: loaded.rollout, params: loaded.params, workers: 1 });
  const control = new LoopControl();
  const ui = await serveUi(rt, { control, refreshHz: 20 });
  const stop = new AbortController();
  const loop = runRealtime(rt, { camera: { seed: 1 } }, { rateHz: 200, control, signal: stop.signal, statusMs: 50, onStatus: ui.onStatus });
  try {
    assert.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await call(ui.url);
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.body, /new EventSource/);
    assert.doesNotMatch(page.body, /https?:\/\/(?!view)[a-z]/i, 'no external resources');
    await sleep(1300);

    const state = JSON.parse((await call(`${ui.url}state`)).body) as UiState;
    assert.deepEqual(
      state.network.nodes.map((n) => n.name),
      ['image', 'h1', 'h2', 'prediction'],
    );
    assert.equal(state.rollout.firstResponseFrame, 2);
    assert.equal(state.refreshHz, 20);
    assert.ok(state.update.states !== null);
    assert.deepEqual(
      state.update.states.nodes.map((n) => n.kind),
      ['image', 'maps', 'vector', 'vector'],
    );
    assert.ok(state.history.length >= 1, 'a history point a second');
    const svg = await call(`${ui.url}rollout.svg`);
    assert.match(svg.body, /<rect id="now"/);

    const updates = await events(`${ui.url}events`, 4);
    const ticks = updates.map((u) => u.states?.tick ?? -1);
    assert.ok(
      ticks.every((t, i) => i === 0 || t > ticks[i - 1]),
      `states advance: ${ticks.join(', ')}`,
    );
    const last = updates[3];
    assert.ok(last.loop !== null && last.loop.ticks > 100);
    assert.equal(last.loop.latencyBuckets.length, 96);
    assert.equal(last.workers.length, 1);
    assert.ok(last.workers[0].computeUs > 0);
    assert.deepEqual(last.control, { available: true, paused: false, rateHz: 200 });
    const half = await events(`${ui.url}events?hz=10`, 3);
    assert.ok(half[2].time - half[0].time >= 160, `a page asking for 10 Hz of 20 gets every other update (at ${half.map((u) => u.time).join(', ')} ms)`);
    await sleep(50);
    assert.equal(ui.clients(), 0, 'closed streams are forgotten');

    const post = (body: unknown, type = 'application/json'): ReturnType<typeof call> => call(`${ui.url}control`, { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(body) });
    assert.deepEqual(JSON.parse((await post({ action: 'pause' })).body), { attached: true, paused: true, rateHz: 200 });
    await sleep(150);
    const held = (await events(`${ui.url}events`, 1))[0].states?.tick ?? -1;
    await sleep(200);
    assert.equal((await events(`${ui.url}events`, 1))[0].states?.tick, held, 'paused: the states stay');
    assert.equal((await post({ action: 'step' })).status, 200);
    await sleep(150);
    assert.equal((await events(`${ui.url}events`, 1))[0].states?.tick, held + 1, 'one step, one tick');
    assert.equal(JSON.parse((await post({ action: 'rate', rateHz: 50 })).body).rateHz, 50);
    assert.equal((await post({ action: 'rate', rateHz: -1 })).status, 400);
    assert.equal((await post({ action: 'explode' })).status, 400);
    assert.equal((await post({ action: 'pause' }, 'text/plain')).status, 415, 'a form post from another site cannot steer the loop');
    assert.equal((await call(`${ui.url}control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })).status, 400);
    assert.equal((await call(`${ui.url}control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(5000) })).status, 413);
    assert.equal((await post({ action: 'resume' })).status, 200);
    assert.equal((await call(`${ui.url}state`, { headers: { host: 'attacker.example:80' } })).status, 403, 'a rebound DNS name is refused');
    assert.equal((await call(`${ui.url}nothing`)).status, 404);
    assert.equal((await call(`${ui.url}state`, { method: 'DELETE' })).status, 405);
  } finally {
    stop.abort();
    await loop;
    await ui.close();
    await rt.close();
  }
  assert.equal(
    (await call(`${ui.url}control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"action":"pause"}' }).catch((e: Error) => e)) instanceof Error,
    true,
    'closed',
  );
});

test('serveUi: tokens, the loopback rule, the page limit and a loop that is not running', async () => {
  const rt = await Runtime.create(join(root, 'examples/mnist-sr.json'), { workers: 1 });
  try {
    await assert.rejects(serveUi(rt, { host: '0.0.0.0' }), (e: unknown) => isStreamrollError(e) && e.code === 'OPTION_INVALID' && /public: true/.test(e.message));
    await assert.rejects(serveUi(rt, { refreshHz: 100 }), /refreshHz/);
    const control = new LoopControl();
    const ui = await serveUi(rt, { token: 's3cret', maxClients: 1, control });
    try {
      assert.match(ui.url, /\?token=s3cret$/);
      const bare = ui.url.replace(/\?.*$/, '');
      assert.equal((await call(`${bare}state`)).status, 401);
      assert.equal((await call(`${bare}state`, { headers: { authorization: 'Bearer s3cret' } })).status, 200);
      const state = JSON.parse((await call(`${bare}state?token=s3cret`)).body) as UiState;
      assert.equal(state.update.loop, null, 'no loop reports to this view');
      assert.deepEqual(state.update.control, { available: false, paused: false, rateHz: null });
      const conflict = await call(`${bare}control?token=s3cret`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"action":"pause"}' });
      assert.equal(conflict.status, 409);
      // The runtime driven by step(): the view reads its states too.
      await rt.step(new Float32Array(784).fill(0.5));
      await rt.step(new Float32Array(784).fill(0.5));
      const first = events(`${bare}events?token=s3cret`, 1);
      const update = (await first)[0];
      assert.equal(update.states?.tick, 2);
      const one = request(`${bare}events?token=s3cret`);
      one.end();
      await sleep(100);
      assert.equal((await call(`${bare}events?token=s3cret`)).status, 503, 'one page at most');
      one.destroy();
    } finally {
      await ui.close();
    }
  } finally {
    await rt.close();
  }
});

test('run --ui serves the view while the loop runs and checks its address', async () => {
  const bad = await cli('run', '--ui', '0.0.0.0:0', '--duration', '1');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--listen-public/);
  const wrong = await cli('run', '--ui', 'nope', '--duration', '1');
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /expected \[HOST:\]PORT/);
  assert.match((await cli('run', '--ui-refresh', '5', '--duration', '1')).err, /--ui-refresh is for --ui/);
  const child = spawn(process.execPath, [join(root, 'dist/src/cli/main.js'), 'run', '--ui', '0', '--duration', '3', '--log-level', 'warn', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  while (!/live view: (\S+)/.test(err)) await sleep(50);
  const url = /live view: (\S+)/.exec(err)?.[1] ?? '';
  await sleep(800);
  const state = JSON.parse((await call(`${url}state`)).body) as UiState;
  assert.ok((state.update.loop?.ticks ?? 0) > 20, 'the loop reports to the view');
  assert.equal(state.update.control.available, true);
  const [code] = (await new Promise<unknown[]>((r) => child.once('exit', (...a) => r(a)))) as [number];
  assert.equal(code, 0);
  assert.ok((JSON.parse(out) as { ticks: number }).ticks > 200);
});

test('the page in headless Chromium draws the states, updates and throws nothing (skipped without Debian chromium)', {
  skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`,
}, async () => {
  const loaded = await loadSource(join(root, 'examples/mnist-sr.srm'), {});
  const rt = await Runtime.create(loaded.network, { rollout: loaded.rollout, params: loaded.params, workers: 1 });
  const control = new LoopControl();
  const ui = await serveUi(rt, { control });
  const stop = new AbortController();
  const loop = runRealtime(rt, { camera: { seed: 1 } }, { rateHz: 100, control, signal: stop.signal, statusMs: 100, onStatus: ui.onStatus });
  try {
    const shot = join(dir, 'view.png');
    const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', join(root, 'dist/tools/ui-browser.js'), ui.url, '--updates', '10', '--screenshot', shot], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = (await new Promise<unknown[]>((r) => child.once('exit', (...a) => r(a)))) as [number];
    assert.equal(code, 0, err);
    const report = JSON.parse(out) as { updates: number; statesTick: number; exceptions: string[] };
    assert.ok(report.updates >= 10);
    assert.ok(report.statesTick > 0, 'the page drew states');
    assert.deepEqual(report.exceptions, []);
    const png = await readFile(shot);
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.ok(png.length > 20_000, `a screenshot with content (${png.length} bytes)`);
  } finally {
    stop.abort();
    await loop;
    await ui.close();
    await rt.close();
  }
});
