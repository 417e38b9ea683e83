import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import fc from 'fast-check';
import type * as TF from '@tensorflow/tfjs-core';
import { validateNetwork, type NetEdge } from '../src/graph/network.js';
import { ACTIVATIONS, LEAKY_RELU_ALPHA, type Activation, type EdgeOp, type Shape } from '../src/graph/spec.js';
import { getBackend } from '../src/kernels/registry.js';
import { REFERENCE_BACKEND } from '../src/kernels/reference/index.js';
import { Random } from '../src/util/random.js';
import { randomArray, relativeError } from './helpers/numeric.js';
import { cpuTf } from './helpers/tf.js';

let tf: typeof TF;
before(async () => {
  tf = await cpuTf();
});

const backend = getBackend(REFERENCE_BACKEND);
const TOL = 1e-5;

/** The single edge of a two-node network `x -> y` with the given shapes and op. */
function edgeOf(src: Shape, dst: Shape, op: EdgeOp): NetEdge {
  const net = validateNetwork({ name: 'k', nodes: [{ name: 'x', shape: src }, { name: 'y', shape: dst }], edges: [{ from: 'x', to: 'y', op }], outputs: ['y'] });
  return net.edges[0];
}

/** [C,H,W] row-major -> tfjs [1,H,W,C]. */
const toNhwc = (a: Float32Array, [c, h, w]: readonly number[]): TF.Tensor4D => tf.transpose(tf.tensor(a, [1, c, h, w]), [0, 2, 3, 1]) as TF.Tensor4D;
/** tfjs [1,H,W,C] -> [C,H,W] row-major. */
const fromNhwc = (t: TF.Tensor): Float32Array => tf.transpose(t, [0, 3, 1, 2]).dataSync() as Float32Array;

/**
 * tfjs padding argument: a numeric pad is passed in explicit form because tfjs computes the
 * output width of `pad: n` from the kernel height (wrong for non-square kernels).
 */
const tfPad = (p: 'same' | 'valid' | number): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] =>
  typeof p === 'number' ? [[0, 0], [p, p], [p, p], [0, 0]] : p;

/** Runs our kernel on a destination that already holds values, checking it adds into them. */
function runKernel(edge: NetEdge, weights: Float32Array | null, src: Float32Array, outSize: number, rng: Random): Float32Array {
  const base = randomArray(outSize, rng);
  const dst = base.slice();
  backend.edgeKernel(edge.geometry, weights).run(src, dst);
  return dst.map((v, i) => v - base[i]);
}

test('dense matches tf.matMul', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer(), (inSize, outSize, seed) => {
      const rng = new Random(seed);
      const edge = edgeOf([inSize], [outSize], { type: 'dense' });
      const w = randomArray(inSize * outSize, rng);
      const x = randomArray(inSize, rng);
      const ours = runKernel(edge, w, x, outSize, rng);
      const theirs = tf.matMul(tf.tensor2d(x, [1, inSize]), tf.tensor2d(w, [outSize, inSize]), false, true).dataSync();
      assert.ok(relativeError(ours, theirs) < TOL, `rel err ${relativeError(ours, theirs)}`);
    }),
    { numRuns: 40 },
  );
});

const convCase = fc.record({
  inC: fc.integer({ min: 1, max: 5 }),
  outC: fc.integer({ min: 1, max: 6 }),
  h: fc.integer({ min: 1, max: 11 }),
  w: fc.integer({ min: 1, max: 11 }),
  kh: fc.integer({ min: 1, max: 4 }),
  kw: fc.integer({ min: 1, max: 4 }),
  stride: fc.integer({ min: 1, max: 3 }),
  dilation: fc.integer({ min: 1, max: 3 }),
  padding: fc.oneof(fc.constant<'same'>('same'), fc.constant<'valid'>('valid'), fc.integer({ min: 0, max: 2 })),
  seed: fc.integer(),
});

test('conv2d matches tf.conv2d: stride, same/valid/explicit padding, dilation, odd sizes, 1x1', () => {
  let checked = 0;
  fc.assert(
    fc.property(convCase, (c) => {
      // tfjs allows stride > 1 or dilation > 1, not both.
      const dilation = c.stride > 1 ? 1 : c.dilation;
      const spanH = (c.kh - 1) * dilation + 1;
      const spanW = (c.kw - 1) * dilation + 1;
      const pad = c.padding === 'same' ? 0 : c.padding === 'valid' ? 0 : c.padding;
      if (c.padding !== 'same' && (c.h + 2 * pad < spanH || c.w + 2 * pad < spanW)) return;
      const outH = c.padding === 'same' ? Math.ceil(c.h / c.stride) : Math.floor((c.h + 2 * pad - spanH) / c.stride) + 1;
      const outW = c.padding === 'same' ? Math.ceil(c.w / c.stride) : Math.floor((c.w + 2 * pad - spanW) / c.stride) + 1;
      const op: EdgeOp = { type: 'conv2d', kernel: [c.kh, c.kw], stride: c.stride, padding: c.padding, dilation };
      const edge = edgeOf([c.inC, c.h, c.w], [c.outC, outH, outW], op);
      const rng = new Random(c.seed);
      const w = randomArray(c.outC * c.inC * c.kh * c.kw, rng);
      const x = randomArray(c.inC * c.h * c.w, rng);
      const ours = runKernel(edge, w, x, c.outC * outH * outW, rng);
      const filter = tf.transpose(tf.tensor(w, [c.outC, c.inC, c.kh, c.kw]), [2, 3, 1, 0]) as TF.Tensor4D;
      const theirs = fromNhwc(tf.conv2d(toNhwc(x, [c.inC, c.h, c.w]), filter, c.stride, tfPad(c.padding), 'NHWC', dilation));
      assert.ok(relativeError(ours, theirs) < TOL, `rel err ${relativeError(ours, theirs)} for ${JSON.stringify(c)}`);
      checked++;
    }),
    { numRuns: 150 },
  );
  assert.ok(checked > 50, `only ${checked} cases fit`);
});

