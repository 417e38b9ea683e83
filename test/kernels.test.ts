import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import type * as TF from '@tensorflow/tfjs-core';
import { validateNetwork, type NetEdge } from '../src/graph/network.js';
import { ACTIVATIONS, activationParams, type Activation, type ActivationParams, type EdgeOp, type Shape } from '../src/graph/spec.js';
import { NATIVE_BACKEND, REFERENCE_BACKEND, WASM_BACKEND, nativeAvailable } from '../src/kernels/backends.js';
import { getBackend } from '../src/kernels/registry.js';
import { nativeReader } from '../src/kernels/native/index.js';
import { Random } from '../src/util/random.js';
import { KernelHarness } from './helpers/kernel-harness.js';
import { randomArray, relativeError, sameBits } from './helpers/numeric.js';
import { toInternal } from '../src/kernels/layout.js';
import { cpuTf } from './helpers/tf.js';

let tf: typeof TF;
before(async () => {
  tf = await cpuTf();
});

const TOL = 1e-5;
const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/** The single edge of a two-node network `x -> y` with the given shapes and op. */
function edgeOf(src: Shape, dst: Shape, op: EdgeOp): NetEdge {
  const net = validateNetwork({
    name: 'k',
    nodes: [
      { name: 'x', shape: src },
      { name: 'y', shape: dst },
    ],
    edges: [{ from: 'x', to: 'y', op }],
    outputs: ['y'],
  });
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
  typeof p === 'number'
    ? [
        [0, 0],
        [p, p],
        [p, p],
        [0, 0],
      ]
    : p;

/**
 * Runs an edge kernel in a NaN-poisoned memory and returns what it computed (row-major),
 * from a destination of zeros. Also runs it on a destination holding random values and
 * checks that it added to them (to float32 rounding) instead of overwriting them; and fails
 * if it wrote outside its output.
 */
function runEdge(backendName: string, edge: NetEdge, src: Shape, dst: Shape, weights: Float32Array | null, x: Float32Array, rng: Random): Float32Array {
  const b = getBackend(backendName);
  const h = new KernelHarness(b, 4 * (size(src) + 2 * size(dst) + b.packedSize(edge.geometry)) + 8192);
  const base = randomArray(size(dst), rng);
  const xs = h.state(src, x);
  const zero = h.state(dst, new Float32Array(size(dst)));
  const kernel = h.kernels.edgeKernel(edge.geometry, h.weights(edge.geometry, weights));
  const before = h.snapshot();
  kernel.run(xs, zero);
  assert.ok(h.untouchedOutside(before, zero), `${backendName} ${edge.op.type} wrote outside its output`);
  const ours = h.read(dst, zero);
  const onto = h.state(dst, base);
  kernel.run(xs, onto);
  const total = h.read(dst, onto);
  total.forEach((t, i) => {
    const want = base[i] + ours[i];
    assert.ok(Math.abs(t - want) <= 1e-6 * Math.max(Math.abs(base[i]), Math.abs(ours[i])), `${backendName} ${edge.op.type} accumulates: ${t} vs ${base[i]} + ${ours[i]}`);
  });
  return ours;
}

const shapeArb = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 40 })).map((s) => s as Shape),
  fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })).map((s) => s as Shape),
);

const convCase = fc.record({
  inC: fc.integer({ min: 1, max: 7 }),
  outC: fc.integer({ min: 1, max: 40 }),
  h: fc.integer({ min: 1, max: 11 }),
  w: fc.integer({ min: 1, max: 11 }),
  kh: fc.integer({ min: 1, max: 4 }),
  kw: fc.integer({ min: 1, max: 4 }),
  stride: fc.integer({ min: 1, max: 3 }),
  dilation: fc.integer({ min: 1, max: 3 }),
  padding: fc.oneof(fc.constant<'same'>('same'), fc.constant<'valid'>('valid'), fc.integer({ min: 0, max: 2 })),
  seed: fc.integer(),
});

