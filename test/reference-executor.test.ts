import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateNetwork } from '../src/graph/network.js';
import { InputError } from '../src/io/inputs.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { responseDelays } from '../src/rollout/response.js';
import { RolloutCycleError } from '../src/rollout/validity.js';
import { Random } from '../src/util/random.js';
import { sameBits } from './helpers/numeric.js';
import { netParams, randomNetwork, randomValidDelays } from './helpers/random-network.js';

for (const backend of ['reference', 'wasm']) {
  test(`${backend}: impulse response: an input impulse at tick k first changes each output at tick k + d(o)`, () => {
    fc.assert(
      fc.property(netParams(true, 6), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 4 }), (p, s, maxDelay, k) => {
        // Strictly monotone activations, so a change is never flattened away (relu could).
        const net = randomNetwork(p, { activations: ['tanh', 'leaky_relu', 'linear'] });
        const delays = randomValidDelays(net, s, maxDelay);
        const params = initParameters(net, { seed: s, bias: 'uniform' });
        const quiet = new ReferenceExecutor(net, { kind: 'pattern', delays }, params, { backend });
        const pulsed = new ReferenceExecutor(net, { kind: 'pattern', delays }, params, { backend });
        const d = responseDelays(net, delays);
        const horizon = k + Math.max(...net.outputs.map((o) => d[o])) + 1;
        const rng = new Random(s);
        const zeros: Record<string, Float32Array> = {};
        const impulse: Record<string, Float32Array> = {};
        for (const i of net.inputs) {
          const n = net.nodes[i];
          zeros[n.name] = new Float32Array(n.size);
          impulse[n.name] = Float32Array.from({ length: n.size }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.5, 1.5));
        }
        const firstChange = new Map<string, number>();
        for (let t = 1; t <= horizon; t++) {
          const a = quiet.step(zeros);
          const b = pulsed.step(t === k ? impulse : zeros);
          for (const [name, y] of Object.entries(a)) {
            if (!firstChange.has(name) && !sameBits(y, b[name])) firstChange.set(name, t);
          }
        }
        for (const o of net.outputs) {
          const name = net.nodes[o].name;
          assert.equal(firstChange.get(name), k + d[o], `output ${name}: d = ${d[o]}, delays ${JSON.stringify(delays)}`);
        }
      }),
      { numRuns: 100 },
    );
  });
}

// Float32 rounding differs between the backends (fused multiply-add, summation order) and
// random recurrent networks can amplify it (some double their state every tick), so whole
// runs are held to 1e-4 of max(1, largest value) over 8 ticks (outputs near zero by
// cancellation make a purely relative bound meaningless); kernels alone meet 1e-5 in kernels.test.
test('the wasm backend agrees with the reference backend over 8 ticks on random networks and rollouts', () => {
  fc.assert(
    fc.property(netParams(true, 6), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 2 }), (p, s, maxDelay) => {
      const net = randomNetwork(p, { activations: ['relu', 'leaky_relu', 'tanh', 'sigmoid', 'linear'] });
      const delays = randomValidDelays(net, s, maxDelay);
      const params = initParameters(net, { seed: s, bias: 'uniform' });
      const ref = new ReferenceExecutor(net, { kind: 'pattern', delays }, params);
      const wasm = new ReferenceExecutor(net, { kind: 'pattern', delays }, params, { backend: 'wasm' });
      const rng = new Random(s);
      for (let t = 0; t < 8; t++) {
        const input: Record<string, Float32Array> = {};
        for (const i of net.inputs) input[net.nodes[i].name] = Float32Array.from({ length: net.nodes[i].size }, () => rng.uniform(-1, 1));
        const a = ref.step(input);
        const b = wasm.step(input);
        for (const name of Object.keys(a)) {
          const scale = Math.max(1, ...a[name].map(Math.abs));
          const diff = Math.max(...a[name].map((v, i) => Math.abs(v - b[name][i])));
          assert.ok(diff <= 1e-4 * scale, `tick ${t + 1} ${name}: |diff| ${diff}, scale ${scale}`);
        }
      }
    }),
    { numRuns: 60 },
  );
});

test('tick semantics by hand: identity chain with delays reads x(k - r1 - r2); frame 0 and earlier are zeros', () => {
  const net = validateNetwork({
    name: 'chain',
    nodes: [
      { name: 'x', shape: [1] },
      { name: 'a', shape: [1] },
      { name: 'b', shape: [1] },
    ],
    edges: [
      { from: 'x', to: 'a', op: { type: 'identity' } },
      { from: 'a', to: 'b', op: { type: 'identity' } },
      { from: 'b', to: 'b', op: { type: 'identity' } },
    ],
    outputs: ['b'],
  });
  const params = initParameters(net);
  const ex = new ReferenceExecutor(net, { default: 1, edges: { 'x->a': 0, 'a->b': 2 } }, params);
  // b(k) = a(k-2) + b(k-1), a(k) = x(k): b accumulates x delayed by 2.
  const outs = [10, 20, 30, 40, 50].map((v) => ex.step(Float32Array.of(v)).b[0]);
  assert.deepEqual(outs, [0, 0, 10, 30, 60]);
  assert.equal(ex.tick, 5);
  assert.deepEqual([...ex.state('a', 1)], [40]);
  assert.throws(() => ex.state('a', 3), RangeError);
  ex.reset();
  assert.equal(ex.tick, 0);
  assert.deepEqual([...ex.step(Float32Array.of(1)).b], [0]);
});

