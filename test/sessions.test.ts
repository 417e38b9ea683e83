import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import type { Network } from '../src/graph/network.js';
import { initParameters, type Parameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime, RuntimeError, type Session } from '../src/engine/runtime.js';
import { ViewError } from '../src/engine/frame-views.js';
import { encodeMessage, readMessages } from '../src/io/frame-stream.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { nativeAvailable } from '../src/kernels/native/index.js';
import { serveFrames } from '../src/engine/serve-frames.js';
import { runRealtime } from '../src/engine/realtime.js';
import type { Rollout } from '../src/rollout/pattern.js';
import { Random } from '../src/util/random.js';
import { sameBits } from './helpers/numeric.js';
import { netParams, randomNetwork, randomValidDelays, randomInputs } from './helpers/random-network.js';

const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

/** A session's frames checked against an executor serving that stream alone. */
class Shadow {
  readonly ref: ReferenceExecutor;
  ticks = 0;
  constructor(net: Network, rollout: Rollout, params: Parameters, backend: string) {
    this.ref = new ReferenceExecutor(net, rollout, params, { backend });
  }

  check(got: Readonly<Record<string, Float32Array>>, input: Record<string, Float32Array>, what: string): void {
    const want = this.ref.step(input);
    this.ticks++;
    for (const name of Object.keys(want)) assert.ok(sameBits(got[name], want[name]), `${what}: tick ${this.ticks} ${name}`);
  }
}

test('sessions: random networks, rollouts, 1-4 workers, ring depths, interleavings, churn and growth; every session matches an executor serving it alone, bit for bit', async () => {
  await fc.assert(
    fc.asyncProperty(
      netParams(true, 6),
      fc.integer({ min: 0, max: 1e9 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 2 }),
      async (p, seed, maxDelay, workers, streams, sessionQueue, slack) => {
        const net = randomNetwork(p);
        const rollout: Rollout = { kind: 'pattern', delays: randomValidDelays(net, seed, maxDelay) };
        const params = initParameters(net, { seed, bias: 'uniform' });
        const rt = await Runtime.create(net, { rollout, params, workers, calibrate: false, queue: 3, sessionQueue, slack, streams });
        try {
          const rng = new Random(seed);
          const backend = rt.backend.name;
          const open: { s: Session; shadow: Shadow }[] = [];
          const own = new Shadow(net, rollout, params, backend);
          let capacity = streams;
          for (let round = 0; round < 14; round++) {
            // Half the time the runtime grows by a stream halfway (every session goes on).
            if (round === 7 && rng.next() < 0.5) await rt.grow(++capacity);
            // Churn: open until full now and then, close one at random now and then.
            while (open.length < capacity && rng.next() < 0.6) open.push({ s: await rt.open(), shadow: new Shadow(net, rollout, params, backend) });
            if (open.length > 0 && rng.next() < 0.2) {
              const [gone] = open.splice(rng.int(0, open.length - 1), 1);
              await gone.s.close();
            }
            // A random subset steps at once (one engine frame for all), some twice in a row,
            // through step(), nextInput()/commit() or run(); the runtime's own stream too.
            const jobs: Promise<void>[] = [];
            for (const { s, shadow } of open) {
              if (rng.next() < 0.3) continue;
              const how = rng.int(0, 2);
              const inputs = Array.from({ length: rng.int(1, 2) }, () => randomInputs(net, rng));
              jobs.push(
                (async () => {
                  if (how === 0) {
                    for (const x of inputs) shadow.check(await s.step(x), x, `session ${s.stream} step`);
                  } else if (how === 1) {
                    for (const x of inputs) {
                      const slot = await s.nextInput();
                      for (const [name, a] of Object.entries(x)) slot.input(name).set(a);
                      const frame = await slot.commit();
                      shadow.check(frame.outputs, x, `session ${s.stream} commit`);
                      frame.release();
                    }
                  } else {
                    let i = 0;
                    for await (const r of s.run(inputs)) shadow.check(r.outputs, inputs[i++], `session ${s.stream} run`);
                  }
                })(),
              );
            }
            if (rng.next() < 0.5) {
              const x = randomInputs(net, rng);
              jobs.push(rt.step(x).then((y) => own.check(y, x, 'own stream')));
            }
            await Promise.all(jobs);
          }
          // A reopened stream starts from zeros: the first frame matches a fresh executor.
          for (const { s } of open) await s.close();
          const fresh = await rt.open();
          const x = randomInputs(net, rng);
          new Shadow(net, rollout, params, backend).check(await fresh.step(x), x, 'reopened');
        } finally {
          await rt.close();
        }
      },
    ),
    { numRuns: 20 },
  );
});

