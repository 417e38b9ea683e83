import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli } from './helpers/cli.js';
import { runRealtime, OverrunError } from '../src/engine/realtime.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime } from '../src/engine/runtime.js';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { fixedRate } from '../src/io/clock.js';
import { encodeMessage, readMessages } from '../src/io/frame-stream.js';
import type { SourceFrame } from '../src/io/frames.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { sameBits } from './helpers/numeric.js';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'dist/src/cli/main.js');
const dir = await mkdtemp(join(tmpdir(), 'streamroll-run-'));
after(() => rm(dir, { recursive: true, force: true }));

test('the clock keeps absolute deadlines: over 2,000 ticks at 500 Hz the ticks do not drift (median lateness of the last 100 under 1 ms)', async () => {
  const lateness: number[] = [];
  let first = -1;
  for await (const { index, deadline } of fixedRate(500, { ticks: 2000 })) {
    const now = performance.now();
    if (index === 0) first = deadline;
    assert.equal(deadline, first + index * 2, 'deadlines are absolute');
    assert.ok(now >= deadline, `tick ${index} came ${(deadline - now).toFixed(3)} ms early`);
    lateness.push(now - deadline);
  }
  assert.equal(lateness.length, 2000);
  // Single ticks can be late on a busy machine (jitter); drift would show as a growing median.
  const tail = lateness.slice(-100).sort((a, b) => a - b);
  assert.ok(tail[50] < 1, `median lateness of the last 100 ticks: ${tail[50].toFixed(3)} ms`);
});

/** A network slow on purpose: a 1500x1500 dense layer on the plain-JS kernels (milliseconds a frame). */
async function slowRuntime(): Promise<Runtime> {
  const net = validateNetwork({
    name: 'slow',
    nodes: [
      { name: 'x', shape: [1500] },
      { name: 'y', shape: [1500] },
    ],
    edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
    outputs: ['y'],
  });
  return Runtime.create(net, { backend: 'reference', workers: 1, calibrate: false, warmUp: 2 });
}

function* frames(n: number): Generator<SourceFrame> {
  for (let t = 0; t < n; t++) yield { inputs: new Float32Array(1500).fill(t % 7), t };
}

test('overrun policies on a network slower than the rate: drop and latest skip frames, queue fails clearly', async () => {
  const rt = await slowRuntime();
  try {
    const drop = await runRealtime(rt, frames(60), { rateHz: 1000, overrun: 'drop' });
    assert.ok(drop.drops > 0, 'drop skipped stale frames');
    assert.equal(drop.ticks + drop.drops, 60);
    assert.ok(drop.deadlineMisses > 0);
    const latest = await runRealtime(rt, frames(60), { rateHz: 1000, overrun: 'latest' });
    assert.ok(latest.drops > 0);
    assert.equal(latest.ticks + latest.drops, 60);
    await assert.rejects(
      runRealtime(rt, frames(200), { rateHz: 1000, overrun: 'queue', queueLimit: 5 }),
      (e: unknown) => e instanceof OverrunError && /input queue full: 6 frames waiting \(limit 5\)/.test(e.message),
    );
    // A rate the network can follow: nothing dropped, nothing missed.
    const easy = await runRealtime(rt, frames(10), { rateHz: 20, overrun: 'queue' });
    assert.deepEqual([easy.ticks, easy.drops], [10, 0]);
  } finally {
    await rt.close();
  }
});

async function outputsOf(file: string): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for await (const m of readMessages(createReadStream(file))) out.push((m as { outputs: { prediction: Float32Array } }).outputs.prediction);
  return out;
}

test('a recording holds exactly the frames an image network was given (copied into HWC states on the way in, read back row-major)', async () => {
  const frames = Array.from({ length: 6 }, (_, t) => Float32Array.from({ length: 16 * 32 * 32 }, (_, i) => ((i * 7 + t * 13) % 29) / 7 - 2));
  const source = join(dir, 'chain-in.msgpack');
  await writeFile(source, Buffer.concat(frames.map((image, t) => encodeMessage({ t: t * 10, inputs: { image } }))));
  const rec = join(dir, 'chain-rec.msgpack');
  const r = await cli('run', join(root, 'examples/conv-chain-4.json'), '--source', source, '--rate', '100', '--duration', '0', '--record', rec, '--log-level', 'silent', '--json');
  assert.equal(r.code, 0, r.err);
  const got: Float32Array[] = [];
  for await (const m of readMessages(createReadStream(rec))) got.push((m as { inputs: { image: Float32Array } }).inputs.image);
  assert.equal(got.length, frames.length);
  got.forEach((g, t) => assert.ok(sameBits(g, frames[t]), `frame ${t}`));
});