test('repeat(input, n) equals n steps of the same input', () => {
  const net = validateNetwork({
    name: 'rep',
    nodes: [
      { name: 'x', shape: [3, 4, 4] },
      { name: 'h', shape: [5, 4, 4], activation: 'tanh' },
      { name: 'y', shape: [3] },
    ],
    edges: [
      { from: 'x', to: 'h', op: { type: 'conv2d', kernel: 3 } },
      { from: 'h', to: 'h', op: { type: 'conv2d', kernel: 1 } },
      { from: 'h', to: 'y', op: { type: 'dense' } },
    ],
    outputs: ['y'],
  });
  const params = initParameters(net, { seed: 8, bias: 'uniform' });
  for (const backend of ['reference', 'wasm']) {
    const a = new ReferenceExecutor(net, 'streaming', params, { backend });
    const b = new ReferenceExecutor(net, 'streaming', params, { backend });
    const x = Float32Array.from({ length: 48 }, (_, i) => Math.cos(i));
    let last: Float32Array = new Float32Array(0);
    for (let t = 0; t < 9; t++) last = b.step(x).y;
    assert.ok(sameBits(a.repeat(x, 9).y, last), backend);
    assert.equal(a.tick, 9);
  }
});

test('bad inputs are clear errors naming node and tick, and leave the executor unchanged', () => {
  const net = validateNetwork({
    name: 'two-inputs',
    nodes: [
      { name: 'x', shape: [3] },
      { name: 'y', shape: [2] },
      { name: 'z', shape: [2], activation: 'tanh' },
    ],
    edges: [
      { from: 'x', to: 'z', op: { type: 'dense' } },
      { from: 'y', to: 'z', op: { type: 'dense' } },
      { from: 'z', to: 'z', op: { type: 'dense' } },
    ],
    outputs: ['z'],
  });
  const params = initParameters(net, { seed: 4, bias: 'uniform' });
  const ex = new ReferenceExecutor(net, 'streaming', params);
  const twin = new ReferenceExecutor(net, 'streaming', params);
  const good = { x: [1, 2, 3], y: [4, 5] };
  ex.step(good);
  twin.step(good);
  const bad: [unknown, RegExp][] = [
    [{ x: [1, 2], y: [4, 5] }, /tick 2: input "x" has 2 values, expected 3/],
    [{ x: [1, NaN, 3], y: [4, 5] }, /tick 2: input "x" has a non-finite value \(NaN\) at index 1/],
    [{ x: [1, 2, 3] }, /tick 2: missing input for node "y"/],
    [{ x: [1, 2, 3], y: [4, 5], w: [1] }, /tick 2: "w" is not an input node/],
    [Float32Array.of(1, 2, 3), /has 2 input nodes \(x, y\)/],
  ];
  for (const [input, message] of bad) {
    assert.throws(
      () => ex.step(input as never),
      (err: unknown) => err instanceof InputError && message.test(err.message),
    );
  }
  assert.equal(ex.tick, 1);
  assert.ok(sameBits(ex.step(good).z, twin.step(good).z));
  const zeroing = new ReferenceExecutor(net, 'streaming', params, { nonFinite: 'zero' });
  const viaZero = zeroing.step({ x: [1, Infinity, 3], y: [4, 5] }).z;
  const fresh = new ReferenceExecutor(net, 'streaming', params);
  assert.ok(sameBits(viaZero, fresh.step({ x: [1, 0, 3], y: [4, 5] }).z));
});

test('invalid rollouts and mismatched parameters are refused at construction', () => {
  const net = validateNetwork({
    name: 'loop',
    nodes: [
      { name: 'x', shape: [2] },
      { name: 'h', shape: [2] },
    ],
    edges: [
      { from: 'x', to: 'h', op: { type: 'dense' } },
      { from: 'h', to: 'h', op: { type: 'dense' } },
    ],
    outputs: ['h'],
  });
  assert.throws(() => new ReferenceExecutor(net, { default: 0 }, initParameters(net)), RolloutCycleError);
  const params = initParameters(net);
  const short = { weights: [params.weights[0], new Float32Array(3)], biases: params.biases };
  assert.throws(() => new ReferenceExecutor(net, 'streaming', short), /edge "h->h": weights have 3 values, expected 4 \(\[2,2\]\)/);
});

test('weight init is deterministic per seed and scaled by fan-in (He for relu, Glorot otherwise)', () => {
  const net = validateNetwork({
    name: 'init',
    nodes: [
      { name: 'x', shape: [400] },
      { name: 'r', shape: [300], activation: 'relu' },
      { name: 't', shape: [100], activation: 'tanh' },
    ],
    edges: [
      { from: 'x', to: 'r', op: { type: 'dense' } },
      { from: 'r', to: 't', op: { type: 'dense' } },
    ],
    outputs: ['t'],
  });
  const a = initParameters(net, { seed: 7 });
  const b = initParameters(net, { seed: 7 });
  const c = initParameters(net, { seed: 8 });
  assert.ok(sameBits(a.weights[0] as Float32Array, b.weights[0] as Float32Array));
  assert.ok(!sameBits(a.weights[0] as Float32Array, c.weights[0] as Float32Array));
  const maxAbs = (w: Float32Array | null): number => Math.max(...(w as Float32Array).map(Math.abs));
  const he = Math.sqrt(6 / 400);
  const glorot = Math.sqrt(6 / (300 + 100));
  assert.ok(maxAbs(a.weights[0]) <= he && maxAbs(a.weights[0]) > 0.9 * he);
  assert.ok(maxAbs(a.weights[1]) <= glorot && maxAbs(a.weights[1]) > 0.9 * glorot);
  assert.ok(a.biases[1].every((v) => v === 0));
  assert.equal(a.biases[0].length, 0);
});
