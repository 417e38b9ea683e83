import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateNetwork } from '../src/graph/network.js';
import { InputError } from '../src/io/inputs.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime, RuntimeError } from '../src/engine/runtime.js';
import { DRIVER_WAKE } from '../src/engine/control.js';
import { wakeFrame } from '../src/engine/frame-watch.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { resolveRollout } from '../src/rollout/pattern.js';
import { responseDelays } from '../src/rollout/response.js';
import { Random } from '../src/util/random.js';
import { EXIT_MARK, FAULTY_BACKEND, THROW_MARK } from './fixtures/faulty-backend.js';
import { sameBits } from './helpers/numeric.js';
import { netParams, randomNetwork, randomValidDelays, randomInputs } from './helpers/random-network.js';

const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;
const faultyModule = new URL('./fixtures/faulty-backend.js', import.meta.url).href;

test('exactness: random networks and rollouts (delays up to 2) on 1-4 workers, both placements, any ring slack, match the executor bit for bit over 50 ticks', async () => {
  await fc.assert(
    fc.asyncProperty(
      netParams(true, 7),
      fc.integer({ min: 0, max: 1e9 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom<'auto' | 'one-per-layer'>('auto', 'one-per-layer'),
      fc.integer({ min: 0, max: 4 }),
      async (p, s, maxDelay, workers, placement, slack) => {
        const net = randomNetwork(p);
        const delays = randomValidDelays(net, s, maxDelay);
        const params = initParameters(net, { seed: s, bias: 'uniform' });
        const rollout = { kind: 'pattern' as const, delays };
        const rt = await Runtime.create(net, { rollout, params, workers, placement, calibrate: false, queue: 3, slack });
        try {
          const ref = new ReferenceExecutor(net, rollout, params, { backend: rt.backend.name });
          const rng = new Random(s);
          const inputs = Array.from({ length: 50 }, () => randomInputs(net, rng));
          // Half through step(), half free-running through run().
          for (let t = 0; t < 25; t++) {
            const a = await rt.step(inputs[t]);
            const b = ref.step(inputs[t]);
            for (const name of Object.keys(b)) assert.ok(sameBits(a[name], b[name]), `tick ${t + 1} ${name}`);
          }
          let t = 25;
          for await (const r of rt.run(inputs.slice(25))) {
            const b = ref.step(inputs[t++]);
            assert.equal(r.tick, t);
            for (const name of Object.keys(b)) assert.ok(sameBits(r.outputs[name], b[name]), `tick ${t} ${name}`);
          }
          assert.equal(t, 50);
        } finally {
          await rt.close();
        }
      },
    ),
    { numRuns: 24 },
  );
});

test('exactness on the examples: streaming, sequential and a hybrid with delays >= 2, 2 and 3 workers', async () => {
  for (const name of ['mnist-sr', 'densenet']) {
    const net = await loadNetworkFile(example(name));
    const params = initParameters(net, { seed: 3, bias: 'uniform' });
    const hybrid = { default: 1, edges: Object.fromEntries(net.edges.filter((e) => e.index % 3 === 0).map((e) => [e.id, e.index % 2 === 0 ? 2 : 0])) };
    for (const rollout of ['streaming', 'sequential', hybrid] as const) {
      for (const workers of [2, 3]) {
        const rt = await Runtime.create(net, { rollout, params, workers, calibrate: false });
        try {
          const ref = new ReferenceExecutor(net, rollout, params, { backend: rt.backend.name });
          const rng = new Random(workers);
          for (let t = 1; t <= 12; t++) {
            const input = randomInputs(net, rng);
            const a = await rt.step(input);
            assert.ok(sameBits(a.prediction, ref.step(input).prediction), `${name} ${JSON.stringify(rollout)} ${workers} workers, tick ${t}`);
          }
        } finally {
          await rt.close();
        }
      }
    }
  }
});

test('impulse response on the engine: the output first changes at tick k + d(o)', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const params = initParameters(net, { seed: 1, bias: 'uniform' });
  for (const rollout of ['streaming', 'sequential', { default: 1, edges: { 'image->h1': 0, 'h2->prediction': 2 } }] as const) {
    const delays = resolveRollout(net, rollout).delays;
    const d = responseDelays(net, delays)[net.node('prediction').index];
    const quiet = await Runtime.create(net, { rollout, params, workers: 2, calibrate: false });
    const pulsed = await Runtime.create(net, { rollout, params, workers: 2, calibrate: false });
    try {
      const zeros = new Float32Array(784);
      const impulse = Float32Array.from({ length: 784 }, (_, i) => ((i * 7919) % 13) / 13);
      const k = 3;
      let first = 0;
      for (let t = 1; t <= k + d + 1 && first === 0; t++) {
        const a = await quiet.step(zeros);
        const b = await pulsed.step(t === k ? impulse : zeros);
        if (!sameBits(a.prediction, b.prediction)) first = t;
      }
      assert.equal(first, k + d, `rollout ${JSON.stringify(rollout)}: d = ${d}`);
    } finally {
      await Promise.all([quiet.close(), pulsed.close()]);
    }
  }
});

test('repeat(input, n) equals n steps of that input; reset() returns to frame 0', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const params = initParameters(net, { seed: 2, bias: 'uniform' });
  const a = await Runtime.create(net, { params, workers: 2, queue: 4 });
  const ref = new ReferenceExecutor(net, 'streaming', params, { backend: a.backend.name });
  try {
    const x = Float32Array.from({ length: 784 }, (_, i) => (i % 17) / 17);
    await a.step(x);
    ref.step(x);
    const held = await a.repeat(x, 37);
    let expected = ref.step(x).prediction;
    for (let t = 1; t < 37; t++) expected = ref.step(x).prediction;
    assert.ok(sameBits(held.prediction, expected));
    assert.equal(a.tick, 38);
    await a.reset();
    ref.reset();
    assert.equal(a.tick, 0);
    assert.ok(sameBits((await a.step(x)).prediction, ref.step(x).prediction));
  } finally {
    await a.close();
  }
});

