import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Network } from '../src/graph/network.js';
import { validateNetwork } from '../src/graph/network.js';
import { InputError } from '../src/io/inputs.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { type OutputFrame, ViewError } from '../src/engine/frame-views.js';
import { Runtime } from '../src/engine/runtime.js';
import { Random } from '../src/util/random.js';
import { sameBits } from './helpers/numeric.js';
import { netParams, randomNetwork, randomValidDelays, randomInputs } from './helpers/random-network.js';

const sameOutputs = (got: Readonly<Record<string, Float32Array>>, want: Record<string, Float32Array>, what: string): void => {
  for (const name of Object.keys(want)) assert.ok(sameBits(got[name], want[name]), `${what}: ${name}`);
};

test('exactness through the zero-copy API: pipelined commits, views held for up to queue ticks, run({views}) and step() mixed, bit for bit the executor, 1-4 workers', async () => {
  await fc.assert(
    fc.asyncProperty(
      netParams(true, 6),
      fc.integer({ min: 0, max: 1e9 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
      async (p, s, maxDelay, workers, queue) => {
        const net = randomNetwork(p);
        const rollout = { kind: 'pattern' as const, delays: randomValidDelays(net, s, maxDelay) };
        const params = initParameters(net, { seed: s, bias: 'uniform' });
        const rt = await Runtime.create(net, { rollout, params, workers, placement: 'one-per-layer', calibrate: false, queue, warmUp: 1 });
        try {
          const ref = new ReferenceExecutor(net, rollout, params, { backend: rt.backend.name });
          const rng = new Random(s);
          const want: Record<string, Float32Array>[] = [];
          // Zero-copy: commit a random number of frames before collecting their outputs, and
          // keep each output frame for a random while (never more than queue held).
          const held: { frame: OutputFrame; tick: number }[] = [];
          const inFlight: { outputs: Promise<OutputFrame>; tick: number }[] = [];
          for (let t = 1; t <= 30; t++) {
            const input = randomInputs(net, rng);
            want[t] = ref.step(input);
            while (held.length + inFlight.length >= queue) {
              const oldest = held.shift();
              if (oldest !== undefined) {
                sameOutputs(oldest.frame.outputs, want[oldest.tick], `held tick ${oldest.tick} at tick ${t}`);
                oldest.frame.release();
              } else {
                const next = inFlight.shift()!;
                held.push({ frame: await next.outputs, tick: next.tick });
              }
            }
            const slot = await rt.nextInput();
            assert.equal(slot.tick, t);
            for (const [name, values] of Object.entries(input)) slot.input(name).set(values);
            inFlight.push({ outputs: slot.commit(), tick: t });
            if (rng.next() < 0.5 && inFlight.length > 0) {
              const next = inFlight.shift()!;
              held.push({ frame: await next.outputs, tick: next.tick });
            }
          }
          for (const f of inFlight) held.push({ frame: await f.outputs, tick: f.tick });
          for (const h of held) {
            assert.equal(h.frame.tick, h.tick);
            sameOutputs(h.frame.outputs, want[h.tick], `tick ${h.tick} at the end`);
            h.frame.release();
          }
          // Then views from run() and copies from step().
          const inputs = Array.from({ length: 10 }, () => randomInputs(net, rng));
          let t = 30;
          for await (const frame of rt.run(inputs, { views: true })) {
            t++;
            want[t] = ref.step(inputs[t - 31]);
            assert.equal(frame.tick, t);
            sameOutputs(frame.outputs, want[t], `run views tick ${t}`);
          }
          const input = randomInputs(net, rng);
          sameOutputs(await rt.step(input), ref.step(input), 'step after');
        } finally {
          await rt.close();
        }
      },
    ),
    { numRuns: 20 },
  );
});

const tiny = (): Network =>
  validateNetwork({
    name: 'tiny',
    nodes: [
      { name: 'x', shape: [2, 3, 3] },
      { name: 'h', shape: [2, 3, 3], activation: 'relu' },
      { name: 'y', shape: [4], activation: 'linear' },
    ],
    edges: [
      { from: 'x', to: 'h', op: { type: 'conv2d', kernel: 3, padding: 'same' } },
      { from: 'h', to: 'h', op: { type: 'conv2d', kernel: 1, padding: 'same' } },
      { from: 'h', to: 'y', op: { type: 'dense' } },
    ],
    outputs: ['y', 'h'],
  });

test('views have lifetimes: a committed slot and a released frame refuse use with a ViewError; release is idempotent', async () => {
  const rt = await Runtime.create(tiny(), { workers: 2, calibrate: false, queue: 4 });
  try {
    const slot = await rt.nextInput();
    assert.ok(slot.open);
    assert.ok(
      slot.input('x').every((v) => v === 0),
      'a slot starts zeroed',
    );
    assert.throws(
      () => slot.input('picture'),
      (e: unknown) => e instanceof ViewError && /"picture" is not an input node \(inputs: x\)/.test(e.message),
    );
    slot.input('x').fill(0.5);
    const frame = await slot.commit();
    assert.equal(slot.open, false);
    assert.throws(
      () => slot.inputs,
      (e: unknown) => e instanceof ViewError && /input slot of tick 1 was committed; cannot read or write its inputs/.test(e.message),
    );
    await assert.rejects(slot.commit(), ViewError);
    slot.cancel();
    assert.equal(frame.tick, 1);
    assert.equal(frame.output('y').length, 4);
    assert.equal(frame.output('h').length, 18);
    assert.throws(() => frame.output('x'), /"x" is not an output node/);
    const kept = frame.copy();
    frame.release();
    frame.release();
    assert.ok(frame.released);
    assert.throws(
      () => frame.outputs,
      (e: unknown) => e instanceof ViewError && /outputs of tick 1 were released; copy\(\) them first/.test(e.message),
    );
    assert.equal(kept.y.length, 4, 'copies outlive the release');
  } finally {
    await rt.close();
  }
});

test('held output frames are never overwritten: the engine refuses to run past queue held frames, and goes on once they are released', async () => {
  const net = tiny();
  const params = initParameters(net, { seed: 5, bias: 'uniform' });
  const rt = await Runtime.create(net, { params, workers: 2, calibrate: false, queue: 3 });
  const ref = new ReferenceExecutor(net, 'streaming', params, { backend: rt.backend.name });
  try {
    const rng = new Random(9);
    const frames: OutputFrame[] = [];
    const want: Record<string, Float32Array>[] = [];
    for (let t = 1; t <= 4; t++) {
      const x = randomInputs(net, rng);
      want.push(ref.step(x));
      const slot = await rt.nextInput();
      slot.input('x').set(x.x);
      frames.push(await slot.commit());
    }
    // Tick 1 is held and tick 5 = 1 + queue + 1 could reuse its memory.
    await assert.rejects(rt.nextInput(), (e: unknown) => e instanceof ViewError && /tick 5 would overwrite the outputs of tick 1, which are still held/.test(e.message));
    await assert.rejects(rt.repeat(new Float32Array(18), 2), ViewError);
    sameOutputs(frames[0].outputs, want[0], 'tick 1 intact');
    frames[0].release();
    // Writing into an output view changes nothing the engine computes with.
    frames[1].output('h').fill(1e6);
    const x = randomInputs(net, rng);
    const slot = await rt.nextInput();
    slot.input('x').set(x.x);
    const fifth = await slot.commit();
    sameOutputs(fifth.outputs, ref.step(x), 'tick 5 after a caller scribbled on tick 2');
    for (const f of [...frames.slice(1), fifth]) f.release();
  } finally {
    await rt.close();
  }
});

test('a bad slot is a clear error that leaves it open; cancel gives the tick back; open slots queue other calls', async () => {
  const net = tiny();
  const params = initParameters(net, { seed: 2 });
  const rt = await Runtime.create(net, { params, workers: 1, calibrate: false });
  const ref = new ReferenceExecutor(net, 'streaming', params, { backend: rt.backend.name });
  try {
    const slot = await rt.nextInput();
    slot.input('x')[7] = Number.NaN;
    await assert.rejects(slot.commit(), (e: unknown) => e instanceof InputError && /tick 1: input "x" has a non-finite value \(NaN\) at index 7/.test(e.message));
    assert.ok(slot.open, 'still open after a rejected commit');
    // A step called meanwhile waits for the slot.
    let stepped = false;
    const x = Float32Array.from({ length: 18 }, (_, i) => i / 18);
    const step = rt.step({ x }).then((out) => ((stepped = true), out));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(stepped, false, 'step waits for the open slot');
    slot.cancel();
    sameOutputs(await step, ref.step({ x }), 'the step after a cancelled slot is tick 1');
    assert.equal(rt.tick, 1);
  } finally {
    await rt.close();
  }
});
