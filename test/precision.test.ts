import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { Runtime } from '../src/engine/runtime.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { nativeAvailable } from '../src/kernels/backends.js';
import { NATIVE_BF16_BACKEND, toBf16 } from '../src/kernels/native/index.js';
import { loadModel } from '../src/io/model-file.js';
import { StreamrollError } from '../src/util/errors.js';
import { Random } from '../src/util/random.js';
import { sameBits } from './helpers/numeric.js';

const fromBf16 = (h: number): number => new Float32Array(Uint32Array.of(h << 16).buffer)[0];

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

test('bf16 dense weights: the native kernel equals float32 arithmetic on the rounded weights; engine and executor agree bit for bit', {
  skip: !nativeAvailable() && 'native kernels not built',
}, async () => {
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
    const half = new ReferenceExecutor(net, { default: 0 }, params, { backend: NATIVE_BF16_BACKEND }).step(x).y;
    // The same network in float64 with the weights rounded to bfloat16.
    const w = params.weights[0] as Float32Array;
    const b = params.biases[1];
    for (let o = 0; o < outSize; o++) {
      let s = 0;
      for (let i = 0; i < inSize; i++) s += fromBf16(toBf16(w[o * inSize + i])) * x[i];
      s += b[o];
      assert.ok(Math.abs(half[o] - s) <= 1e-5 * (1 + Math.abs(s)), `[${inSize}x${outSize}] ${o}: ${half[o]} vs ${s}`);
    }
    const rt = await Runtime.create(net, { params, precision: 'bf16', workers: 1, rollout: { default: 0 } });
    try {
      assert.equal(rt.backend.name, NATIVE_BF16_BACKEND);
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
      { precision: 'bf16', backend: 'reference' },
    ),
    (e: unknown) => e instanceof StreamrollError && e.code === 'OPTION_INVALID' && /needs the native kernels/.test(e.message),
  );
});

test('the shipped MNIST model with bf16 weights answers as the float32 one on most frames', { skip: !nativeAvailable() && 'native kernels not built' }, async () => {
  const model = await loadModel(new URL('../../examples/mnist-sr.srm', import.meta.url).pathname);
  const fp32 = new ReferenceExecutor(model.network, model.rollout, model.params, { backend: 'native' });
  const bf16 = new ReferenceExecutor(model.network, model.rollout, model.params, { backend: NATIVE_BF16_BACKEND });
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
});
