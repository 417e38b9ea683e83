import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { Runtime } from '../src/engine/runtime.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { nativeAvailable } from '../src/kernels/backends.js';
import { NATIVE_BF16_BACKEND, NATIVE_FP16_BACKEND, toBf16, toFp16 } from '../src/kernels/native/index.js';
import { loadModel } from '../src/io/model-file.js';
import { StreamrollError } from '../src/util/errors.js';
import { Random } from '../src/util/random.js';
import { sameBits } from './helpers/numeric.js';

const fromBf16 = (h: number): number => new Float32Array(Uint32Array.of(h << 16).buffer)[0];
/** An IEEE half's value, decoded by the book (not as the kernel does). */
function fromFp16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
const FORMATS = [
  { precision: 'bf16', backend: NATIVE_BF16_BACKEND, round: (x: number) => fromBf16(toBf16(x)) },
  { precision: 'fp16', backend: NATIVE_FP16_BACKEND, round: (x: number) => fromFp16(toFp16(x)) },
] as const;

test('bfloat16 rounding: nearest, ties to even, exact for values with 8 significant bits', () => {
  for (const x of [0, 1, -2, 0.5, 3.140625, -0.0078125, 65280]) assert.equal(fromBf16(toBf16(x)), x, `${x} has 8 significant bits`);
  assert.equal(fromBf16(toBf16(1 + 2 ** -8)), 1, 'a tie rounds to the even neighbour');
  assert.equal(fromBf16(toBf16(1 + 3 * 2 ** -8)), 1 + 2 ** -6, 'a tie rounds to the even neighbour, up');
  const rng = new Random(3);
  for (let i = 0; i < 1000; i++) {
    const x = rng.uniform(-10, 10);
    assert.ok(Math.abs(fromBf16(toBf16(x)) - x) <= Math.abs(x) * 2 ** -8, `${x}`);
  }
});

test('IEEE half rounding: nearest, ties to even, subnormals, the range refused beyond +-65504', () => {
  for (const x of [0, 1, -2, 0.5, 3.140625, -0.0078125, 65504, 2 ** -14, 2 ** -24, 5 * 2 ** -24, 1 + 2 ** -10]) assert.equal(fromFp16(toFp16(x)), x, `${x} is a half`);
  assert.equal(toFp16(-0), 0x8000);
  assert.equal(toFp16(1), 0x3c00);
  assert.equal(toFp16(65504), 0x7bff);
  assert.equal(fromFp16(toFp16(1 + 2 ** -11)), 1, 'a tie rounds to the even neighbour');
  assert.equal(fromFp16(toFp16(1 + 3 * 2 ** -11)), 1 + 2 ** -9, 'a tie rounds to the even neighbour, up');
  assert.equal(fromFp16(toFp16(2 ** -25)), 0, 'half the smallest subnormal ties to zero');
  assert.equal(fromFp16(toFp16(2 ** -14 - 2 ** -26)), 2 ** -14, 'the largest subnormal rounds up into the normals');
  assert.equal(fromFp16(toFp16(65519)), 65504);
  assert.throws(() => toFp16(65520), RangeError);
  assert.throws(() => toFp16(Number.NaN), RangeError);
  const rng = new Random(4);
  for (let i = 0; i < 1000; i++) {
    const x = rng.uniform(-10, 10);
    assert.ok(Math.abs(fromFp16(toFp16(x)) - x) <= Math.abs(x) * 2 ** -11, `${x}`);
  }
});

for (const format of FORMATS) {
  test(
    `${format.precision} dense weights: the native kernel equals float32 arithmetic on the rounded weights; engine and executor agree bit for bit`,
    {
      skip: !nativeAvailable() && 'native kernels not built',
    },
    () => halfDenseCase(format),
  );
}