test("sessions: sessionQueue bounds a session's frames in flight and held; by default the sessions' queued frames stay within RING_CACHE_BYTES", async () => {
  const mnist = await loadNetworkFile(example('mnist-sr'));
  const rt = await Runtime.create(mnist, { workers: 1, streams: 2, queue: 8, sessionQueue: 2, calibrate: false });
  try {
    const s = await rt.open();
    assert.equal(s.queue, 2);
    assert.equal(rt.queue, 8);
    const x = new Float32Array(784).fill(0.25);
    // Frame 1 held: frames 2 and 3 may follow it, frame 4 would be 3 past it (queue 2).
    const held = await (await s.nextInput()).commit();
    for (let i = 0; i < 2; i++) (await (await s.nextInput()).commit()).release();
    await assert.rejects(s.nextInput(), (e: unknown) => e instanceof ViewError && /queue = 2/.test(e.message));
    held.release();
    const frame = await (await s.nextInput()).commit();
    assert.equal(frame.tick, 4);
    frame.release();
    // The runtime's own stream keeps the whole queue.
    const own = [];
    for (let i = 0; i < 8; i++) own.push(await (await rt.nextInput()).commit());
    for (const f of own) f.release();
    assert.equal((await s.step(x)).prediction.length, 10);
  } finally {
    await rt.close();
  }
  await assert.rejects(Runtime.create(mnist, { streams: 2, queue: 8, sessionQueue: 9, calibrate: false }), /sessionQueue must be an integer from 1 to queue \(8\)/);
  // Defaults: small frames keep the whole queue; 64 KB frames in 8 sessions get 4
  // (8 x 4 x 128 KB of input and output slots = RING_CACHE_BYTES).
  const chain = await loadNetworkFile(example('conv-chain-4'));
  for (const [net, want] of [
    [mnist, 16],
    [chain, 4],
  ] as const) {
    const r = await Runtime.create(net, { streams: 8, queue: 16, calibrate: false });
    try {
      assert.equal((await r.open()).queue, want, net.name);
      assert.equal(r.queue, 16);
    } finally {
      await r.close();
    }
  }
});

test('sessions: a queued frame costs one slot per input and output; the other state rings stay as short as the rollout allows', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const bytes = async (queue: number): Promise<number> => {
    const rt = await Runtime.create(net, { workers: 1, streams: 1, queue, calibrate: false });
    try {
      return rt.stats().streams.bytesPerStream;
    } finally {
      await rt.close();
    }
  };
  // 28 more queued frames: one slot each for the input (784 floats; one channel, so its state
  // ring holds the queue and it has no staging ring) and the output's staging ring (10
  // floats, one 64-byte line); every other ring stays as it was.
  assert.equal((await bytes(32)) - (await bytes(4)), 28 * (784 * 4 + 64));
});

test("frames are copied straight into their inputs' state rings (converted on the way where the orders differ), which hold each stream its queue; a rejected frame leaves no trace; zero-copy frames too", async () => {
  for (const name of ['mnist-sr', 'conv-chain-4']) {
    const net = await loadNetworkFile(example(name));
    const params = initParameters(net, { seed: 3, bias: 'uniform' });
    const rt = await Runtime.create(net, { params, streams: 2, queue: 8, sessionQueue: 3, calibrate: false });
    try {
      const v = net.inputs[0];
      const node = net.nodes[v];
      const plan = rt.arena.plan;
      const inOrder = node.shape[0] === 1 || plan.layout === 'chw';
      const needed = 1 + Math.max(1, ...node.outEdges.map((e) => rt.rollout.delays[e]));
      // Only an input whose order differs has a row-major staging ring (for zero-copy views).
      assert.equal(plan.staging[v] === null, inOrder, `${name}: staging ring`);
      assert.deepEqual([plan.states[v].depth, plan.states[v].sessionDepth], [needed + 8, needed + 3], `${name}: input ring depths`);
      // A frame with a NaN is rejected after it was copied into its slot; the next frame
      // takes that slot, and the session goes on as if the bad one never came.
      const s = await rt.open();
      const shadow = new Shadow(net, rt.rollout, params, rt.backend.name);
      const rng = new Random(7);
      for (let t = 0; t < 12; t++) {
        const x = randomInputs(net, rng);
        if (t % 3 === 1) {
          const bad = Float32Array.from(x[node.name]);
          bad[bad.length - 1] = Number.NaN;
          await assert.rejects(s.step({ [node.name]: bad }), /NaN/);
        }
        shadow.check(await s.step(x), x, name);
      }
      // Zero-copy slots land in the same rings.
      for (let t = 0; t < 5; t++) {
        const x = randomInputs(net, rng);
        const slot = await s.nextInput();
        slot.input(node.name).set(x[node.name]);
        const frame = await slot.commit();
        shadow.check(Object.fromEntries(net.outputs.map((o) => [net.nodes[o].name, frame.output(net.nodes[o].name).slice()])), x, `${name} zero-copy`);
        frame.release();
      }
    } finally {
      await rt.close();
    }
  }
});

