import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as TF from '@tensorflow/tfjs';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { mnistSplit } from '../src/io/mnist-data.js';
import { resolveRollout } from '../src/rollout/pattern.js';
import { frameOrder } from '../src/rollout/validity.js';
import { loadTf } from '../src/train/tf.js';
import { train } from '../src/train/trainer.js';
import { fromTrainable, toTrainable, unroll } from '../src/train/window-model.js';
import { Random } from '../src/util/random.js';
import { relativeError, sameBits } from './helpers/numeric.js';

const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

test('the TensorFlow.js rollout window matches the runtime frame by frame (streaming, sequential, hybrid)', async () => {
  const { tf } = await loadTf();
  const net = await loadNetworkFile(example('mnist-sr'));
  const params = initParameters(net, { seed: 5, bias: 'uniform' });
  for (const spec of ['streaming', 'sequential', { default: 1, edges: { 'image->h1': 0, 'h2->prediction': 2 } }] as const) {
    const rollout = resolveRollout(net, spec);
    const ref = new ReferenceExecutor(net, rollout, params);
    const rng = new Random(2);
    const frames = Array.from({ length: 6 }, () => Float32Array.from({ length: 784 }, () => rng.uniform(0, 1)));
    const tp = toTrainable(tf, net, params);
    const out = tf.tidy(() =>
      unroll(
        tf,
        net,
        rollout.delays,
        frameOrder(net, rollout.delays),
        tp,
        frames.map((f) => [tf.tensor4d(f, [1, 28, 28, 1])]),
        false,
      ).map((o) => o.states[0].dataSync() as Float32Array),
    );
    frames.forEach((f, k) => {
      const expected = ref.step(f).prediction;
      assert.ok(relativeError(out[k], expected) < 1e-4, `${JSON.stringify(spec)} tick ${k + 1}: ${relativeError(out[k], expected)}`);
    });
    // The round trip through the trainable layouts is exact.
    const back = fromTrainable(tf, net, tp);
    params.weights.forEach((w, i) => assert.ok(w === null ? back.weights[i] === null : sameBits(w, back.weights[i] as Float32Array)));
    params.biases.forEach((b, i) => assert.ok(sameBits(b, back.biases[i])));
    [...tp.weights, ...tp.biases].forEach((v) => v?.dispose());
  }
});

test('the window matches the runtime on grouped and depthwise convs, uneven padding, global pooling and every activation', async () => {
  const { tf } = await loadTf();
  const net = validateNetwork({
    name: 'mobile-ish',
    nodes: [
      { name: 'x', shape: [4, 6, 6] },
      { name: 'dw', shape: [8, 6, 6], activation: 'relu6' },
      { name: 'pw', shape: [6, 3, 3], activation: 'hard_swish' },
      { name: 'gp', shape: [6], activation: 'leaky_relu', alpha: 0.3 },
      { name: 'y', shape: [5], activation: 'hard_sigmoid', alpha: 1 / 6, beta: 0.5 },
      { name: 'z', shape: [5], activation: 'elu', alpha: 0.7 },
    ],
    edges: [
      { from: 'x', to: 'dw', op: { type: 'conv2d', kernel: 3, padding: [1, 1, 0, 2], groups: 4 } },
      { from: 'dw', to: 'pw', op: { type: 'conv2d', kernel: 2, stride: 2, padding: [0, 1, 1, 0], groups: 2 } },
      { from: 'pw', to: 'gp', op: { type: 'avgpool', kernel: 3 } },
      { from: 'gp', to: 'y', op: { type: 'dense' } },
      { from: 'y', to: 'z', op: { type: 'dense' } },
    ],
    outputs: ['z'],
  });
  const params = initParameters(net, { seed: 9, bias: 'uniform' });
  for (const spec of ['streaming', 'sequential'] as const) {
    const rollout = resolveRollout(net, spec);
    const ref = new ReferenceExecutor(net, rollout, params);
    const rng = new Random(4);
    const frames = Array.from({ length: 5 }, () => Float32Array.from({ length: 144 }, () => rng.uniform(-2, 2)));
    const tp = toTrainable(tf, net, params);
    // Frames in NHWC for the window.
    const nhwc = (f: Float32Array): TF.Tensor4D => tf.transpose(tf.tensor4d(f, [1, 4, 6, 6]), [0, 2, 3, 1]) as TF.Tensor4D;
    const out = tf.tidy(() =>
      unroll(
        tf,
        net,
        rollout.delays,
        frameOrder(net, rollout.delays),
        tp,
        frames.map((f) => [nhwc(f)]),
        false,
      ).map((o) => o.states[0].dataSync() as Float32Array),
    );
    frames.forEach((f, k) => {
      const expected = ref.step(f).z;
      assert.ok(relativeError(out[k], expected) < 1e-4, `${spec} tick ${k + 1}: ${relativeError(out[k], expected)}`);
    });
    const back = fromTrainable(tf, net, tp);
    params.weights.forEach((w, i) => assert.ok(w === null ? back.weights[i] === null : sameBits(w, back.weights[i] as Float32Array)));
    [...tp.weights, ...tp.biases].forEach((v) => v?.dispose());
  }
});