async function halfDenseCase(format: (typeof FORMATS)[number]): Promise<void> {
  for (const [inSize, outSize] of [
    [784, 128],
    [1024, 1024],
    [37, 5],
  ]) {
    const net = validateNetwork({
      name: 'd',
      nodes: [
        { name: 'x', shape: [inSize] },
        { name: 'y', shape: [outSize] },
      ],
      edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
      outputs: ['y'],
    });
    const params = initParameters(net, { seed: 2, bias: 'uniform' });
    const rng = new Random(inSize);
    const x = Float32Array.from({ length: inSize }, () => rng.uniform(-1, 1));
    // R = 0: tick 1's output reads tick 1's input.
    const half = new ReferenceExecutor(net, { default: 0 }, params, { backend: format.backend }).step(x).y;
    // The same network in float64 with the weights rounded to the 16-bit format.
    const w = params.weights[0] as Float32Array;
    const b = params.biases[1];
    for (let o = 0; o < outSize; o++) {
      let s = 0;
      for (let i = 0; i < inSize; i++) s += format.round(w[o * inSize + i]) * x[i];
      s += b[o];
      assert.ok(Math.abs(half[o] - s) <= 1e-5 * (1 + Math.abs(s)), `[${inSize}x${outSize}] ${o}: ${half[o]} vs ${s}`);
    }
    const rt = await Runtime.create(net, { params, precision: format.precision, workers: 1, rollout: { default: 0 } });
    try {
      assert.equal(rt.backend.name, format.backend);
      assert.ok(sameBits((await rt.step(x)).y, half));
    } finally {
      await rt.close();
    }
  }
  await assert.rejects(
    Runtime.create(
      validateNetwork({
        name: 'r',
        nodes: [
          { name: 'x', shape: [2] },
          { name: 'y', shape: [2] },
        ],
        edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
        outputs: ['y'],
      }),
      { precision: format.precision, backend: 'reference' },
    ),
    (e: unknown) => e instanceof StreamrollError && e.code === 'OPTION_INVALID' && /needs the native kernels/.test(e.message),
  );
}

test('fp16: the kernel widens every finite half exactly (all 63,488 of them, subnormals and -0 included)', { skip: !nativeAvailable() && 'native kernels not built' }, () => {
  const halves: number[] = [];
  for (let h = 0; h < 0x10000; h++) if (((h >> 10) & 31) !== 31) halves.push(h);
  const net = validateNetwork({
    name: 'every-half',
    nodes: [
      { name: 'x', shape: [1] },
      { name: 'y', shape: [halves.length] },
    ],
    edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
    outputs: ['y'],
  });
  const params = initParameters(net, { seed: 1 });
  const w = params.weights[0] as Float32Array;
  halves.forEach((h, o) => (w[o] = fromFp16(h)));
  const y = new ReferenceExecutor(net, { default: 0 }, params, { backend: NATIVE_FP16_BACKEND }).step(Float32Array.of(1)).y;
  const wrong = halves.filter((h, o) => y[o] !== fromFp16(h) && !(y[o] === 0 && fromFp16(h) === 0));
  assert.deepEqual(wrong, []);
});

test('fp16: a weight beyond half precision is refused, naming its edge', { skip: !nativeAvailable() && 'native kernels not built' }, async () => {
  const net = validateNetwork({
    name: 'big',
    nodes: [
      { name: 'x', shape: [4] },
      { name: 'y', shape: [2] },
    ],
    edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
    outputs: ['y'],
  });
  const params = initParameters(net, { seed: 1 });
  (params.weights[0] as Float32Array)[3] = 1e5;
  await assert.rejects(
    Runtime.create(net, { params, precision: 'fp16', workers: 1 }),
    (e: unknown) => e instanceof StreamrollError && e.code === 'OPTION_INVALID' && /edge x->y/.test(e.message) && /65504/.test(e.message),
  );
  await assert.rejects(Runtime.create(net, { params, precision: 'fp8' as 'fp16' }), /precision must be "fp32", "bf16" or "fp16"/);
});

for (const format of FORMATS) {
  test(`the shipped MNIST model with ${format.precision} weights answers as the float32 one on most frames`, { skip: !nativeAvailable() && 'native kernels not built' }, () =>
    mnistCase(format.backend),
  );
}

