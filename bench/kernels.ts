// npm run bench:kernels [-- --json]
// Per-op speed of streamroll's wasm (and, where built, native) kernels against the plain-JS
// reference kernels, TensorFlow.js (wasm backend) and onnxruntime-node, each single-threaded,
// interleaved in one process, medians of many calls after warm-up. Peers pay their copies in
// and out. With the native addon it also times reading each op's packed weights once and
// nothing else: the floor under any kernel for ops bound by memory. Last, the copies every
// frame goes through on its way into and out of the arena, per backend.
import { cpus } from 'node:os';
import { benchArgs, benchRounds } from './args.js';
import { maxRelErr } from './relative-error.js';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { validateNetwork, type NetEdge } from '../src/graph/network.js';
import { opOfGeometry } from '../src/graph/ops.js';
import type { Shape } from '../src/graph/spec.js';
import { NATIVE_BACKEND, REFERENCE_BACKEND, WASM_BACKEND, defaultBackend, nativeAvailable } from '../src/kernels/backends.js';
import { nativeReader, winogradTile } from '../src/kernels/native/index.js';
import type { Conv2dGeometry } from '../src/graph/geometry.js';
import { toInternal, fromInternal } from '../src/kernels/layout.js';
import { getBackend } from '../src/kernels/registry.js';
import { kernelModule } from '../src/kernels/wasm/module.js';
import { Random } from '../src/util/random.js';
import { singleOpModel, type Attribute } from '../src/io/onnx-writer.js';
import { timeInterleaved, type Contender } from './timing.js';

interface OpCase {
  readonly name: string;
  readonly src: Shape;
  readonly dst: Shape;
  readonly op: NetEdge['op'];
}

const CASES: readonly OpCase[] = [
  { name: 'dense-256', src: [256], dst: [256], op: { type: 'dense' } },
  { name: 'dense-1024', src: [1024], dst: [1024], op: { type: 'dense' } },
  { name: 'conv-32x32x16-32', src: [16, 32, 32], dst: [32, 32, 32], op: { type: 'conv2d', kernel: 3, padding: 'same' } },
  // The layer of the conv chains bench:engine, bench:scaling and bench:peer run (16 output channels).
  { name: 'conv-32x32x16-16', src: [16, 32, 32], dst: [16, 32, 32], op: { type: 'conv2d', kernel: 3, padding: 'same' } },
  // Smaller maps with more channels, where Winograd's last tiles waste more.
  { name: 'conv-16x16x32-32', src: [32, 16, 16], dst: [32, 16, 16], op: { type: 'conv2d', kernel: 3, padding: 'same' } },
  { name: 'conv-8x8x64-64', src: [64, 8, 8], dst: [64, 8, 8], op: { type: 'conv2d', kernel: 3, padding: 'same' } },
  // The default model's recurrent layer (16 -> 16 at 7x7), and one map smaller: where F(4x4) starts to pay.
  { name: 'conv-7x7x16-16', src: [16, 7, 7], dst: [16, 7, 7], op: { type: 'conv2d', kernel: 3, padding: 'same' } },
  { name: 'conv-6x6x32-32', src: [32, 6, 6], dst: [32, 6, 6], op: { type: 'conv2d', kernel: 3, padding: 'same' } },
  { name: 'conv-28x28x1-32', src: [1, 28, 28], dst: [32, 28, 28], op: { type: 'conv2d', kernel: 3, padding: 'same' } },
  { name: 'mnist-h1', src: [1, 28, 28], dst: [16, 7, 7], op: { type: 'conv2d', kernel: 7, stride: 4, padding: 'same' } },
  // A MobileNet block at batch 1: its depthwise 3x3 and its pointwise 1x1 layer.
  { name: 'depthwise-56x56x128', src: [128, 56, 56], dst: [128, 56, 56], op: { type: 'conv2d', kernel: 3, padding: 'same', groups: 128 } },
  { name: 'pointwise-56x56x128-128', src: [128, 56, 56], dst: [128, 56, 56], op: { type: 'conv2d', kernel: 1, padding: 'same' } },
];