test('bad inputs are clear errors and the runtime stays usable', async () => {
  const net = await loadNetworkFile(example('mnist-s'));
  const rt = await Runtime.create(net, { workers: 2 });
  try {
    await assert.rejects(rt.step(new Float32Array(10)), (e: unknown) => e instanceof InputError && /tick 1: input "image" has 10 values, expected 784/.test(e.message));
    const bad = new Float32Array(784);
    bad[5] = NaN;
    await assert.rejects(rt.step(bad), /tick 1: input "image" has a non-finite value \(NaN\) at index 5/);
    await assert.rejects(rt.step({ picture: new Float32Array(784) }), /"picture" is not an input node/);
    const out = await rt.step(new Float32Array(784));
    assert.equal(out.prediction.length, 10);
    assert.equal(rt.tick, 1);
  } finally {
    await rt.close();
  }
});

test('placement: explicit mappings are checked; one-per-layer and balanced are reported with a predicted frame time', async () => {
  const net = await loadNetworkFile(example('densenet'));
  const rt = await Runtime.create(net, { workers: 2, calibrate: false });
  try {
    assert.equal(rt.placement.kind, 'balanced');
    assert.equal(rt.placement.workers, 2);
    assert.ok(rt.placement.predictedFrameUs > 0);
    const stats = rt.stats();
    assert.deepEqual(
      stats.perWorker.flatMap((w) => w.nodes).sort(),
      net.nodes
        .filter((n) => !n.isInput)
        .map((n) => n.name)
        .sort(),
    );
  } finally {
    await rt.close();
  }
  const sr = await loadNetworkFile(example('mnist-sr'));
  const explicit = await Runtime.create(sr, { placement: [['h1', 'prediction'], ['h2']], calibrate: false });
  try {
    assert.equal(explicit.placement.kind, 'explicit');
    assert.deepEqual(
      explicit.placement.nodesOf.map((vs) => vs.map((v) => sr.nodes[v].name)),
      [['h1', 'prediction'], ['h2']],
    );
    await explicit.step(new Float32Array(784));
  } finally {
    await explicit.close();
  }
  await assert.rejects(Runtime.create(sr, { placement: { h1: 0, h2: 1 } }), /placement: no worker for node "prediction"/);
  await assert.rejects(Runtime.create(sr, { placement: { h1: 0, h2: 1, prediction: 0, image: 1 } }), /node "image" is an input/);
  await assert.rejects(Runtime.create(sr, { placement: { h1: 0, h9: 1 } }), /unknown node "h9"/);
  for (const slack of [-1, 1.5, 65]) await assert.rejects(Runtime.create(sr, { slack }), /slack must be an integer from 0 to 64/);
  // Slack adds ring slots to every computed node beyond what its delays need (queue adds to outputs).
  for (const slack of [0, 5]) {
    const rt = await Runtime.create(sr, { slack, queue: 1, calibrate: false });
    try {
      for (const node of sr.nodes.filter((n) => !n.isInput && !sr.outputs.includes(n.index))) {
        const needed = 1 + Math.max(1, ...node.outEdges.map((e) => rt.rollout.delays[e]));
        assert.equal(rt.arena.plan.states[node.index].depth, needed + slack, `node ${node.name}, slack ${slack}`);
      }
    } finally {
      await rt.close();
    }
  }
  const one = await Runtime.create(sr, { placement: 'one-per-layer', workers: 1 });
  try {
    assert.equal(one.placement.workers, 3);
  } finally {
    await one.close();
  }
});