test('sessions: capacity, waiting for a stream, idle timeout, reset, views per session, closed sessions refuse use', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const rt = await Runtime.create(net, { workers: 2, streams: 2, calibrate: false });
  try {
    const x = new Float32Array(784).fill(0.5);
    const a = await rt.open();
    const b = await rt.open({ idleTimeoutMs: 60 });
    assert.notEqual(a.stream, b.stream);
    assert.equal(rt.stats().streams.open, 2);
    assert.ok(rt.stats().streams.bytesPerStream > 784 * 4);
    await assert.rejects(rt.open(), (e: unknown) => e instanceof RuntimeError && /all 2 streams are open/.test(e.message));
    // A waiter gets the stream the idle timeout frees.
    const c = await rt.open({ wait: true });
    assert.equal(b.closed, true);
    assert.equal(c.stream, b.stream);
    await assert.rejects(b.step(x), /session \d+ is closed/);
    // Each session counts its own ticks; reset starts one over without touching the other.
    await a.step(x);
    await a.step(x);
    await c.step(x);
    assert.deepEqual([a.tick, c.tick, rt.tick], [2, 1, 0]);
    const held = await (await a.nextInput()).commit();
    await a.reset();
    assert.equal(a.tick, 0);
    const again = await a.step(x);
    assert.equal(held.released, false);
    assert.equal(again.prediction.length, 10);
    // Closing a session releases its views.
    await a.close();
    assert.equal(held.released, true);
    assert.throws(() => held.outputs, ViewError);
    // An abandoned wait gives up cleanly.
    const full = await rt.open();
    const controller = new AbortController();
    const waiting = rt.open({ wait: true, signal: controller.signal });
    controller.abort();
    await assert.rejects(waiting, /aborted/);
    await full.close();
    assert.equal(rt.stats().streams.open, 1);
  } finally {
    await rt.close();
  }
  const none = await Runtime.create(net, { workers: 1, calibrate: false });
  await assert.rejects(none.open(), /no streams for sessions: create it with \{ streams: N \}/);
  await none.close();
});

test('sessions batched into one engine frame through the batched kernels (dense: 8 and 4 streams a weight load; Winograd: the tiles of all streams in one list, also as the first or last edge of a node; direct convolution: one call) match executors serving each alone, bit for bit', async () => {
  for (const name of ['mnist-sr', 'mnist-ff', 'densenet-12']) {
    const net = await loadNetworkFile(example(name));
    const params = initParameters(net, { seed: 11, bias: 'uniform' });
    const rollout: Rollout = { kind: 'pattern', delays: net.edges.map((e) => (e.from === e.to ? 1 : 0)) };
    for (const workers of [1, 2]) {
      const rt = await Runtime.create(net, { workers, streams: 13, calibrate: false, params, rollout });
      try {
        const sessions = await Promise.all(Array.from({ length: 13 }, () => rt.open()));
        const shadows = sessions.map(() => new Shadow(net, rollout, params, rt.backend.name));
        const rng = new Random(workers);
        let frames = 0;
        for (let t = 0; t < 8; t++) {
          const inputs = sessions.map(() => randomInputs(net, rng));
          const before = rt.stats().engineFrames;
          const outs = await Promise.all(sessions.map((s, i) => s.step(inputs[i])));
          frames += rt.stats().engineFrames - before;
          outs.forEach((o, i) => shadows[i].check(o, inputs[i], `${name}, ${workers} workers, session ${i}`));
        }
        // Thirteen streams stepping together share engine frames (all 13: 8 + 4 + 1 in the kernel).
        assert.ok(frames < (8 * 13) / 2, `${frames} engine frames for 104 session frames`);
      } finally {
        await rt.close();
      }
    }
  }
});