const sizeOf = (s: Shape): number => s.reduce((a, b) => a * b, 1);

function edgeOf(c: OpCase): NetEdge {
  return validateNetwork({
    name: c.name,
    nodes: [
      { name: 'x', shape: c.src },
      { name: 'y', shape: c.dst },
    ],
    edges: [{ from: 'x', to: 'y', op: c.op }],
    outputs: ['y'],
  }).edges[0];
}

function flopsOf(edge: NetEdge): number {
  return opOfGeometry(edge.geometry).flops(edge.geometry);
}

/** Our kernel on a backend's shared memory, as the executors run it: zero the sum, add the edge. */
function ours(backendName: string, edge: NetEdge, c: OpCase, x: Float32Array, w: Float32Array, label?: string): { contender: Contender; result(): Float32Array; packed: Float32Array } {
  const backend = getBackend(backendName);
  const srcN = sizeOf(c.src);
  const dstN = sizeOf(c.dst);
  const packedN = backend.packedSize(edge.geometry);
  const align = (n: number): number => Math.ceil(n / 64) * 64;
  const base = align(backend.reservedBytes);
  const memory = backend.createMemory(base + align(srcN * 4) + align(dstN * 4) + align(packedN * 4) + 64);
  const src = new Float32Array(memory.buffer, base, srcN);
  const dst = new Float32Array(memory.buffer, base + align(srcN * 4), dstN);
  const packed = new Float32Array(memory.buffer, base + align(srcN * 4) + align(dstN * 4), packedN);
  toInternal(x, src, c.src, backend.layout);
  backend.pack(edge.geometry, w, packed);
  const bound = backend.bind(memory);
  const kernel = bound.edgeKernel(edge.geometry, packed);
  return {
    packed,
    contender: {
      // "streamroll" is what the runtime runs by default (native where built, else wasm).
      name: label ?? (backendName === REFERENCE_BACKEND ? 'reference-js' : backendName === defaultBackend() ? 'streamroll' : `streamroll-${backendName}`),
      call() {
        bound.zero(dst);
        kernel.run(src, dst);
      },
    },
    result() {
      const out = new Float32Array(dstN);
      fromInternal(dst, out, c.dst, backend.layout);
      return out;
    },
  };
}

/** The native kernel with every 3x3 convolution forced to one variant (STREAMROLL_WINOGRAD): direct, F(2x2,3x3) or F(4x4,3x3). */
function forcedWinograd(variant: '0' | '2' | '4', edge: NetEdge, c: OpCase, x: Float32Array, w: Float32Array): ReturnType<typeof ours> {
  const before = process.env.STREAMROLL_WINOGRAD;
  process.env.STREAMROLL_WINOGRAD = variant;
  try {
    return ours(NATIVE_BACKEND, edge, c, x, w, variant === '0' ? 'native-direct' : `native-winograd-f${variant}x${variant}`);
  } finally {
    if (before === undefined) delete process.env.STREAMROLL_WINOGRAD;
    else process.env.STREAMROLL_WINOGRAD = before;
  }
}