test('the conv and dense gradients written for the wasm backend equal TensorFlow.js own (cpu backend)', async () => {
  const { tf } = await loadTf();
  await import('@tensorflow/tfjs-backend-cpu');
  const before = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const cases = [
      { src: [1, 28, 28], dst: [16, 7, 7], op: { type: 'conv2d', kernel: 7, stride: 4, padding: 'same' } },
      { src: [3, 9, 9], dst: [4, 3, 3], op: { type: 'conv2d', kernel: 3, stride: 3, padding: 'valid' } },
      { src: [2, 10, 10], dst: [5, 3, 3], op: { type: 'conv2d', kernel: 3, stride: 3, padding: 'valid' } },
      { src: [3, 8, 7], dst: [2, 8, 7], op: { type: 'conv2d', kernel: [3, 2], padding: 'same' } },
      { src: [2, 6, 6], dst: [3, 8, 8], op: { type: 'conv2d', kernel: 3, padding: 2 } },
      { src: [2, 5, 5], dst: [7], op: { type: 'dense' } },
    ] as const;
    for (const c of cases) {
      const net = validateNetwork({
        name: 'g',
        nodes: [
          { name: 'x', shape: c.src },
          { name: 'y', shape: c.dst },
        ],
        edges: [{ from: 'x', to: 'y', op: c.op }],
        outputs: ['y'],
      });
      const params = initParameters(net, { seed: 3, bias: 'uniform' });
      const tp = toTrainable(tf, net, params);
      const rng = new Random(9);
      const n = (c.src as readonly number[]).reduce((a, b) => a * b, 1);
      const xShape = c.src.length === 3 ? [2, c.src[1], c.src[2], c.src[0]] : [2, n];
      const x = tf.tensor(
        Float32Array.from({ length: 2 * n }, () => rng.uniform(-1, 1)),
        xShape,
      );
      const grads = (native: boolean): Float32Array[] =>
        tf.tidy(() => {
          const g = tf.grads((w: TF.Tensor, xi: TF.Tensor) => {
            const saved = tp.weights[0];
            const out = unroll(tf, net, [0], [0, 1], { weights: [w as TF.Variable], biases: tp.biases }, [[xi]], native)[0].states[0];
            void saved;
            return tf.sum(tf.square(out));
          });
          return g([tp.weights[0] as TF.Variable, x]).map((t) => t.dataSync() as Float32Array);
        });
      const mine = grads(false);
      const theirs = grads(true);
      mine.forEach((m, i) => assert.ok(relativeError(m, theirs[i]) < 1e-4, `${JSON.stringify(c.op)} grad ${i}: ${relativeError(m, theirs[i])}`));
      [...tp.weights, ...tp.biases].forEach((v) => v?.dispose());
    }
  } finally {
    await tf.setBackend(before);
  }
});

test('training lowers the loss (a few steps of BPTT on noisy MNIST sequences)', async () => {
  const loaded = await loadTf();
  const net = await loadNetworkFile(example('mnist-s'));
  const digits = mnistSplit().train;
  const rng = new Random(4);
  const sample = Array.from({ length: 256 }, () => digits[rng.int(0, digits.length - 1)]);
  const losses: number[] = [];
  const tensorsBefore = loaded.tf.memory().numTensors;
  await train(loaded, net, resolveRollout(net, 'streaming'), initParameters(net, { seed: 1 }), sample, {
    epochs: 6,
    batchSize: 32,
    learningRate: 3e-3,
    noiseStd: 0.5,
    seed: 2,
    lossFrames: 2,
    onStep: (_, l) => losses.push(l),
  });
  const first = losses.slice(0, 4).reduce((a, b) => a + b) / 4;
  const last = losses.slice(-4).reduce((a, b) => a + b) / 4;
  assert.ok(last < first * 0.75, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  // tfjs 4.22's Adam keeps a few scalars after dispose() (its dispose skips the base class's);
  // what matters is that nothing grows with the number of steps.
  assert.ok(loaded.tf.memory().numTensors - tensorsBefore <= 4, `tensors left: ${loaded.tf.memory().numTensors - tensorsBefore}`);
});

test('dropout (a node field, training only): the window drops about that fraction of the state and scales the rest; inference and the engine ignore it', async () => {
  const { tf } = await loadTf();
  const spec = {
    name: 'd',
    nodes: [
      { name: 'x', shape: [400] },
      { name: 'h', shape: [400], activation: 'relu' as const, dropout: 0.5 },
    ],
    edges: [{ from: 'x', to: 'h', op: { type: 'identity' as const } }],
    outputs: ['h'],
  };
  const net = validateNetwork(spec);
  assert.equal(net.nodes[1].dropout, 0.5);
  assert.throws(() => validateNetwork({ ...spec, nodes: [spec.nodes[0], { ...spec.nodes[1], dropout: 1 }] }), /dropout: expected a fraction 0 <= p < 1, found 1/);
  const params = initParameters(net, { seed: 1 });
  const rollout = resolveRollout(net, 'streaming');
  const tp = toTrainable(tf, net, params);
  const ones = [[tf.ones([1, 400])]];
  const [dropped, plain] = tf.tidy(() => [
    unroll(tf, net, rollout.delays, frameOrder(net, rollout.delays), tp, [...ones, ...ones], false, { seed: 7 })[1].states[0].dataSync(),
    unroll(tf, net, rollout.delays, frameOrder(net, rollout.delays), tp, [...ones, ...ones], false)[1].states[0].dataSync(),
  ]);
  const kept = [...dropped].filter((v, i) => v !== 0 && Math.abs(v - 2 * plain[i]) < 1e-6).length;
  const zeros = [...dropped].filter((v) => v === 0).length;
  assert.equal(kept + zeros, 400, 'every value is dropped or scaled by 1 / (1 - p)');
  assert.ok(zeros > 140 && zeros < 260, `${zeros} of 400 dropped`);
  // The runtime computes the plain window.
  const ex = new ReferenceExecutor(net, rollout, params);
  ex.step(new Float32Array(400).fill(1));
  assert.ok(sameBits(ex.step(new Float32Array(400).fill(1)).h, Float32Array.from(plain)));
  for (const v of [...tp.weights, ...tp.biases]) v?.dispose();
});