async function mnistCase(backend: string): Promise<void> {
  const model = await loadModel(new URL('../../examples/mnist-sr.srm', import.meta.url).pathname);
  const fp32 = new ReferenceExecutor(model.network, model.rollout, model.params, { backend: 'native' });
  const bf16 = new ReferenceExecutor(model.network, model.rollout, model.params, { backend });
  const rng = new Random(5);
  let same = 0;
  let maxDiff = 0;
  for (let t = 0; t < 200; t++) {
    const x = Float32Array.from({ length: 784 }, () => rng.uniform(0, 1));
    const a = fp32.step(x).prediction;
    const b = bf16.step(x).prediction;
    const argmax = (v: Float32Array): number => v.indexOf(Math.max(...v));
    if (argmax(a) === argmax(b)) same++;
    for (let i = 0; i < 10; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  }
  assert.ok(same >= 190, `${same} of 200 frames predict the same class`);
  assert.ok(maxDiff < 0.05, `largest probability change ${maxDiff}`);
}

test('precision per node: each dense edge is stored at its target node precision on every backend (the same numbers), at 16 bits on the native kernels; a bad value is a spec error', async () => {
  const spec = {
    name: 'mixed',
    nodes: [
      { name: 'x', shape: [96] },
      { name: 'a', shape: [64], activation: 'tanh', precision: 'bf16' },
      { name: 'b', shape: [48], activation: 'tanh', precision: 'fp16' },
      { name: 'c', shape: [10], precision: 'fp32' },
    ],
    edges: [
      { from: 'x', to: 'a', op: { type: 'dense' } },
      { from: 'a', to: 'b', op: { type: 'dense' } },
      { from: 'b', to: 'c', op: { type: 'dense' } },
      { from: 'x', to: 'c', op: { type: 'dense' } },
    ],
    outputs: ['c'],
  } as const;
  const net = validateNetwork(spec);
  assert.deepEqual(
    net.edges.map((e) => (e.geometry as { precision?: string }).precision),
    ['bf16', 'fp16', 'fp32', 'fp32'],
  );
  const params = initParameters(net, { seed: 8, bias: 'uniform' });
  const rng = new Random(8);
  const x = Float32Array.from({ length: 96 }, () => rng.uniform(-1, 1));
  // The same network in float64, each edge's weights rounded to its target's precision.
  const round = [(v: number) => fromBf16(toBf16(v)), (v: number) => fromFp16(toFp16(v)), (v: number) => Math.fround(v), (v: number) => Math.fround(v)];
  const state: Record<string, number[]> = { x: [...x] };
  for (const node of net.nodes.slice(1)) {
    const sums = new Array<number>(node.size).fill(0);
    for (const e of node.inEdges) {
      const edge = net.edges[e];
      const w = params.weights[e] as Float32Array;
      const src = state[net.nodes[edge.from].name];
      for (let o = 0; o < node.size; o++) for (let i = 0; i < src.length; i++) sums[o] += round[e](w[o * src.length + i]) * src[i];
    }
    state[node.name] = sums.map((s, o) => {
      const v = s + params.biases[node.index][o];
      return node.activation === 'tanh' ? Math.tanh(v) : v;
    });
  }
  const backends = ['reference', 'wasm', ...(nativeAvailable() ? ['native'] : [])];
  for (const backend of backends) {
    const got = new ReferenceExecutor(net, { default: 0 }, params, { backend }).step(x).c;
    for (let o = 0; o < 10; o++) assert.ok(Math.abs(got[o] - state.c[o]) <= 1e-5 * (1 + Math.abs(state.c[o])), `${backend} ${o}: ${got[o]} vs ${state.c[o]}`);
  }
  if (nativeAvailable()) {
    const executor = new ReferenceExecutor(net, { default: 0 }, params, { backend: 'native' });
    // Stored at 16 bits: half the bytes of float32 for a and b's edges.
    assert.equal(executor.arena.weights(0).length, (96 * 64) / 2);
    assert.equal(executor.arena.weights(1).length, (64 * 48) / 2);
    assert.equal(executor.arena.weights(2).length, 48 * 10);
    const rt = await Runtime.create(net, { params, workers: 2, rollout: { default: 0 } });
    try {
      assert.ok(sameBits((await rt.step(x)).c, executor.step(x).c), 'engine = executor on the same kernels');
    } finally {
      await rt.close();
    }
  }
  assert.throws(
    () => validateNetwork({ ...spec, nodes: [spec.nodes[0], { name: 'a', shape: [64], precision: 'int8' }, spec.nodes[2], spec.nodes[3]] } as never),
    /precision: expected "fp32", "bf16" or "fp16", found "int8"/,
  );
});