function tfjsWasm(edge: NetEdge, c: OpCase, x: Float32Array, w: Float32Array): { contender: Contender; result(): Float32Array } {
  const g = edge.geometry;
  let run: (input: tf.Tensor) => tf.Tensor;
  let inputShape: number[];
  let inputData: Float32Array;
  let toChw: (y: Float32Array) => Float32Array;
  if (g.type === 'dense') {
    // Its fastest form: weights pre-transposed to [in, out], no transposed operand per call.
    const wt = tf.transpose(tf.tensor2d(w, [g.outSize, g.inSize]));
    run = (input) => tf.matMul(input, wt);
    inputShape = [1, g.inSize];
    inputData = x;
    toChw = (y) => y;
  } else if (g.type === 'conv2d') {
    const cig = g.inC / g.groups;
    if (g.groups !== 1 && cig !== 1) throw new Error(`no tfjs peer for a grouped conv (${g.groups} groups)`);
    // [outC, cig, kh, kw] -> [kh, kw, cig, outC]; depthwise: [kh, kw, C, multiplier].
    const filter = tf.transpose(tf.tensor4d(w, [g.outC, cig, g.kh, g.kw]), [2, 3, 1, 0]) as tf.Tensor4D;
    const dwFilter = g.groups === 1 ? filter : (tf.reshape(filter, [g.kh, g.kw, g.inC, g.outC / g.inC]) as tf.Tensor4D);
    run = g.groups === 1 ? (input) => tf.conv2d(input as tf.Tensor4D, filter, [g.sh, g.sw], 'same') : (input) => tf.depthwiseConv2d(input as tf.Tensor4D, dwFilter, [g.sh, g.sw], 'same');
    inputShape = [1, g.inH, g.inW, g.inC];
    inputData = new Float32Array(x.length);
    toInternal(x, inputData, c.src, 'hwc');
    toChw = (y) => {
      const out = new Float32Array(y.length);
      fromInternal(y, out, c.dst, 'hwc');
      return out;
    };
  } else {
    throw new Error(`no tfjs peer for ${g.type}`);
  }
  const out = new Float32Array(sizeOf(c.dst));
  return {
    contender: {
      name: 'tfjs-wasm',
      call() {
        const input = tf.tensor(inputData, inputShape);
        const y = run(input);
        out.set(y.dataSync() as Float32Array);
        input.dispose();
        y.dispose();
      },
    },
    result: () => toChw(out),
  };
}