test('stream helper: a one-worker network free-running 8 sessions gets one (Linux, native kernels), and every session still matches its executor bit for bit; streamHelper: false has none', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const params = initParameters(net, { seed: 5, bias: 'uniform' });
  const rollout: Rollout = { kind: 'pattern', delays: net.edges.map((e) => (e.from === e.to ? 1 : 0)) };
  const expected = process.platform === 'linux' && nativeAvailable() && availableParallelism() >= 2;
  for (const streamHelper of [true, false]) {
    const rt = await Runtime.create(net, { workers: 1, streams: 8, calibrate: false, params, rollout, streamHelper, warmUp: 0 });
    try {
      assert.equal(rt.stats().streamHelper !== null, streamHelper && expected, `streamHelper ${streamHelper}`);
      const sessions = await Promise.all(Array.from({ length: 8 }, () => rt.open()));
      const rng = new Random(17);
      await Promise.all(
        sessions.map(async (s, i) => {
          const shadow = new Shadow(net, rollout, params, rt.backend.name);
          const inputs = Array.from({ length: 150 }, () => randomInputs(net, rng));
          let t = 0;
          for await (const r of s.run(inputs)) shadow.check(r.outputs, inputs[t++], `helper ${streamHelper}, session ${i}`);
          assert.equal(t, 150);
        }),
      );
      const stats = rt.stats();
      // Every stream frame was computed once, by the worker or the helper.
      if (stats.streamHelper !== null) assert.equal(stats.perWorker[0].frames + stats.streamHelper.frames, 8 * 150);
    } finally {
      await rt.close();
    }
  }
});