/** x -> h -> y on the faulty backend, h and y on two workers, all edges inside the frame. */
async function faultyRuntime(): Promise<Runtime> {
  const net = validateNetwork({
    name: 'fault',
    nodes: [
      { name: 'x', shape: [4] },
      { name: 'h', shape: [4], activation: 'tanh' },
      { name: 'y', shape: [2] },
    ],
    edges: [
      { from: 'x', to: 'h', op: { type: 'dense' } },
      { from: 'h', to: 'y', op: { type: 'dense' } },
    ],
    outputs: ['y'],
  });
  return Runtime.create(net, { backend: FAULTY_BACKEND, backendModule: faultyModule, workers: 2, placement: 'one-per-layer', calibrate: false, rollout: { default: 0 } });
}

test('a worker that throws rejects the pending step naming node and tick; everything stops', async () => {
  const rt = await faultyRuntime();
  await rt.step(Float32Array.of(1, 2, 3, 4));
  await rt.step(Float32Array.of(1, 2, 3, 4));
  const started = Date.now();
  await assert.rejects(rt.step(Float32Array.of(THROW_MARK, 0, 0, 0)), (e: unknown) => e instanceof RuntimeError && /node "h" \(worker \d\) failed at tick 3: poisoned input/.test(e.message));
  await assert.rejects(rt.step(Float32Array.of(1, 2, 3, 4)), /node "h" .*failed at tick 3/);
  await rt.close();
  assert.ok(Date.now() - started < 1500, 'stopped within about a second');
});

test('a worker thread that dies rejects the pending step naming its nodes and tick', async () => {
  const rt = await faultyRuntime();
  await rt.step(Float32Array.of(1, 2, 3, 4));
  await assert.rejects(rt.step(Float32Array.of(EXIT_MARK, 0, 0, 0)), (e: unknown) => e instanceof RuntimeError && /worker \d \(nodes h\) stopped at tick 2/.test(e.message));
  await rt.close();
});

test('aborting a run ends it with an error and leaves the runtime usable; closing during a run ends the run', async () => {
  const net = await loadNetworkFile(example('mnist-s'));
  const rt = await Runtime.create(net, { workers: 2, queue: 4 });
  const frame = new Float32Array(784);
  function* forever(): Generator<Float32Array> {
    for (;;) yield frame;
  }
  const controller = new AbortController();
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const r of rt.run(forever(), { signal: controller.signal })) {
        seen = r.tick;
        if (seen === 10) controller.abort();
      }
    })(),
    /run aborted/,
  );
  assert.equal(seen, 10);
  const after = await rt.step(frame);
  assert.equal(after.prediction.length, 10);
  const running = (async () => {
    for await (const r of rt.run(forever())) if (r.tick === 30) void rt.close();
  })();
  await assert.rejects(running, /closed/);
  await rt.close();
  await assert.rejects(rt.step(frame), /closed/);
});

