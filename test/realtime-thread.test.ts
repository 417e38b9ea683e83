import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { after, test } from 'node:test';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { runRealtime } from '../src/engine/realtime.js';
import { Runtime } from '../src/engine/runtime.js';
import { FrameRing } from '../src/io/frame-ring.js';
import { readMessages } from '../src/io/frame-stream.js';
import { sameBits } from './helpers/numeric.js';
import { digitsNet } from './helpers/digits-net.js';

const dir = await mkdtemp(join(tmpdir(), 'streamroll-loop-'));
after(() => rm(dir, { recursive: true, force: true }));

const tiny = validateNetwork({
  name: 'tiny',
  nodes: [
    { name: 'x', shape: [3] },
    { name: 'h', shape: [4], activation: 'tanh' },
    { name: 'y', shape: [2] },
  ],
  edges: [
    { from: 'x', to: 'h', op: { type: 'dense' } },
    { from: 'h', to: 'h', op: { type: 'dense' } },
    { from: 'h', to: 'y', op: { type: 'dense' } },
  ],
  outputs: ['y'],
});

test('the ring never blocks a sensor: a full ring drops its oldest frame and counts it; bad frames are refused', () => {
  const ring = FrameRing.create([{ name: 'x', size: 3 }], 3);
  for (let t = 0; t < 5; t++) ring.push({ inputs: Float32Array.of(t, t, t), t });
  assert.equal(ring.dropped, 2);
  const seen: number[] = [];
  for (let f = ring.peek(); f !== null; f = ring.peek()) {
    seen.push(f.inputs[0][0]);
    assert.equal(f.t, f.inputs[0][0]);
    assert.ok(ring.take(f.seq));
  }
  assert.deepEqual(seen, [2, 3, 4]);
  assert.throws(() => ring.push({ inputs: Float32Array.of(1, 2) }), /input "x" must be an array of 3 numbers, got 2 values/);
  assert.throws(() => ring.push({ inputs: { z: [1, 2, 3] } }), /"z" is not an input of this ring/);
  ring.end();
  assert.throws(() => ring.push({ inputs: [1, 2, 3] }), /push after end/);
});

test('a sensor on another thread feeds the loop through a ring: every frame computed or dropped as stale, outputs written by the loop thread match the executor', async () => {
  const params = initParameters(tiny, { seed: 4, bias: 'uniform' });
  const rt = await Runtime.create(tiny, { params, workers: 1 });
  try {
    await assert.rejects(runRealtime(rt, { camera: {} }, { rateHz: 10 }), /the camera makes 28x28 MNIST frames; network "tiny" needs x \[3\]/);
    const ring = FrameRing.create([{ name: 'x', size: 3 }], 16);
    const out = join(dir, 'outputs.msgpack');
    const sensor = new Worker(new URL('./fixtures/ring-sensor.js', import.meta.url), { workerData: { handle: ring.handle, frames: 40, size: 3, everyMs: 5 } });
    const exited = once(sensor, 'exit');
    const summary = await runRealtime(rt, ring, { rateHz: 400, sink: { kind: 'file', path: out } });
    await exited;
    assert.equal(summary.ticks + summary.drops + ring.dropped, 40);
    assert.ok(summary.ticks >= 20, `${summary.ticks} ticks`);
    assert.equal(summary.accuracy !== null, true, 'labels came through the ring');
    // The sink saw every computed tick in order, with the executor's outputs for the frames computed.
    const messages: { tick: number; outputs: { y: Float32Array } }[] = [];
    for await (const m of readMessages(createReadStream(out))) messages.push(m as { tick: number; outputs: { y: Float32Array } });
    assert.deepEqual(
      messages.map((m) => m.tick),
      Array.from({ length: summary.ticks }, (_, i) => i + 1),
    );
    if (summary.drops === 0 && ring.dropped === 0) {
      const ref = new ReferenceExecutor(tiny, 'streaming', params, { backend: rt.backend.name });
      messages.forEach((m, t) => assert.ok(sameBits(m.outputs.y, ref.step(Float32Array.of(t, t, t)).y), `tick ${t + 1}`));
    }
    // The runtime is usable afterwards and continues the tick count.
    await rt.step(Float32Array.of(1, 2, 3));
    assert.equal(rt.tick, summary.ticks + 1);
  } finally {
    await rt.close();
  }
});

test('the loop runs off the event loop: blocking the main thread for 400 ms costs no frames', async () => {
  const rt = await Runtime.create(digitsNet(), { workers: 1 });
  try {
    let statuses = 0;
    const run = runRealtime(rt, { camera: { seed: 2 } }, { rateHz: 200, ticks: 200, onStatus: () => statuses++ });
    await new Promise((r) => setTimeout(r, 250));
    // Block this thread without using a core (a busy loop would only measure the 2 cores).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
    const summary = await run;
    assert.equal(summary.ticks + summary.drops, 200);
    assert.ok(summary.drops <= 4, `${summary.drops} frames dropped while the main thread was blocked`);
    assert.ok(statuses >= 3, 'status arrives while running');
    assert.ok(summary.cpuUsPerFrame > 0);
  } finally {
    await rt.close();
  }
});