async function onnxRuntime(edge: NetEdge, c: OpCase, x: Float32Array, w: Float32Array): Promise<{ contender: Contender; result(): Float32Array }> {
  const g = edge.geometry;
  let model: Uint8Array;
  let dims: number[];
  if (g.type === 'dense') {
    dims = [1, g.inSize];
    model = singleOpModel('Gemm', dims, [g.outSize, g.inSize], w, [1, g.outSize], [{ name: 'transB', int: 1 }]);
  } else if (g.type === 'conv2d') {
    dims = [1, g.inC, g.inH, g.inW];
    const padBottom = (g.outH - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.inH - g.padTop;
    const padRight = (g.outW - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.inW - g.padLeft;
    const attrs: Attribute[] = [
      { name: 'kernel_shape', ints: [g.kh, g.kw] },
      { name: 'strides', ints: [g.sh, g.sw] },
      { name: 'pads', ints: [g.padTop, g.padLeft, Math.max(0, padBottom), Math.max(0, padRight)] },
      { name: 'dilations', ints: [g.dh, g.dw] },
      { name: 'group', int: g.groups },
    ];
    model = singleOpModel('Conv', dims, [g.outC, g.inC / g.groups, g.kh, g.kw], w, [1, g.outC, g.outH, g.outW], attrs);
  } else {
    throw new Error(`no onnxruntime peer for ${g.type}`);
  }
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const out = new Float32Array(sizeOf(c.dst));
  return {
    contender: {
      name: 'onnxruntime-node',
      async call() {
        // It refuses SharedArrayBuffer-backed input, so a real caller copies out of the arena.
        const result = await session.run({ x: new ort.Tensor('float32', x.slice(), dims) });
        out.set(result.y.data as Float32Array);
      },
    },
    result: () => out,
  };
}

/** Frames entering and leaving the arena: shapes of the example nets' inputs and outputs. */
const FRAME_SHAPES: readonly Shape[] = [
  [16, 32, 32],
  [3, 32, 32],
  [1, 28, 28],
];

/**
 * Microseconds per frame, per backend, of what every frame of every stream costs on its way
 * in and out: copyIn (a JavaScript array into the arena, checked for NaN and infinity),
 * toInternal (its CHW order to the backend's HWC states), copyInInternal (both at once: how
 * the driver writes a frame into its input's state slot) and fromInternal (back).
 */
async function frameCopies(rounds: number): Promise<{ shape: Shape; op: string; us: Record<string, number> }[]> {
  const rows: { shape: Shape; op: string; us: Record<string, number> }[] = [];
  const backends = [WASM_BACKEND, ...(nativeAvailable() ? [NATIVE_BACKEND] : [])];
  for (const shape of FRAME_SHAPES) {
    const n = sizeOf(shape);
    const rng = new Random(n);
    // Sixteen frames, so the source is not the same cache lines call after call.
    const sources = Array.from({ length: 16 }, () => Float32Array.from({ length: n }, () => rng.uniform(-1, 1)));
    const contenders: Contender[] = [];
    for (const name of backends) {
      const backend = getBackend(name);
      const base = Math.ceil(backend.reservedBytes / 64) * 64;
      const bytes = Math.ceil((n * 4) / 64) * 64;
      const memory = backend.createMemory(base + 3 * bytes);
      const k = backend.bind(memory);
      const staged = new Float32Array(memory.buffer, base, n);
      const state = new Float32Array(memory.buffer, base + bytes, n);
      const back = new Float32Array(memory.buffer, base + 2 * bytes, n);
      let j = 0;
      contenders.push(
        { name: `${name} copyIn`, call: () => void k.copyIn(sources[j++ & 15], staged) },
        { name: `${name} toInternal`, call: () => k.toInternal(staged, state, shape) },
        { name: `${name} copyInInternal`, call: () => void k.copyInInternal(sources[j++ & 15], state, staged, shape) },
        { name: `${name} fromInternal`, call: () => k.fromInternal(state, back, shape) },
      );
    }
    process.stderr.write(`timing frame copies ${shape.join('x')} ...\n`);
    const times = await timeInterleaved(contenders, { rounds });
    for (const op of ['copyIn', 'toInternal', 'copyInInternal', 'fromInternal']) {
      rows.push({ shape, op, us: Object.fromEntries(backends.map((b) => [b, Number((times.get(`${b} ${op}`) as number).toFixed(2))])) });
    }
  }
  return rows;
}

/** The contender that only reads an op's packed weights (native loads), not a kernel. */
const WEIGHTS_READ = 'weights-read';

interface ImplResult {
  us: number;
  gflops: number;
  maxRelErr: number;
}

const USAGE = `usage: npm run bench:kernels [-- --json] [-- --rounds N]

Per-op speed of streamroll's kernels against the plain-JS reference, TensorFlow.js (wasm)
and onnxruntime-node, single-threaded; with the native kernels also the time to read each
op's packed weights once (the floor for memory-bound ops); then, per backend, what a frame
costs entering the arena (copyIn, checked), changing order (toInternal, fromInternal), and
both at once (copyInInternal, how a frame enters its input's state).
  --json       print one JSON document on stdout (progress goes to stderr)
  --rounds N   interleaved rounds per op, the median is reported (default 15)
  --frames     only the frames section (ops is then empty)`;

async function main(): Promise<void> {
  const values = benchArgs(USAGE, { json: { type: 'boolean' }, rounds: { type: 'string' }, frames: { type: 'boolean' } });
  const rounds = benchRounds(values, 15, USAGE);
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('tfjs wasm backend did not start');
  const relaxed = kernelModule().variant === 'relaxed';
  const ops: { name: string; flops: number; weightBytes: number; weightsReadUs: number | null; impls: Record<string, ImplResult> }[] = [];
  for (const c of values.frames === true ? [] : CASES) {
    const edge = edgeOf(c);
    const rng = new Random(c.name.length);
    const x = Float32Array.from({ length: sizeOf(c.src) }, () => rng.uniform(-1, 1));
    const w = Float32Array.from({ length: edge.weightSize }, () => rng.uniform(-0.1, 0.1));
    const native = nativeAvailable() ? ours(NATIVE_BACKEND, edge, c, x, w) : null;
    const wasm = ours(WASM_BACKEND, edge, c, x, w);
    // A convolution Winograd fits also runs as each variant, forced: what the choice is made from.
    const variants =
      native !== null && edge.geometry.type === 'conv2d' && winogradTile(edge.geometry as Conv2dGeometry) !== 0 ? (['0', '2', '4'] as const).map((v) => forcedWinograd(v, edge, c, x, w)) : [];
    const impls = [wasm, ...(native === null ? [] : [native]), ...variants, ours(REFERENCE_BACKEND, edge, c, x, w), tfjsWasm(edge, c, x, w), await onnxRuntime(edge, c, x, w)];
    const reader = native === null ? null : nativeReader(native.packed);
    let sink = 0;
    const floor: Contender[] = reader === null ? [] : [{ name: WEIGHTS_READ, call: () => void (sink += reader()) }];
    process.stderr.write(`timing ${c.name} ...\n`);
    const times = await timeInterleaved([...impls.map((i) => i.contender), ...floor], { rounds });
    if (Number.isNaN(sink)) throw new Error('the weights read back as NaN');
    const reference = (impls.find((i) => i.contender.name === 'reference-js') as (typeof impls)[number]).result();
    const flops = flopsOf(edge);
    const results: Record<string, ImplResult> = {};
    for (const impl of impls) {
      const us = times.get(impl.contender.name) as number;
      results[impl.contender.name] = { us: Number(us.toFixed(2)), gflops: Number((flops / us / 1000).toFixed(2)), maxRelErr: Number(maxRelErr(impl.result(), reference).toExponential(2)) };
    }
    const readUs = times.get(WEIGHTS_READ);
    ops.push({ name: c.name, flops, weightBytes: (native ?? wasm).packed.byteLength, weightsReadUs: readUs === undefined ? null : Number(readUs.toFixed(2)), impls: results });
  }
  const frames = await frameCopies(rounds);
  const doc = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, relaxedSimd: relaxed, streamrollBackend: defaultBackend(), ops, frames };
  if (values.json === true) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  const hasNative = nativeAvailable();
  const ratio = (a: ImplResult, b: ImplResult): string => `${(a.gflops / b.gflops).toFixed(2)}x`;
  const rows = [
    [
      'op',
      'MFLOP',
      `streamroll (${doc.streamrollBackend}) µs (GFLOP/s)`,
      ...(hasNative ? ['weights read once µs', 'wasm µs (GFLOP/s)'] : []),
      'onnxruntime µs',
      'tfjs-wasm µs',
      'reference-js µs',
      'vs ORT',
      'vs tfjs-wasm',
      ...(hasNative ? ['wasm vs ORT', 'wasm vs tfjs-wasm'] : []),
    ],
  ];
  for (const op of ops) {
    const i = op.impls;
    const w = i['streamroll-wasm'];
    const cell = (r: ImplResult): string => `${r.us} (${r.gflops})`;
    rows.push([
      op.name,
      (op.flops / 1e6).toFixed(2),
      cell(i.streamroll),
      ...(w === undefined ? [] : [`${op.weightsReadUs} (${(op.weightBytes / 1e6).toFixed(2)} MB)`, cell(w)]),
      cell(i['onnxruntime-node']),
      cell(i['tfjs-wasm']),
      cell(i['reference-js']),
      ratio(i.streamroll, i['onnxruntime-node']),
      ratio(i.streamroll, i['tfjs-wasm']),
      ...(w === undefined ? [] : [ratio(w, i['onnxruntime-node']), ratio(w, i['tfjs-wasm'])]),
    ]);
  }
  const widths = rows[0].map((_, k) => Math.max(...rows.map((r) => r[k].length)));
  process.stdout.write(`${doc.node} on ${doc.cpu} (${doc.cores} cores), ${relaxed ? 'relaxed SIMD' : 'SIMD'} kernels; single thread each, medians\n`);
  for (const r of rows) process.stdout.write(r.map((cell, k) => cell.padEnd(widths[k])).join('  ') + '\n');
  process.stdout.write('\nframes in and out of the arena, µs a frame:\n');
  for (const f of frames)
    process.stdout.write(
      `  ${f.shape.join('x').padEnd(9)} ${f.op.padEnd(15)} ${Object.entries(f.us)
        .map(([b, us]) => `${b} ${us}`)
        .join('  ')}\n`,
    );
}

await main();