test('100 create/close cycles leave no thread behind', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const threads = (): number => readdirSync('/proc/self/task').length;
  const before = threads();
  for (let i = 0; i < 100; i++) {
    const rt = await Runtime.create(net, { workers: 2, calibrate: false, warmUp: 1 });
    if (i % 10 === 0) await rt.step(new Float32Array(784));
    await rt[Symbol.asyncDispose]();
    await rt.close();
  }
  // Worker threads exit asynchronously after terminate(); give them a moment.
  for (let i = 0; i < 50 && threads() > before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(threads() <= before, `threads: ${before} before, ${threads()} after`);
});

test('non-finite inputs: policy zero replaces them (as the executor does), reject names the value', async () => {
  const net = await loadNetworkFile(example('densenet'));
  const params = initParameters(net, { seed: 4 });
  const rt = await Runtime.create(net, { params, workers: 2, nonFinite: 'zero', calibrate: false });
  const ref = new ReferenceExecutor(net, 'streaming', params, { backend: rt.backend.name, nonFinite: 'zero' });
  try {
    const x = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => (i % 11) / 11);
    x[100] = Infinity;
    x[3000] = NaN;
    for (let t = 0; t < 4; t++) assert.ok(sameBits((await rt.step(x)).prediction, ref.step(x).prediction));
  } finally {
    await rt.close();
  }
  const strict = await Runtime.create(net, { params, workers: 2, calibrate: false });
  try {
    const x = new Float32Array(3 * 32 * 32);
    x[2047] = -Infinity;
    await assert.rejects(strict.step(x), /tick 1: input "image" has a non-finite value \(-Infinity\) at index 2047/);
    x[2047] = 0;
    await strict.step(x);
  } finally {
    await strict.close();
  }
});

test('aborting the signal given to create closes the runtime', async () => {
  const net = await loadNetworkFile(example('mnist-s'));
  const controller = new AbortController();
  const rt = await Runtime.create(net, { workers: 1, signal: controller.signal });
  await rt.step(new Float32Array(784));
  controller.abort();
  await assert.rejects(rt.step(new Float32Array(784)), /closed/);
  await rt.close();
});

test('nodes with layout hwc take and give [H,W,C] arrays: the same results as the row-major network, in the engine and the executor', async () => {
  const spec = (layout?: 'hwc') => ({
    name: 'orders',
    nodes: [
      { name: 'x', shape: [3, 4, 5] as [number, number, number], ...(layout === undefined ? {} : { layout }) },
      { name: 'y', shape: [2, 4, 5] as [number, number, number], activation: 'tanh' as const, ...(layout === undefined ? {} : { layout }) },
    ],
    edges: [{ from: 'x', to: 'y', op: { type: 'conv2d' as const, kernel: 3 } }],
    outputs: ['y'],
  });
  const chw = validateNetwork(spec());
  const hwc = validateNetwork(spec('hwc'));
  const params = initParameters(chw, { seed: 4, bias: 'uniform' });
  const rng = new Random(8);
  const x = Float32Array.from({ length: 60 }, () => rng.uniform(-1, 1));
  const toHwc = (a: Float32Array, C: number): Float32Array => Float32Array.from({ length: a.length }, (_, i) => a[(i % C) * (a.length / C) + Math.floor(i / C)]);
  for (const backend of ['reference', 'wasm']) {
    const want = new ReferenceExecutor(chw, 'streaming', params, { backend }).step({ x }).y;
    const ex = new ReferenceExecutor(hwc, 'streaming', params, { backend }).step({ x: toHwc(x, 3) }).y;
    assert.ok(sameBits(ex, toHwc(want, 2)), `${backend} executor`);
    const rt = await Runtime.create(hwc, { params, backend, workers: 1, calibrate: false });
    try {
      assert.ok(sameBits((await rt.step({ x: toHwc(x, 3) })).y, ex), `${backend} engine`);
    } finally {
      await rt.close();
    }
  }
  assert.throws(
    () => validateNetwork({ ...spec(), nodes: [...spec().nodes, { name: 'z', shape: [2, 4, 5], layout: 'hwc' }], edges: [...spec().edges, { from: 'y', to: 'z', op: { type: 'identity' } }] }),
    /node "z" is neither an input nor an output/,
  );
});