test('record -> replay reproduces the outputs exactly', async () => {
  const rec = join(dir, 'inputs.msgpack');
  const first = join(dir, 'out1.msgpack');
  const second = join(dir, 'out2.msgpack');
  const a = await cli('run', '--duration', '0.3', '--rate', '100', '--record', rec, '--sink', first, '--log-level', 'silent', '--json');
  assert.equal(a.code, 0, a.err);
  const b = await cli('run', '--source', rec, '--rate', '100', '--duration', '0', '--sink', second, '--log-level', 'silent', '--json');
  assert.equal(b.code, 0, b.err);
  const x = await outputsOf(first);
  const y = await outputsOf(second);
  assert.ok(x.length >= 25, `${x.length} frames recorded`);
  assert.equal(y.length, x.length);
  x.forEach((v, i) => assert.ok(sameBits(v, y[i]), `frame ${i}`));
  const summary = JSON.parse(b.out) as { ticks: number; accuracy: number | null };
  assert.equal(summary.ticks, x.length);
  assert.equal(typeof summary.accuracy, 'number', 'labels travel with the recording');
  // At the recorded times: frames were due every 10 ms, so the replay spans ~10 ms per frame.
  const third = join(dir, 'out3.msgpack');
  const started = performance.now();
  const c = await cli('run', '--source', rec, '--rate', 'recorded', '--duration', '0', '--sink', third, '--log-level', 'silent', '--json');
  assert.equal(c.code, 0, c.err);
  assert.ok(performance.now() - started >= 0.8 * 10 * (x.length - 1), 'replayed at the recorded pace, not faster');
  (await outputsOf(third)).forEach((v, i) => assert.ok(sameBits(v, x[i]), `recorded-rate frame ${i}`));
  assert.match((await cli('run', '--rate', 'recorded')).err, /--rate recorded needs a recording/);
  // Faster than the network computes: a replay still computes every frame by default (the
  // queue), so the outputs stay exact; skipping frames must be asked for, and is reported.
  const fourth = join(dir, 'out4.msgpack');
  const d = await cli('run', '--source', rec, '--rate', '100000', '--duration', '0', '--sink', fourth, '--log-level', 'silent', '--json');
  assert.equal(d.code, 0, d.err);
  assert.equal((JSON.parse(d.out) as { drops: number }).drops, 0);
  (await outputsOf(fourth)).forEach((v, i) => assert.ok(sameBits(v, x[i]), `fast replay frame ${i}`));
  const e = await cli('run', '--source', rec, '--rate', '100000', '--duration', '0', '--overrun', 'drop', '--log-level', 'silent', '--json');
  assert.equal(e.code, 0, e.err);
  const dropped = (JSON.parse(e.out) as { drops: number }).drops;
  assert.equal(/recorded frames were skipped \(--overrun drop\): outputs differ/.test(e.err), dropped > 0, e.err);
});

test('stdin source: garbled, wrong-shape and non-object messages are rejected, good frames still computed', async () => {
  const child = spawn(process.execPath, [bin, 'run', '--source', 'stdin', '--rate', '200', '--duration', '0', '--json', '--log-level', 'warn'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const good = (t: number): Buffer => encodeMessage({ t, inputs: { image: new Float32Array(784).fill(0.5) } });
  const garbled = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from([0xc1, 0xc1, 0xc1])]);
  child.stdin.write(
    Buffer.concat([
      good(0),
      garbled,
      good(1),
      encodeMessage({ t: 2, inputs: { image: [1, 2, 3] } }),
      encodeMessage([1, 2]),
      good(3),
      encodeMessage({ inputs: { picture: new Float32Array(784) } }),
      good(4),
    ]),
  );
  child.stdin.end();
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0, err);
  assert.equal((JSON.parse(out) as { ticks: number }).ticks, 4);
  assert.match(err, /not valid msgpack/);
  assert.match(err, /input \\"image\\" has 3 values, expected 784|input "image" has 3 values, expected 784/);
  assert.match(err, /4 input messages rejected/);
  // Nothing usable, or a stream cut short by an unreadable length: a failed run, exit 1.
  for (const [bytes, why] of [
    [Buffer.from([0, 0, 0, 2, 0xc1, 0xc1]), /none of the 1 input messages could be used/],
    [Buffer.concat([good(0), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])]), /the input stream ended on an unreadable message .*over the limit/],
  ] as const) {
    const bad = spawn(process.execPath, [bin, 'run', '--source', 'stdin', '--duration', '0', '--log-level', 'silent'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let badErr = '';
    bad.stderr.on('data', (d: Buffer) => (badErr += d.toString()));
    bad.stdin.end(bytes);
    assert.equal(((await once(bad, 'exit')) as [number])[0], 1, badErr);
    assert.match(badErr, why);
  }
});

