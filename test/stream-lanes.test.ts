import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createArena, planArena } from '../src/engine/arena.js';
import { LANE_FRONTIER, WAKE_NODE, controlLines } from '../src/engine/control.js';
import { FrameDriver } from '../src/engine/frame-driver.js';
import { FrameLoop } from '../src/engine/frame-loop.js';
import type { FrameLoopTask } from '../src/engine/frame-loop-task.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { type LaneChunk, type LaneRole, runnableThreads, type StreamLanes } from '../src/engine/stream-lanes.js';
import { initParameters } from '../src/graph/parameters.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { getBackend } from '../src/kernels/registry.js';
import { WASM_BACKEND } from '../src/kernels/wasm/index.js';
import { frameOrder } from '../src/rollout/validity.js';
import { Random } from '../src/util/random.js';
import { sameBits } from './helpers/numeric.js';
import { netParams, randomNetwork, randomValidDelays, randomInputs } from './helpers/random-network.js';

/** A published stream frame waiting to be checked once its engine frame is complete. */
interface Sent {
  readonly k: number;
  readonly stream: number;
  readonly f: number;
  readonly input: Record<string, Float32Array>;
}

// The two lanes of one engine driven from one thread, so that every interleaving of their
// claims and completions can be chosen: a lane takes a chunk and holds it while the other
// takes more, publishes go on meanwhile, and chunks finish in any order. Each stream's frames
// must come out as an executor serving that stream alone computes them.
test('stream lanes: lead and helper claiming and finishing chunks in random interleavings give every stream its own executor outputs, bit for bit, on both backends', () => {
  const backends = [...new Set([defaultBackend(), WASM_BACKEND])];
  let helperEntries = 0;
  fc.assert(
    fc.property(
      netParams(true, 5),
      fc.integer({ min: 0, max: 1e9 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 5, max: 10 }),
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom(...backends),
      (p, seed, maxDelay, streams, queue, backendName) => {
        const net = randomNetwork(p);
        const delays = randomValidDelays(net, seed, maxDelay);
        const params = initParameters(net, { seed, bias: 'uniform' });
        const backend = getBackend(backendName);
        const plan = planArena(net, delays, backend, { controlLines: controlLines(net.nodes.length, 2), queue, staging: true, streams });
        const arena = createArena(net, plan, backend, params);
        Atomics.store(arena.control, WAKE_NODE, -1);
        const driver = new FrameDriver({ net, arena, kernels: backend.bind(arena.memory), queue, nonFinite: 'reject' });
        const nodes = frameOrder(net, delays).filter((v) => !net.nodes[v].isInput);
        const task = (worker: number, lane: LaneRole): FrameLoopTask => ({
          spec: net.spec,
          delays,
          plan,
          memory: arena.memory,
          backend: backendName,
          worker,
          nodes,
          owner: net.nodes.map(() => 0),
          converts: net.inputs,
          spin: false,
          lane,
        });
        const lanes = [new FrameLoop(task(0, 'lead')).lanes, new FrameLoop(task(1, 'helper')).lanes] as StreamLanes[];
        const shadows = Array.from({ length: streams }, () => new ReferenceExecutor(net, { kind: 'pattern', delays }, params, { backend: backendName }));
        const rng = new Random(seed);
        const held: LaneChunk[][] = [[], []];
        const sent: Sent[] = [];
        let published = 0;
        // Outputs of every frame whose engine frame is complete, read before its slot can be reused.
        const check = (): void => {
          const done = driver.completed();
          assert.equal(done, Atomics.load(arena.control, LANE_FRONTIER));
          while (sent.length > 0 && sent[0].k <= done) {
            const { stream, f, input } = sent.shift() as Sent;
            const want = shadows[stream].step(input);
            net.outputs.forEach((o, j) => {
              const name = net.nodes[o].name;
              assert.ok(sameBits(driver.outputView(j, stream, f), want[name]), `stream ${stream} frame ${f} output ${name}`);
            });
          }
        };
        for (let step = 0; published < 24 || sent.length > 0; step++) {
          assert.ok(step < 5000, 'the lanes stopped making progress');
          const r = rng.next();
          const room = Array.from({ length: streams }, (_, s) => s).filter((s) => driver.completed() >= driver.streamRoom(s));
          if (r < 0.3 && published < 24 && driver.completed() >= driver.engineFrame + 1 - queue && room.length > 0) {
            // A batch of streams that have room, in random order, some through zero-copy views.
            const batch = room.filter(() => rng.next() < 0.8).sort(() => rng.next() - 0.5);
            if (batch.length === 0) continue;
            const k = driver.engineFrame + 1;
            for (const s of batch) {
              const f = driver.frameOf(s) + 1;
              const input = randomInputs(net, rng);
              if (rng.next() < 0.5) driver.writeInputs(Object.values(input), s, f);
              else {
                driver.inputViews(s, f).forEach((view, j) => view.set(input[net.nodes[net.inputs[j]].name]));
                driver.checkInputs(s, f);
              }
              sent.push({ k, stream: s, f, input });
            }
            driver.publishBatch(batch);
            published++;
          } else if (r < 0.4 && held[0].length === 0 && held[1].length === 0) {
            // What a thread that took over the lead's share does after a publish: everything up to it.
            assert.ok(lanes[0].complete(driver.engineFrame));
            assert.equal(Atomics.load(arena.control, LANE_FRONTIER), driver.engineFrame);
          } else if (r < 0.65) {
            const lane = rng.int(0, 1);
            const chunk = lanes[lane].take();
            if (chunk !== null) held[lane].push(chunk);
          } else {
            // Finish a held chunk, or (nothing held) let a lane take and finish one at once.
            const lane = rng.int(0, 1);
            if (held[lane].length > 0) {
              const [chunk] = held[lane].splice(rng.int(0, held[lane].length - 1), 1);
              lanes[lane].run(chunk);
              if (lane === 1) helperEntries += chunk.entries.length;
            } else if (held[1 - lane].length === 0) {
              const n = lanes[lane].step();
              if (lane === 1) helperEntries += n;
            }
          }
          check();
        }
        for (let s = 0; s < streams; s++) assert.equal(shadows[s].tick, driver.frameOf(s), `stream ${s} checked every frame`);
      },
    ),
    { numRuns: 40 },
  );
  // The helper took part (it only takes chunks of four from frames of five or more).
  assert.ok(helperEntries > 100, `the helper computed ${helperEntries} entries`);
});

test("stream lanes: the helper's look at the machine's load reads /proc/loadavg's runnable threads", () => {
  const read = (text: string): number => runnableThreads(Buffer.from(text, 'latin1'), text.length);
  assert.equal(read('0.77 1.67 2.41 2/86 1243\n'), 2);
  assert.equal(read('12.00 11.50 10.25 137/4096 99999\n'), 137);
  assert.equal(read('0.00 0.00 0.00 1/80 5'), 1);
  // Only the bytes read count.
  assert.equal(read('0.77 1.67 2.41 2/86 1243'.slice(0, 16)), 2);
  assert.equal(runnableThreads(Buffer.from('0.77 1.67 2.41 25/86 1'), 16), 2);
});