test('sessions: batched frames are one engine frame; 1,000 open/close cycles leave memory flat', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const rt = await Runtime.create(net, { workers: 2, streams: 8, calibrate: false });
  try {
    const x = new Float32Array(784).fill(0.25);
    const sessions = await Promise.all(Array.from({ length: 8 }, () => rt.open()));
    const frames = (): number => rt.stats().engineFrames;
    // A lone stream's frame goes out at once; once several are sending, frames handed in
    // together go out together: eight sessions stepping at once are one engine frame.
    await Promise.all(sessions.map((s) => s.step(x)));
    const before = frames();
    await Promise.all(sessions.map((s) => s.step(x)));
    assert.equal(frames() - before, 1);
    await Promise.all(sessions.map((s) => s.close()));
    const cycle = async (): Promise<void> => {
      const s = await rt.open();
      await s.step(x);
      await s.close();
    };
    // A real collection before each reading, so what is left is what is kept.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 100; i++) await cycle();
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const external0 = process.memoryUsage().external;
    for (let i = 0; i < 1000; i++) await cycle();
    gc();
    const grown = process.memoryUsage().heapUsed - heap0;
    const externalGrown = process.memoryUsage().external - external0;
    assert.ok(grown < 2 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(2)} MB over 1,000 cycles`);
    assert.ok(externalGrown < 1024 * 1024, `external memory grew by ${(externalGrown / 1048576).toFixed(2)} MB over 1,000 cycles`);
    assert.equal(rt.stats().streams.open, 0);
  } finally {
    await rt.close();
  }
});

/** A TCP client: sends frames, reads replies in order. */
function client(port: number): { socket: Socket; send(m: object): void; next(): Promise<Record<string, unknown>> } {
  const socket = connect(port, '127.0.0.1');
  const replies = readMessages(socket)[Symbol.asyncIterator]();
  return {
    socket,
    send: (m) => socket.write(encodeMessage(m)),
    next: async () => (await replies.next()).value as Record<string, unknown>,
  };
}

test("TCP with a stream helper: eight clients sending at once (the server thread computes the worker's share, the helper some streams) each get exactly their answers alone; a real-time loop on the same runtime stays exact", async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const params = initParameters(net, { seed: 21 });
  const rt = await Runtime.create(net, { workers: 1, streams: 8, params, calibrate: false, warmUp: 0 });
  const rng = new Random(8);
  const frames = (n: number): Float32Array[] => Array.from({ length: n }, () => Float32Array.from({ length: 784 }, () => rng.uniform(0, 1)));
  const alone = (xs: Float32Array[]): Float32Array[] => {
    const ref = new ReferenceExecutor(net, 'streaming', params, { backend: rt.backend.name });
    return xs.map((x) => ref.step(x).prediction);
  };
  try {
    const server = await serveFrames(rt, { port: 0, sessionIdleMs: 5000 });
    try {
      const inputs = Array.from({ length: 8 }, () => frames(40));
      const replies = await Promise.all(
        inputs.map(async (xs) => {
          const c = client(server.port);
          xs.forEach((x, t) => c.send({ t, inputs: { image: x } }));
          const got: Float32Array[] = [];
          for (let i = 0; i < xs.length; i++) got.push(((await c.next()).outputs as Record<string, Float32Array>).prediction);
          c.socket.destroy();
          return got;
        }),
      );
      replies.forEach((got, j) => alone(inputs[j]).forEach((want, i) => assert.ok(sameBits(got[i], want), `client ${j}, frame ${i}`)));
    } finally {
      await server.close();
    }
    // The real-time loop's thread takes the worker's share too (one stream: the helper has nothing to take).
    const xs = frames(30);
    const summary = await runRealtime(
      rt,
      xs.map((x) => ({ inputs: { image: x } })),
      { rateHz: 5000, overrun: 'queue' },
    );
    assert.equal(summary.ticks, 30);
    const last = frames(1)[0];
    const want = alone([...xs, last]);
    assert.ok(sameBits((await rt.step({ image: last })).prediction, want[30]), 'the own stream after the real-time loop');
  } finally {
    await rt.close();
  }
});

test('TCP: clients interleaved get exactly their answers alone; a new connection starts fresh; a named session is resumed; capacity is enforced', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const params = initParameters(net, { seed: 9 });
  const rt = await Runtime.create(net, { workers: 2, streams: 3, params, calibrate: false });
  const server = await serveFrames(rt, { port: 0, sessionIdleMs: 5000 });
  const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  try {
    const rng = new Random(4);
    const frames = (n: number): Float32Array[] => Array.from({ length: n }, () => Float32Array.from({ length: 784 }, () => rng.uniform(0, 1)));
    const alone = (xs: Float32Array[]): Float32Array[] => {
      const ref = new ReferenceExecutor(net, 'streaming', params, { backend: rt.backend.name });
      return xs.map((x) => ref.step(x).prediction);
    };
    const prediction = (m: Record<string, unknown>): Float32Array => (m.outputs as Record<string, Float32Array>).prediction;
    // Capacity: three connections hold the three streams; a fourth is refused and closed.
    const full = [client(server.port), client(server.port), client(server.port)];
    for (const c of full) c.send({ t: 0, inputs: { image: frames(1)[0] } });
    for (const c of full) assert.equal((await c.next()).tick, 1);
    const extra = client(server.port);
    extra.send({ t: 5, inputs: { image: frames(1)[0] } });
    const refused = await extra.next();
    assert.equal(refused.t, 5);
    assert.match(String(refused.error), /all 3 streams are busy/);
    assert.equal(await extra.next(), undefined);
    for (const c of full) c.socket.destroy();
    await wait(100);

    // Two clients, taking turns and at once: each gets what it would get alone.
    const a = client(server.port);
    const b = client(server.port);
    const xa = frames(12);
    const xb = frames(12);
    const ra: Float32Array[] = [];
    const rb: Float32Array[] = [];
    const ticks: unknown[] = [];
    for (let i = 0; i < 12; i++) {
      a.send({ t: i, inputs: { image: xa[i] } });
      if (i % 2 === 0) {
        b.send({ t: i, inputs: { image: xb[i] } });
        const [p, q] = await Promise.all([a.next(), b.next()]);
        ra.push(prediction(p));
        rb.push(prediction(q));
        ticks.push(p.tick, q.tick);
      } else {
        const p = await a.next();
        b.send({ t: i, inputs: { image: xb[i] } });
        const q = await b.next();
        ra.push(prediction(p));
        rb.push(prediction(q));
        ticks.push(p.tick, q.tick);
      }
    }
    assert.deepEqual(
      ticks,
      Array.from({ length: 24 }, (_, i) => Math.floor(i / 2) + 1),
    );
    alone(xa).forEach((want, i) => assert.ok(sameBits(ra[i], want), `client a, frame ${i}`));
    alone(xb).forEach((want, i) => assert.ok(sameBits(rb[i], want), `client b, frame ${i}`));
    a.socket.destroy();
    b.socket.destroy();
    await wait(100);

    // A new connection starts from fresh states.
    const c = client(server.port);
    c.send({ t: 0, inputs: { image: xb[0] } });
    const first = await c.next();
    assert.equal(first.tick, 1);
    assert.ok(sameBits(prediction(first), alone([xb[0]])[0]));
    c.socket.destroy();

    // A named session outlives its connection: the next connection naming it goes on from there.
    const d = client(server.port);
    for (let i = 0; i < 6; i++) d.send({ t: i, session: 'camera-1', inputs: { image: xa[i] } });
    const part1 = await Promise.all(Array.from({ length: 6 }, () => d.next()));
    d.socket.destroy();
    await wait(100);
    const e = client(server.port);
    for (let i = 6; i < 12; i++) e.send({ t: i, session: 'camera-1', inputs: { image: xa[i] } });
    const part2 = await Promise.all(Array.from({ length: 6 }, () => e.next()));
    const want = alone(xa);
    [...part1, ...part2].forEach((m, i) => {
      assert.equal(m.tick, i + 1);
      assert.ok(sameBits(prediction(m), want[i]), `named session, frame ${i}`);
    });
    // One connection, one session: naming another is refused.
    e.send({ t: 99, session: 'other', inputs: { image: xa[0] } });
    assert.match(String((await e.next()).error), /one connection, one session/);
    e.socket.destroy();
  } finally {
    await server.close();
    await rt.close();
  }
});

test('grow: capacity rises by re-planning; open sessions go on bit for bit (steps, a free-running loop across it, a held frame), waiters get the new streams', async () => {
  for (const [name, workers] of [
    ['mnist-sr', 2],
    ['conv-chain-4', 2],
    ['mnist-sr', 1],
  ] as const) {
    const net = await loadNetworkFile(example(name));
    const params = initParameters(net, { seed: 3, bias: 'uniform' });
    const rt = await Runtime.create(net, { params, workers, streams: 1, calibrate: false });
    try {
      const backend = rt.backend.name;
      const rng = new Random(7);
      const a = await rt.open();
      const shadowA = new Shadow(net, rt.rollout, params, backend);
      const own = new Shadow(net, rt.rollout, params, backend);
      for (let t = 0; t < 3; t++) {
        const x = randomInputs(net, rng);
        shadowA.check(await a.step(x), x, `${name}: a before`);
      }
      const x0 = randomInputs(net, rng);
      own.check(await rt.step(x0), x0, `${name}: own before`);
      // A held output frame, an open input slot, a waiter for a stream, and a free-running
      // loop, all across the growth.
      const heldInput = randomInputs(net, rng);
      const slot = await a.nextInput();
      for (const [n, v] of Object.entries(heldInput)) slot.input(n).set(v);
      const waiter = rt.open({ wait: true });
      const growing = rt.grow(3);
      const held = await slot.commit();
      const heldCopy = Object.fromEntries(Object.entries(held.outputs).map(([n, v]) => [n, v.slice()]));
      shadowA.check(heldCopy, heldInput, `${name}: a's slot committed while growing`);
      const runInputs = Array.from({ length: 12 }, () => randomInputs(net, rng));
      const running = (async () => {
        let i = 0;
        for await (const r of rt.run(runInputs)) own.check(r.outputs, runInputs[i++], `${name}: own run across the growth`);
        return i;
      })();
      await growing;
      assert.equal(await running, 12);
      assert.equal(rt.stats().streams.capacity, 3);
      const b = await waiter;
      const c = await rt.open();
      await assert.rejects(rt.open(), /all 3 streams are open/);
      // The held frame still reads what it read before.
      for (const [n, v] of Object.entries(heldCopy)) assert.ok(sameBits(held.output(n), v), `${name}: held ${n}`);
      held.release();
      const shadowB = new Shadow(net, rt.rollout, params, backend);
      const shadowC = new Shadow(net, rt.rollout, params, backend);
      for (let t = 0; t < 3; t++) {
        const [xa, xb, xc] = [randomInputs(net, rng), randomInputs(net, rng), randomInputs(net, rng)];
        const [ya, yb, yc] = await Promise.all([a.step(xa), b.step(xb), c.step(xc)]);
        shadowA.check(ya, xa, `${name}: a after`);
        shadowB.check(yb, xb, `${name}: b after`);
        shadowC.check(yc, xc, `${name}: c after`);
      }
      assert.deepEqual([a.tick, b.tick, c.tick], [7, 3, 3]);
      await assert.rejects(rt.grow(3), (e: unknown) => e instanceof RangeError && /above the capacity \(3\)/.test(e.message));
    } finally {
      await rt.close();
    }
  }
});