test('SIGINT during run stops cleanly: exit 0 and the summary', async () => {
  const child = spawn(process.execPath, [bin, 'run', '--duration', '0', '--rate', '200', '--json', '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // Wait for the first status line, proof that ticks are running.
  while (!/tick \d+/.test(err)) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0, err);
  const summary = JSON.parse(out) as { ticks: number; rateHz: number; deadlineMisses: number; drops: number; latencyUs: { p99: number } };
  assert.ok(summary.ticks > 0);
  assert.equal(summary.rateHz, 200);
  assert.ok(summary.latencyUs.p99 > 0);
});

test("--sink tcp://HOST:PORT streams every tick's outputs to a listener", async () => {
  const { createServer } = await import('node:net');
  const received: number[] = [];
  const server = createServer((socket) => {
    void (async () => {
      for await (const m of readMessages(socket)) received.push((m as { tick: number }).tick);
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const r = await cli('run', '--duration', '0.2', '--rate', '100', '--sink', `tcp://127.0.0.1:${port}`, '--log-level', 'silent', '--json');
  assert.equal(r.code, 0, r.err);
  const ticks = (JSON.parse(r.out) as { ticks: number }).ticks;
  for (let i = 0; i < 50 && received.length < ticks; i++) await new Promise((res) => setTimeout(res, 10));
  server.close();
  assert.deepEqual(
    received,
    Array.from({ length: ticks }, (_, i) => i + 1),
  );
});

test('run --help lists every option it takes; bad options are clear errors', async () => {
  const help = await cli('run', '--help');
  for (const o of ['--rollout', '--rate', '--duration', '--source', '--sink', '--record', '--overrun', '--workers', '--noise-std', '--seed', '--log-level', '--json'])
    assert.ok(help.out.includes(o), o);
  assert.match((await cli('run', '--rate', 'fast')).err, /--rate must be a rate in Hz/);
  assert.match((await cli('run', '--overrun', 'panic')).err, /--overrun must be drop, latest or queue/);
  assert.match((await cli('run', '--source', 'camera0')).err, /--source must be synthetic, stdin, tcp:\/\/HOST:PORT or FILE.msgpack/);
  await readFile(bin);
});

test('a push source feeds a callback-style sensor into the real-time loop; a full buffer drops the oldest', async () => {
  const { PushSource } = await import('../src/io/push-source.js');
  const rt = await Runtime.create(
    validateNetwork({
      name: 'tiny',
      nodes: [
        { name: 'x', shape: [3] },
        { name: 'y', shape: [2] },
      ],
      edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
      outputs: ['y'],
    }),
    { workers: 1 },
  );
  try {
    const source = new PushSource({ bufferLimit: 4 });
    let t = 0;
    const sensor = setInterval(() => {
      source.push({ inputs: Float32Array.of(t, t, t), t });
      if (++t === 20) {
        clearInterval(sensor);
        source.end();
      }
    }, 2);
    const summary = await runRealtime(rt, source, { rateHz: 500 });
    // Every pushed frame is computed or, when a newer one already waits, dropped as stale.
    assert.equal(summary.ticks + summary.drops, 20 - source.dropped);
    assert.ok(summary.ticks >= 10, `${summary.ticks} ticks`);
    const burst = new PushSource({ bufferLimit: 3 });
    for (let i = 0; i < 5; i++) burst.push({ inputs: Float32Array.of(i, i, i), t: i });
    burst.end();
    const seen: number[] = [];
    for await (const f of burst) seen.push(f.t as number);
    assert.deepEqual(seen, [2, 3, 4]);
    assert.equal(burst.dropped, 2);
  } finally {
    await rt.close();
  }
});

test("after a real-time loop the runtime's own stream goes on from the loop's last frame: step() matches an executor given every frame, the loop's included", async () => {
  const net = await loadNetworkFile(join(root, 'examples/mnist-sr.json'));
  const params = initParameters(net, { seed: 21 });
  const rt = await Runtime.create(net, { params, calibrate: false, warmUp: 0 });
  try {
    const image = (t: number): Float32Array => Float32Array.from({ length: 784 }, (_, i) => ((i * 7 + t * 13) % 29) / 29);
    const ref = new ReferenceExecutor(net, 'streaming', params, { backend: rt.backend.name });
    for (const t of [0, 1]) assert.ok(sameBits((await rt.step({ image: image(t) })).prediction, ref.step({ image: image(t) }).prediction), `step ${t} before`);
    const looped = Array.from({ length: 12 }, (_, t) => image(2 + t));
    assert.equal(
      (
        await runRealtime(
          rt,
          looped.map((x) => ({ inputs: { image: x } })),
          { rateHz: 2000, overrun: 'queue' },
        )
      ).ticks,
      12,
    );
    for (const x of looped) ref.step({ image: x });
    assert.equal(rt.tick, 14);
    // Different frames from the loop's, so a stale slot of the loop cannot pass for the answer.
    for (let t = 0; t < 4; t++) {
      const x = image(100 + t).map((v) => 1 - v);
      assert.ok(sameBits((await rt.step({ image: x })).prediction, ref.step({ image: x }).prediction), `step ${t} after`);
    }
    assert.equal(rt.tick, 18);
  } finally {
    await rt.close();
  }
});