/** max |ours - theirs| over max of a magnitude bound per element (e.g. the sum of |terms|). */
function scaledError(ours: ArrayLike<number>, theirs: ArrayLike<number>, bound: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < theirs.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - theirs[i]));
    scale = Math.max(scale, Math.abs(bound[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

function outLength(len: number, k: number, stride: number, dilation: number, padding: 'same' | 'valid' | number): number {
  if (padding === 'same') return Math.ceil(len / stride);
  const pad = padding === 'valid' ? 0 : padding;
  return Math.floor((len + 2 * pad - ((k - 1) * dilation + 1)) / stride) + 1;
}

function tfActivation(a: Activation, t: TF.Tensor, p: ActivationParams): TF.Tensor {
  switch (a) {
    case 'relu':
      return tf.relu(t);
    case 'relu6':
      return tf.relu6(t);
    case 'leaky_relu':
      return tf.leakyRelu(t, p.alpha);
    case 'elu':
      return tf.where(tf.greater(t, 0), t, tf.mul(p.alpha, tf.sub(tf.exp(t), 1)));
    case 'tanh':
      return tf.tanh(t);
    case 'sigmoid':
      return tf.sigmoid(t);
    case 'hard_sigmoid':
      return tf.clipByValue(tf.add(tf.mul(p.alpha, t), p.beta), 0, 1);
    case 'hard_swish':
      return tf.mul(t, tf.clipByValue(tf.add(tf.div(t, 6), 0.5), 0, 1));
    case 'softmax':
      return tf.softmax(t);
    case 'linear':
      return t;
  }
}

// The native backend exists where its addon was built on install (a C compiler present).
for (const backend of [REFERENCE_BACKEND, WASM_BACKEND, ...(nativeAvailable() ? [NATIVE_BACKEND] : [])]) {
  describe(`${backend} kernels against TensorFlow.js`, () => {
    test('dense matches tf.matMul, between vector and spatial states', () => {
      fc.assert(
        fc.property(shapeArb, shapeArb, fc.integer(), (src, dst, seed) => {
          const rng = new Random(seed);
          const edge = edgeOf(src, dst, { type: 'dense' });
          const w = randomArray(size(src) * size(dst), rng);
          const x = randomArray(size(src), rng);
          const ours = runEdge(backend, edge, src, dst, w, x, rng);
          const theirs = tf.matMul(tf.tensor2d(x, [1, size(src)]), tf.tensor2d(w, [size(dst), size(src)]), false, true).dataSync();
          // Relative to the sum of |w x| (what float32 rounding scales with): a few outputs
          // that cancel to near zero would make a plain relative error meaningless.
          let scale = 0;
          for (let o = 0; o < size(dst); o++) {
            let sum = 0;
            for (let i = 0; i < size(src); i++) sum += Math.abs(w[o * size(src) + i] * x[i]);
            scale = Math.max(scale, sum);
          }
          const diff = Math.max(...ours.map((v, i) => Math.abs(v - theirs[i])));
          assert.ok(diff < TOL * scale, `error ${diff} against a scale of ${scale}`);
        }),
        { numRuns: 60 },
      );
    });

    test('dense on the sizes the benchmarks use (256, 1024, 1568 -> 128)', () => {
      for (const [n, m] of [
        [256, 256],
        [1024, 1024],
        [784, 128],
        [1568, 10],
      ]) {
        const rng = new Random(n + m);
        const edge = edgeOf([n], [m], { type: 'dense' });
        const w = randomArray(n * m, rng);
        const x = randomArray(n, rng);
        const ours = runEdge(backend, edge, [n], [m], w, x, rng);
        const theirs = tf.matMul(tf.tensor2d(x, [1, n]), tf.tensor2d(w, [m, n]), false, true).dataSync();
        assert.ok(relativeError(ours, theirs) < TOL, `${n}x${m}: rel err ${relativeError(ours, theirs)}`);
      }
    });

    test('conv2d matches tf.conv2d: stride, same/valid/explicit padding, dilation, odd sizes, 1x1, channel tails', () => {
      let checked = 0;
      fc.assert(
        fc.property(convCase, (c) => {
          // tfjs allows stride > 1 or dilation > 1, not both.
          const dilation = c.stride > 1 ? 1 : c.dilation;
          const outH = outLength(c.h, c.kh, c.stride, dilation, c.padding);
          const outW = outLength(c.w, c.kw, c.stride, dilation, c.padding);
          if (outH < 1 || outW < 1) return;
          const op: EdgeOp = { type: 'conv2d', kernel: [c.kh, c.kw], stride: c.stride, padding: c.padding, dilation };
          const src: Shape = [c.inC, c.h, c.w];
          const dst: Shape = [c.outC, outH, outW];
          const edge = edgeOf(src, dst, op);
          const rng = new Random(c.seed);
          const w = randomArray(c.outC * c.inC * c.kh * c.kw, rng);
          const x = randomArray(size(src), rng);
          const ours = runEdge(backend, edge, src, dst, w, x, rng);
          const filter = tf.transpose(tf.tensor(w, [c.outC, c.inC, c.kh, c.kw]), [2, 3, 1, 0]) as TF.Tensor4D;
          const theirs = fromNhwc(tf.conv2d(toNhwc(x, src), filter, c.stride, tfPad(c.padding), 'NHWC', dilation));
          // The same convolution of |x| with |w| bounds what float32 rounding can reach.
          const scale = fromNhwc(tf.conv2d(tf.abs(toNhwc(x, src)), tf.abs(filter), c.stride, tfPad(c.padding), 'NHWC', dilation));
          assert.ok(scaledError(ours, theirs, scale) < TOL, `error ${scaledError(ours, theirs, scale)} for ${JSON.stringify(c)}`);
          checked++;
        }),
        { numRuns: 150 },
      );
      assert.ok(checked > 50, `only ${checked} cases fit`);
    });

    test('grouped and depthwise conv2d (any channel multiplier) with uneven explicit padding match tfjs per group', () => {
      let checked = 0;
      fc.assert(
        fc.property(
          fc.record({
            groups: fc.integer({ min: 1, max: 4 }),
            cig: fc.integer({ min: 1, max: 5 }),
            cog: fc.integer({ min: 1, max: 3 }),
            depthwise: fc.boolean(),
            h: fc.integer({ min: 3, max: 9 }),
            w: fc.integer({ min: 3, max: 9 }),
            k: fc.integer({ min: 1, max: 3 }),
            stride: fc.integer({ min: 1, max: 2 }),
            dilation: fc.integer({ min: 1, max: 2 }),
            pads: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
            seed: fc.integer(),
          }),
          (c) => {
            // Depthwise: one input channel per group, with 17-20 channels to reach past the 16-lane blocks.
            const groups = c.depthwise ? 16 + c.groups : c.groups;
            const cig = c.depthwise ? 1 : c.cig;
            const inC = groups * cig;
            const outC = groups * c.cog;
            const dilation = c.stride > 1 ? 1 : c.dilation;
            const [pt, pb, pl, pr] = c.pads;
            const span = (c.k - 1) * dilation + 1;
            const outH = Math.floor((c.h + pt + pb - span) / c.stride) + 1;
            const outW = Math.floor((c.w + pl + pr - span) / c.stride) + 1;
            if (outH < 1 || outW < 1) return;
            const op: EdgeOp = { type: 'conv2d', kernel: c.k, stride: c.stride, padding: c.pads, dilation, groups };
            const src: Shape = [inC, c.h, c.w];
            const dst: Shape = [outC, outH, outW];
            const edge = edgeOf(src, dst, op);
            const rng = new Random(c.seed);
            const wts = randomArray(outC * cig * c.k * c.k, rng);
            const x = randomArray(size(src), rng);
            const ours = runEdge(backend, edge, src, dst, wts, x, rng);
            // tfjs has no grouped conv: one tf.conv2d per group on its slice of channels.
            const pad: [[number, number], [number, number], [number, number], [number, number]] = [
              [0, 0],
              [pt, pb],
              [pl, pr],
              [0, 0],
            ];
            const xs = toNhwc(x, src);
            const filter = tf.transpose(tf.tensor(wts, [outC, cig, c.k, c.k]), [2, 3, 1, 0]) as TF.Tensor4D;
            const parts = Array.from({ length: groups }, (_, gi) => {
              const xg = tf.slice(xs, [0, 0, 0, gi * cig], [1, c.h, c.w, cig]) as TF.Tensor4D;
              const fg = tf.slice(filter, [0, 0, 0, gi * c.cog], [c.k, c.k, cig, c.cog]) as TF.Tensor4D;
              return [tf.conv2d(xg, fg, c.stride, pad, 'NHWC', dilation), tf.conv2d(tf.abs(xg), tf.abs(fg), c.stride, pad, 'NHWC', dilation)];
            });
            const theirs = fromNhwc(
              tf.concat(
                parts.map((p) => p[0]),
                3,
              ),
            );
            const scale = fromNhwc(
              tf.concat(
                parts.map((p) => p[1]),
                3,
              ),
            );
            assert.ok(scaledError(ours, theirs, scale) < TOL, `error ${scaledError(ours, theirs, scale)} for ${JSON.stringify(c)}`);
            checked++;
          },
        ),
        { numRuns: 80 },
      );
      assert.ok(checked > 30, `only ${checked} cases fit`);
    });

    test('conv2d on the benchmark shapes (32x32x16->32 3x3, 28x28x1->32 3x3, MNIST h1 7x7/4)', () => {
      const cases: [Shape, Shape, EdgeOp][] = [
        [[16, 32, 32], [32, 32, 32], { type: 'conv2d', kernel: 3, padding: 'same' }],
        [[1, 28, 28], [32, 28, 28], { type: 'conv2d', kernel: 3, padding: 'same' }],
        [[1, 28, 28], [16, 7, 7], { type: 'conv2d', kernel: 7, stride: 4, padding: 'same' }],
      ];
      for (const [src, dst, op] of cases) {
        const rng = new Random(size(src));
        const edge = edgeOf(src, dst, op);
        const g = edge.geometry;
        assert.ok(g.type === 'conv2d');
        const w = randomArray(g.outC * g.inC * g.kh * g.kw, rng);
        const x = randomArray(size(src), rng);
        const ours = runEdge(backend, edge, src, dst, w, x, rng);
        const filter = tf.transpose(tf.tensor(w, [g.outC, g.inC, g.kh, g.kw]), [2, 3, 1, 0]) as TF.Tensor4D;
        const theirs = fromNhwc(tf.conv2d(toNhwc(x, src), filter, [g.sh, g.sw], 'same'));
        assert.ok(relativeError(ours, theirs) < TOL, `${JSON.stringify(src)}: rel err ${relativeError(ours, theirs)}`);
      }
    });

    test('maxpool and avgpool match tf.maxPool / tf.avgPool (padding excluded from averages)', () => {
      let checked = 0;
      fc.assert(
        fc.property(convCase, fc.boolean(), (c, isMax) => {
          if (typeof c.padding === 'number' && (c.padding >= c.kh || c.padding >= c.kw)) return;
          const outH = outLength(c.h, c.kh, c.stride, 1, c.padding);
          const outW = outLength(c.w, c.kw, c.stride, 1, c.padding);
          if (outH < 1 || outW < 1) return;
          const op: EdgeOp = { type: isMax ? 'maxpool' : 'avgpool', kernel: [c.kh, c.kw], stride: c.stride, padding: c.padding };
          const src: Shape = [c.outC, c.h, c.w];
          const dst: Shape = [c.outC, outH, outW];
          const edge = edgeOf(src, dst, op);
          const rng = new Random(c.seed);
          const x = randomArray(size(src), rng);
          const ours = runEdge(backend, edge, src, dst, null, x, rng);
          const input = toNhwc(x, src);
          const theirs = fromNhwc(isMax ? tf.maxPool(input, [c.kh, c.kw], c.stride, tfPad(c.padding)) : tf.avgPool(input, [c.kh, c.kw], c.stride, tfPad(c.padding)));
          const scale = fromNhwc(tf.avgPool(tf.abs(input) as TF.Tensor4D, [c.kh, c.kw], c.stride, tfPad(c.padding)));
          assert.ok(scaledError(ours, theirs, isMax ? theirs.map(Math.abs) : scale) < TOL, `error ${scaledError(ours, theirs, scale)} for ${JSON.stringify({ ...c, isMax })}`);
          checked++;
        }),
        { numRuns: 150 },
      );
      assert.ok(checked > 50, `only ${checked} cases fit`);
    });

    test('maxpool gives NaN for a window holding one (as Math.max), in vector lanes and channel tails alike', () => {
      // 20 channels: a vector block and a tail on the HWC backends.
      const src: Shape = [20, 4, 4];
      const dst: Shape = [20, 2, 2];
      const edge = edgeOf(src, dst, { type: 'maxpool', kernel: 2 });
      const x = randomArray(size(src), new Random(3));
      const poisoned = [
        [0, 0, 1],
        [17, 3, 2],
        [19, 2, 0],
      ] as const;
      for (const [c, y, xx] of poisoned) x[(c * 4 + y) * 4 + xx] = Number.NaN;
      const b = getBackend(backend);
      const h = new KernelHarness(b, 4 * (size(src) + size(dst)) + 8192);
      const out = h.state(dst, new Float32Array(size(dst)));
      h.kernels.edgeKernel(edge.geometry, h.weights(edge.geometry, null)).run(h.state(src, x), out);
      const got = h.read(dst, out);
      for (let c = 0; c < 20; c++)
        for (let oy = 0; oy < 2; oy++)
          for (let ox = 0; ox < 2; ox++) {
            const nan = poisoned.some(([pc, py, px]) => pc === c && py >> 1 === oy && px >> 1 === ox);
            const v = got[(c * 2 + oy) * 2 + ox];
            assert.equal(Number.isNaN(v), nan, `channel ${c} at (${oy}, ${ox}): ${v}`);
          }
    });

    test('identity adds the source reshaped row-major, across any pair of shapes of equal size', () => {
      const pairs: [Shape, Shape][] = [
        [[2, 3, 4], [24]],
        [[24], [3, 2, 4]],
        [
          [2, 3, 4],
          [4, 3, 2],
        ],
        [
          [5, 2, 2],
          [5, 2, 2],
        ],
        [[1, 3, 3], [9]],
        [[7], [7]],
      ];
      for (const [src, dst] of pairs) {
        const rng = new Random(size(src) + dst.length);
        const x = randomArray(size(src), rng);
        const ours = runEdge(backend, edgeOf(src, dst, { type: 'identity' }), src, dst, null, x, rng);
        assert.ok(relativeError(ours, x) < TOL, `${JSON.stringify(src)} -> ${JSON.stringify(dst)}`);
      }
    });

    test('every activation with bias matches tfjs; softmax over vectors and over channels per pixel', () => {
      const b = getBackend(backend);
      // Each parametrised activation also with parameters of its own (Keras LeakyReLU's 0.3, ONNX's HardSigmoid).
      const cases: [Activation, ActivationParams][] = ACTIVATIONS.map((a) => [a, activationParams(a)]);
      cases.push(['leaky_relu', activationParams('leaky_relu', 0.3)], ['elu', activationParams('elu', 0.7)], ['hard_sigmoid', activationParams('hard_sigmoid', 1 / 6, 0.5)]);
      for (const [a, params] of cases) {
        for (const shape of [[17], [6, 3, 5], [3], [1, 2, 2]] as Shape[]) {
          const rng = new Random(a.length * 31 + size(shape));
          const n = size(shape);
          const x = randomArray(n, rng).map((v) => v * 6);
          const bias = randomArray(n, rng);
          const h = new KernelHarness(b);
          const state = h.state(shape, x);
          const biasView = h.state(shape, bias);
          const before = h.snapshot();
          h.kernels.activationKernel(a, shape, params).run(state, biasView);
          assert.ok(h.untouchedOutside(before, state), `${a} wrote outside its state`);
          const ours = h.read(shape, state);
          const sum = tf.add(tf.tensor(x), tf.tensor(bias));
          let theirs: Float32Array;
          if (shape.length === 3 && a === 'softmax') {
            const hwc = tf.transpose(tf.reshape(sum, [shape[0], shape[1] * shape[2]]), [1, 0]);
            theirs = tf.transpose(tfActivation(a, hwc, params), [1, 0]).dataSync() as Float32Array;
          } else {
            theirs = tfActivation(a, sum, params).dataSync() as Float32Array;
          }
          assert.ok(relativeError(ours, theirs) < TOL, `${a} ${JSON.stringify(params)} ${JSON.stringify(shape)}: rel err ${relativeError(ours, theirs)}`);
        }
      }
    });

    test('zero clears exactly the view, whatever its length', () => {
      const b = getBackend(backend);
      const rng = new Random(5);
      for (const n of [1, 3, 4, 15, 16, 17, 1000, 16384]) {
        const h = new KernelHarness(b);
        const state = h.state([n], randomArray(n, rng));
        const before = h.snapshot();
        h.kernels.zero(state);
        assert.ok(h.untouchedOutside(before, state), `zero wrote outside a view of ${n}`);
        assert.ok(
          state.every((v) => Object.is(v, 0)),
          `zero left a value other than +0 in a view of ${n}`,
        );
      }
    });

    test('copyIn copies any array into a view bit for bit and names the first non-finite value it copied', () => {
      const b = getBackend(backend);
      const rng = new Random(6);
      for (const n of [1, 5, 16, 17, 33, 64, 65, 784, 16384]) {
        const h = new KernelHarness(b);
        const state = h.state([n], new Float32Array(n));
        const source = randomArray(n, rng);
        const before = h.snapshot();
        assert.equal(h.kernels.copyIn(source, state), -1, `a clean source of ${n}`);
        assert.ok(sameBits(state, source), `copy of ${n}`);
        assert.ok(h.untouchedOutside(before, state), `copyIn wrote outside a view of ${n}`);
        assert.equal(h.kernels.copyIn(Array.from(source), state), -1, 'from a plain array');
        for (const bad of [Number.NaN, Infinity, -Infinity]) {
          // Both sides of the native kernel's 32-float blocks as well as the ends.
          for (const at of new Set([0, n >> 1, n - 1, 31, 32].filter((i) => i < n))) {
            const dirty = source.slice();
            dirty[at] = bad;
            if (at + 1 < n) dirty[n - 1] = Number.NaN;
            assert.equal(h.kernels.copyIn(dirty, state), at, `${bad} at ${at} of ${n}`);
            assert.ok(sameBits(state, dirty), `the dirty copy of ${n} is still complete`);
          }
        }
      }
    });
  });
}

for (const backend of [WASM_BACKEND, ...(nativeAvailable() ? [NATIVE_BACKEND] : [])]) {
  test(`${backend}: layout conversions inside the kernels' memory (vector transposes) equal the JavaScript ones, and views elsewhere fall back`, () => {
    const b = getBackend(backend);
    // The native transpose's 16x16 blocks: whole ones, and rows or columns left over on either side.
    for (const shape of [[16, 32, 32], [3, 5, 7], [4, 4, 4], [5, 1, 3], [1, 6, 6], [9, 2, 2], [7], [17, 33, 31], [32, 16, 16], [48, 4, 4], [20, 7, 9]] as Shape[]) {
      const h = new KernelHarness(b, 1 << 20);
      const n = size(shape);
      const chw = h.alloc(n);
      chw.set(Float32Array.from({ length: n }, (_, i) => i + 0.5));
      const internal = h.alloc(n);
      const before = h.snapshot();
      h.kernels.toInternal(chw, internal, shape);
      assert.ok(h.untouchedOutside(before, internal), `in ${JSON.stringify(shape)} wrote outside its view`);
      const expected = new Float32Array(n);
      toInternal(chw, expected, shape, 'hwc');
      assert.ok(sameBits(internal, expected), `in ${JSON.stringify(shape)}`);
      const back = h.alloc(n);
      const before2 = h.snapshot();
      h.kernels.fromInternal(internal, back, shape);
      assert.ok(h.untouchedOutside(before2, back), `out ${JSON.stringify(shape)} wrote outside its view`);
      assert.ok(sameBits(back, chw), `out ${JSON.stringify(shape)}`);
      const outside = new Float32Array(n);
      h.kernels.fromInternal(internal, outside, shape);
      assert.ok(sameBits(outside, chw), `fallback ${JSON.stringify(shape)}`);
      // A frame from outside the memory, checked and converted on its way in (in one pass
      // natively): the same bits, nothing written outside the view, and the first non-finite
      // value named by its row-major index, in a block or in what is left over around them.
      const frame = Float32Array.from({ length: n }, (_, i) => (i % 13) - 6.25);
      const scratch = h.alloc(n);
      const into = h.alloc(n);
      const before3 = h.snapshot();
      assert.equal(h.kernels.copyInInternal(frame, into, scratch, shape), -1, `clean ${JSON.stringify(shape)}`);
      assert.ok(h.untouchedOutside(before3, into, scratch), `copyInInternal ${JSON.stringify(shape)} wrote outside its views`);
      toInternal(frame, expected, shape, 'hwc');
      assert.ok(sameBits(into, expected), `copyInInternal ${JSON.stringify(shape)}`);
      for (const bad of [Number.NaN, Infinity, -Infinity]) {
        for (const at of new Set([0, n >> 1, n - 1, 16 * (shape.at(-1) ?? 1) * (shape.at(-2) ?? 1) - 1, 15].filter((i) => i >= 0 && i < n))) {
          const dirty = frame.slice();
          dirty[at] = bad;
          if (at + 1 < n) dirty[n - 1] = Number.NaN;
          assert.equal(h.kernels.copyInInternal(dirty, into, scratch, shape), at, `${bad} at ${at} of ${JSON.stringify(shape)}`);
        }
      }
    }
  });
}

test("the native weights reader (bench:kernels' memory floor) reads exactly the view it was given", { skip: !nativeAvailable() && 'native kernels not built' }, () => {
  const h = new KernelHarness(getBackend(NATIVE_BACKEND), 1 << 16);
  for (const n of [1, 63, 64, 65, 1000, 4099]) {
    // Neighbours of ±1e6 would show in the sum if the reader strayed outside the view.
    h.alloc(64).fill(1e6);
    const view = h.alloc(n);
    h.alloc(64).fill(-1e6);
    for (let i = 0; i < n; i++) view[i] = (i % 7) - 3 + 0.25;
    const read = nativeReader(view);
    assert.ok(read !== null);
    const expected = view.reduce((a, v) => a + v, 0);
    assert.ok(Math.abs(read() - expected) <= 1e-3 * n, `n=${n}: ${read()} vs ${expected}`);
  }
});

test('the native direct conv lays out its zero-bordered input once per layer: layers that share some of the layout (the same padded size, another input size) and interleave still match the reference', {
  skip: !nativeAvailable() && 'native kernels not built',
}, () => {
  const rng = new Random(29);
  // 7x7 stride 4 with 3 of padding from 28x28, 27x27 and 28x27 (7x7 out): the padded buffer
  // (31x31) and its offsets stay the same while the last rows and columns turn from data to
  // border; and the MNIST first layer ("same") between them.
  const cases = [
    { src: [1, 28, 28], dst: [16, 7, 7], padding: 3 },
    { src: [1, 27, 27], dst: [16, 7, 7], padding: 3 },
    { src: [1, 28, 27], dst: [16, 7, 7], padding: 3 },
    { src: [1, 28, 28], dst: [16, 7, 7], padding: 'same' },
    { src: [2, 28, 28], dst: [16, 7, 7], padding: 3 },
  ] as const;
  for (let round = 0; round < 3; round++) {
    for (const c of cases) {
      const edge = edgeOf(c.src, c.dst, { type: 'conv2d', kernel: 7, stride: 4, padding: c.padding });
      const w = randomArray(16 * c.src[0] * 49, rng);
      const x = randomArray(size(c.src), rng);
      const ours = runEdge(NATIVE_BACKEND, edge, c.src, c.dst, w, x, rng);
      const want = runEdge(REFERENCE_BACKEND, edge, c.src, c.dst, w, x, rng);
      assert.ok(relativeError(ours, want) < 1e-5, `round ${round}, [${c.src.join(',')}]: error ${relativeError(ours, want)}`);
    }
  }
});