test('maxpool and avgpool match tf.maxPool / tf.avgPool (padding excluded from averages)', () => {
  let checked = 0;
  fc.assert(
    fc.property(convCase, fc.boolean(), (c, isMax) => {
      const pad = c.padding === 'same' || c.padding === 'valid' ? 0 : c.padding;
      if (typeof c.padding === 'number' && (pad >= c.kh || pad >= c.kw)) return;
      if (c.padding !== 'same' && (c.h + 2 * pad < c.kh || c.w + 2 * pad < c.kw)) return;
      const outH = c.padding === 'same' ? Math.ceil(c.h / c.stride) : Math.floor((c.h + 2 * pad - c.kh) / c.stride) + 1;
      const outW = c.padding === 'same' ? Math.ceil(c.w / c.stride) : Math.floor((c.w + 2 * pad - c.kw) / c.stride) + 1;
      const op: EdgeOp = { type: isMax ? 'maxpool' : 'avgpool', kernel: [c.kh, c.kw], stride: c.stride, padding: c.padding };
      const edge = edgeOf([c.inC, c.h, c.w], [c.inC, outH, outW], op);
      const rng = new Random(c.seed);
      const x = randomArray(c.inC * c.h * c.w, rng);
      const ours = runKernel(edge, null, x, c.inC * outH * outW, rng);
      const input = toNhwc(x, [c.inC, c.h, c.w]);
      const theirs = fromNhwc(isMax ? tf.maxPool(input, [c.kh, c.kw], c.stride, tfPad(c.padding)) : tf.avgPool(input, [c.kh, c.kw], c.stride, tfPad(c.padding)));
      assert.ok(relativeError(ours, theirs) < TOL, `rel err ${relativeError(ours, theirs)} for ${JSON.stringify({ ...c, isMax })}`);
      checked++;
    }),
    { numRuns: 150 },
  );
  assert.ok(checked > 50, `only ${checked} cases fit`);
});

test('identity adds the source, reshaped', () => {
  const rng = new Random(3);
  const edge = edgeOf([2, 3, 4], [24], { type: 'identity' });
  const x = randomArray(24, rng);
  assert.ok(relativeError(runKernel(edge, null, x, 24, rng), x) < TOL);
});

function tfActivation(a: Activation, t: TF.Tensor): TF.Tensor {
  switch (a) {
    case 'relu':
      return tf.relu(t);
    case 'leaky_relu':
      return tf.leakyRelu(t, LEAKY_RELU_ALPHA);
    case 'tanh':
      return tf.tanh(t);
    case 'sigmoid':
      return tf.sigmoid(t);
    case 'softmax':
      return tf.softmax(t);
    case 'linear':
      return t;
  }
}

test('every activation (with bias) matches tfjs, softmax over vectors and over channels per pixel', () => {
  for (const a of ACTIVATIONS) {
    for (const shape of [[17], [5, 3, 4]] as Shape[]) {
      const rng = new Random(a.length * 31 + shape.length);
      const size = shape.reduce((p, q) => p * q, 1);
      const x = randomArray(size, rng).map((v) => v * 6);
      const bias = randomArray(size, rng);
      const state = x.slice();
      backend.activationKernel(a, shape).run(state, bias);
      const sum = tf.add(tf.tensor(x), tf.tensor(bias));
      let theirs: Float32Array;
      if (shape.length === 3 && a === 'softmax') {
        const hwc = tf.transpose(tf.reshape(sum, [shape[0], shape[1] * shape[2]]), [1, 0]);
        theirs = tf.transpose(tfActivation(a, hwc), [1, 0]).dataSync() as Float32Array;
      } else {
        theirs = tfActivation(a, sum).dataSync() as Float32Array;
      }
      assert.ok(relativeError(state, theirs) < TOL, `${a} ${JSON.stringify(shape)}: rel err ${relativeError(state, theirs)}`);
    }
  }
});