test('run(): answers as frames come (a slow live source is not made to fill the queue), ends on abort while the source waits, and an abandoned iterator blocks nobody', {
  timeout: 30_000,
}, async () => {
  const rt = await Runtime.create(example('mnist-sr'), { workers: 1, calibrate: false });
  try {
    const x = new Float32Array(784).fill(0.25);
    // A 100 Hz live source: frames arrive 10 ms apart.
    let produced = 0;
    const live = async function* (): AsyncGenerator<Float32Array> {
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 10));
        produced++;
        yield x;
      }
    };
    const seenAt: number[] = [];
    for await (const r of rt.run(live())) seenAt.push(produced - r.tick);
    assert.equal(seenAt.length, 20);
    // Each answer came while at most a frame or two more had arrived, not a queue of 32.
    assert.ok(Math.max(...seenAt) <= 2, `frames ahead when answered: ${seenAt.join(',')}`);
    // Abort while the source waits for a frame that never comes.
    const controller = new AbortController();
    const stuck = async function* (): AsyncGenerator<Float32Array> {
      yield x;
      await new Promise(() => undefined);
    };
    const got: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const r of rt.run(stuck(), { signal: controller.signal })) {
          got.push(r.tick);
          setTimeout(() => controller.abort(), 20);
        }
      })(),
      /run aborted/,
    );
    assert.equal(got.length, 1);
    // An iterator dropped without return(): the runtime serves the next caller.
    const it = rt.run([x, x, x, x])[Symbol.asyncIterator]();
    await it.next();
    const y = await rt.step(x);
    assert.equal(y.prediction.length, 10);
  } finally {
    await rt.close();
  }
});

test('the event loop is woken halfway through the frames queued ahead of it, not for every engine frame; a lone frame is answered as soon as it is done', async () => {
  // The wake frame: never before the earliest awaited frame, never past the last published,
  // past the earliest when two or more are out beyond it, and leaving half of them to compute.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 64 }), (k, ahead) => {
      const at = wakeFrame(k, k + ahead);
      return at >= k && k + ahead - at >= ahead / 2 && (ahead > 1 ? at > k : at === k);
    }),
  );
  const net = await loadNetworkFile(new URL('../../examples/mnist-sr.json', import.meta.url).pathname);
  const rt = await Runtime.create(net, { queue: 16, calibrate: false });
  try {
    const x = new Float32Array(784).fill(0.5);
    const wakes = (): number => Atomics.load(rt.arena.control, DRIVER_WAKE);
    const w0 = wakes();
    const e0 = rt.stats().engineFrames;
    let n = 0;
    for await (const frame of rt.run(
      (function* () {
        for (let i = 0; i < 3000; i++) yield x;
      })(),
      { views: true },
    ))
      n += frame.output('prediction').length > 0 ? 1 : 0;
    assert.equal(n, 3000);
    const frames = rt.stats().engineFrames - e0;
    // A thread that keeps up sleeps between wake-ups, one per engine frame if woken for each.
    assert.ok(wakes() - w0 <= frames / 4, `${wakes() - w0} wake-ups for ${frames} engine frames`);
    // One frame at a time: each step is woken for its own frame.
    for (let i = 0; i < 20; i++) assert.equal((await rt.step(x)).prediction.length, 10);
  } finally {
    await rt.close();
  }
});
