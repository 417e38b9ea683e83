import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { validateNetwork, type Network } from '../src/graph/network.js';
import type { NetworkSpec } from '../src/graph/spec.js';
import { initParameters, type Parameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime } from '../src/engine/runtime.js';
import { importModel, ImportError } from '../src/import/index.js';
import { networkModel } from '../src/io/onnx-export.js';
import { graphModel, type Attribute, type Constant, type GraphNode } from '../src/io/onnx-writer.js';
import { analyzeRollout } from '../src/rollout/analyze.js';
import { resolveRollout } from '../src/rollout/pattern.js';
import { Random } from '../src/util/random.js';
import { relativeError } from './helpers/numeric.js';
import { netParams, randomNetwork } from './helpers/random-network.js';

const dir = await mkdtemp(join(tmpdir(), 'streamroll-import-'));
after(() => rm(dir, { recursive: true, force: true }));
let files = 0;

/** onnxruntime's outputs for one input (by output name). */
async function ortRun(bytes: Uint8Array, inputs: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', t.data.slice(), t.dims);
    const result = await session.run(feeds);
    const out: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(result)) out[name] = t.data as Float32Array;
    return out;
  } finally {
    await session.release();
  }
}

/** Imports ONNX bytes through a file, as a user would. */
async function importBytes(bytes: Uint8Array): Promise<{ net: Network; params: Parameters; spec: NetworkSpec; folded: readonly string[] }> {
  const path = join(dir, `m${files++}.onnx`);
  await writeFile(path, bytes);
  const imported = await importModel(path);
  return { net: validateNetwork(imported.spec), params: imported.params, spec: imported.spec, folded: imported.report.folded };
}

/**
 * The imported network's outputs for a held input, read after every output's delay in the
 * pipelined rollout (each output then answers exactly that input), by the executor.
 */
function pipelinedOutputs(net: Network, params: Parameters, input: Record<string, Float32Array>): Record<string, Float32Array> {
  const rollout = resolveRollout(net, 'pipelined');
  const analysis = analyzeRollout(net, rollout, { window: 1 });
  if (!analysis.valid) throw new Error('pipelined rollout is invalid');
  assert.equal(analysis.inferenceFactor, 1, 'the pipelined rollout is fully model-parallel');
  const d = Math.max(...Object.values(analysis.outputs).map((o) => o.delay));
  const ex = new ReferenceExecutor(net, rollout, params);
  let out: Record<string, Float32Array> = {};
  for (let t = 0; t <= d; t++) out = ex.step(input);
  return out;
}

test('round trip: random feedforward networks (grouped convs, pools, global pools, every activation) exported to ONNX and imported match onnxruntime', async () => {
  await fc.assert(
    fc.asyncProperty(netParams(true, 6), fc.integer({ min: 0, max: 1e9 }), async (p, seed) => {
      const full = randomNetwork(p);
      // Feedforward, no identity edges (the exporter's limits), one input.
      const spec = full.spec;
      const forward = spec.edges.filter((e) => full.node(e.to).index > full.node(e.from).index && e.op.type !== 'identity' && !(e.op.type === 'dense' && full.node(e.to).shape.length === 3));
      const reached = new Set([spec.nodes[0].name]);
      for (const n of spec.nodes) if (forward.some((e) => e.to === n.name && reached.has(e.from))) reached.add(n.name);
      const nodes = spec.nodes.filter((n) => reached.has(n.name) && (n.name === spec.nodes[0].name || forward.some((e) => e.to === n.name)));
      const keep = new Set(nodes.map((n) => n.name));
      const edges = forward.filter((e) => keep.has(e.from) && keep.has(e.to));
      const outputs = spec.outputs.filter((o) => keep.has(o) && o !== spec.nodes[0].name);
      if (outputs.length === 0 || nodes.filter((n) => !edges.some((e) => e.to === n.name)).length !== 1) return;
      let net: Network;
      try {
        net = validateNetwork({ name: 'ff', nodes, edges, outputs });
      } catch {
        return;
      }
      const params = initParameters(net, { seed, bias: 'uniform' });
      const bytes = networkModel(net, params);
      const input = net.nodes[net.inputs[0]];
      const rng = new Random(seed);
      const x = Float32Array.from({ length: input.size }, () => rng.uniform(-1, 1));
      const theirs = await ortRun(bytes, { [input.name]: { data: x, dims: [1, ...input.shape] } });
      const imported = await importBytes(bytes);
      assert.deepEqual(
        imported.net.inputs.map((v) => imported.net.nodes[v].name),
        [input.name],
        'input names kept',
      );
      assert.deepEqual(imported.spec.outputs, net.spec.outputs, 'output names kept');
      const ours = pipelinedOutputs(imported.net, imported.params, { [input.name]: x });
      // Scaled by at least 1e-3: a random net can cancel a node's sum to ~1e-4 before a bounded
      // activation (seed -563003268, path 21:37: hard_sigmoid outputs 0.000234 apart by 3.5e-8,
      // float32 rounding of a sum near 2.5), which two summation orders cannot agree on to 1e-4.
      for (const o of net.spec.outputs) {
        const err = relativeError(ours[o], theirs[o], 1e-3);
        assert.ok(err < 1e-4, `${o}: ${err}`);
      }
    }),
    { numRuns: 25 },
  );
});

const floats = (n: number, rng: Random, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
const ints = (values: readonly number[]): BigInt64Array => BigInt64Array.from(values.map((v) => BigInt(v)));

test('ONNX ops an exporter emits: batch norm folded into the conv, pad folded, depthwise, residual add, concat into a conv, PyTorch flatten arithmetic, Gemm, MatMul + Add, Clip, hard sigmoid/swish, normalising constants, a max over H and W', async () => {
  const rng = new Random(7);
  const C = 6;
  const constants: Constant[] = [
    { name: 'mean', dims: [1, 3, 1, 1], data: Float32Array.of(0.5, 0.4, 0.3) },
    { name: 'std', dims: [1, 3, 1, 1], data: Float32Array.of(0.2, 0.25, 0.3) },
    { name: 'w1', dims: [C, 3, 3, 3], data: floats(C * 27, rng) },
    { name: 'b1', dims: [C], data: floats(C, rng) },
    { name: 'bn_s', dims: [C], data: floats(C, rng, 0.5, 1.5) },
    { name: 'bn_b', dims: [C], data: floats(C, rng) },
    { name: 'bn_m', dims: [C], data: floats(C, rng) },
    { name: 'bn_v', dims: [C], data: floats(C, rng, 0.5, 2) },
    { name: 'pads', dims: [8], data: ints([0, 0, 1, 0, 0, 0, 0, 1]) },
    { name: 'wdw', dims: [C, 1, 3, 3], data: floats(C * 9, rng) },
    { name: 'lo', dims: [], data: Float32Array.of(0) },
    { name: 'hi', dims: [], data: Float32Array.of(6) },
    { name: 'wpw', dims: [C, C, 1, 1], data: floats(C * C, rng) },
    { name: 'wcat', dims: [4, 2 * C, 3, 3], data: floats(4 * 2 * C * 9, rng) },
    { name: 'axes0', dims: [1], data: ints([0]) },
    { name: 'idx0', dims: [], data: ints([0]) },
    { name: 'minus1', dims: [1], data: ints([-1]) },
    { name: 'wg', dims: [4 * 4 * 4, 10], data: floats(64 * 10, rng) },
    { name: 'bg', dims: [10], data: floats(10, rng) },
    { name: 'wm', dims: [10, 5], data: floats(50, rng) },
    { name: 'bm', dims: [5], data: floats(5, rng) },
  ];
  const a = (name: string, v: number | number[] | string, float = false): Attribute =>
    typeof v === 'string' ? { name, string: v } : Array.isArray(v) ? { name, ints: v } : float ? { name, float: v } : { name, int: v };
  const nodes: GraphNode[] = [
    { name: 'norm_sub', op: 'Sub', inputs: ['image', 'mean'], outputs: ['centered'] },
    { name: 'norm_div', op: 'Div', inputs: ['centered', 'std'], outputs: ['normed'] },
    { name: 'conv1', op: 'Conv', inputs: ['normed', 'w1', 'b1'], outputs: ['c1'], attributes: [a('kernel_shape', [3, 3]), a('strides', [2, 2]), a('pads', [1, 1, 1, 1])] },
    { name: 'bn1', op: 'BatchNormalization', inputs: ['c1', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], outputs: ['n1'], attributes: [a('epsilon', 1e-3, true)] },
    { name: 'relu1', op: 'Relu', inputs: ['n1'], outputs: ['r1'] },
    { name: 'pad', op: 'Pad', inputs: ['r1', 'pads'], outputs: ['p1'] },
    { name: 'dw', op: 'Conv', inputs: ['p1', 'wdw'], outputs: ['d1'], attributes: [a('kernel_shape', [3, 3]), a('group', C), a('pads', [1, 0, 0, 1])] },
    { name: 'relu6', op: 'Clip', inputs: ['d1', 'lo', 'hi'], outputs: ['d6'] },
    { name: 'pw', op: 'Conv', inputs: ['d6', 'wpw'], outputs: ['pw'], attributes: [a('kernel_shape', [1, 1])] },
    { name: 'res', op: 'Add', inputs: ['pw', 'r1'], outputs: ['sum'] },
    { name: 'hswish', op: 'HardSwish', inputs: ['sum'], outputs: ['hs'] },
    { name: 'cat', op: 'Concat', inputs: ['hs', 'r1'], outputs: ['cat'], attributes: [a('axis', 1)] },
    { name: 'convcat', op: 'Conv', inputs: ['cat', 'wcat'], outputs: ['cc'], attributes: [a('kernel_shape', [3, 3]), a('strides', [2, 2]), a('auto_pad', 'SAME_UPPER')] },
    { name: 'hsig', op: 'HardSigmoid', inputs: ['cc'], outputs: ['hsg'], attributes: [a('alpha', 0.3, true), a('beta', 0.4, true)] },
    { name: 'shape', op: 'Shape', inputs: ['hsg'], outputs: ['shp'] },
    { name: 'gather', op: 'Gather', inputs: ['shp', 'idx0'], outputs: ['batch'] },
    { name: 'unsq', op: 'Unsqueeze', inputs: ['batch', 'axes0'], outputs: ['batch1'] },
    { name: 'target', op: 'Concat', inputs: ['batch1', 'minus1'], outputs: ['tshape'], attributes: [a('axis', 0)] },
    { name: 'flatten', op: 'Reshape', inputs: ['hsg', 'tshape'], outputs: ['flat'] },
    { name: 'gemm', op: 'Gemm', inputs: ['flat', 'wg', 'bg'], outputs: ['g'], attributes: [a('alpha', 0.5, true), a('beta', 2, true)] },
    { name: 'leaky', op: 'LeakyRelu', inputs: ['g'], outputs: ['lg'], attributes: [a('alpha', 0.1, true)] },
    { name: 'drop', op: 'Dropout', inputs: ['lg'], outputs: ['dg'] },
    { name: 'matmul', op: 'MatMul', inputs: ['dg', 'wm'], outputs: ['mm'] },
    { name: 'addb', op: 'Add', inputs: ['mm', 'bm'], outputs: ['mb'] },
    { name: 'softmax', op: 'Softmax', inputs: ['mb'], outputs: ['probs'], attributes: [a('axis', 1)] },
    { name: 'gap', op: 'GlobalAveragePool', inputs: ['hs'], outputs: ['gap'] },
    { name: 'gapflat', op: 'Flatten', inputs: ['gap'], outputs: ['features'] },
    { name: 'hwmax', op: 'ReduceMax', inputs: ['d6'], outputs: ['peaks'], attributes: [a('axes', [-2, -1]), a('keepdims', 0)] },
  ];
  const bytes = graphModel({
    nodes,
    constants,
    inputs: [{ name: 'image', dims: ['N', 3, 16, 16] }],
    outputs: [
      { name: 'probs', dims: ['N', 5] },
      { name: 'features', dims: ['N', C] },
      { name: 'peaks', dims: ['N', C] },
    ],
    opset: 14,
  });
  const x = floats(3 * 16 * 16, rng, 0, 1);
  const theirs = await ortRun(bytes, { image: { data: x, dims: [1, 3, 16, 16] } });
  const imported = await importBytes(bytes);
  const ours = pipelinedOutputs(imported.net, imported.params, { image: x });
  for (const o of ['probs', 'features', 'peaks']) assert.ok(relativeError(ours[o], theirs[o]) < 1e-4, `${o}: ${relativeError(ours[o], theirs[o])}`);
  // Folded away: the batch norm, the pad, the bias adds; no node for them.
  assert.ok(
    imported.folded.some((f) => f.includes('batch norm "bn1"')),
    imported.folded.join('; '),
  );
  assert.ok(imported.folded.some((f) => f.includes('zero padding "pad"')));
  const names = imported.spec.nodes.map((n) => n.name);
  for (const gone of ['n1', 'bn1', 'p1', 'pad']) assert.ok(!names.includes(gone), `${gone} should be folded: ${names.join(', ')}`);
  // The concat feeds its conv as one edge per part; the residual add is a node with two edges in.
  // Nodes are named after the tensors they hold.
  assert.deepEqual(
    imported.spec.edges.filter((e) => e.to === 'hsg').map((e) => [e.from, e.op.type]),
    [
      ['hs', 'conv2d'],
      ['r1', 'conv2d'],
    ],
  );
  assert.deepEqual(
    imported.spec.edges.filter((e) => e.to === 'hs').map((e) => [e.from, e.op.type]),
    [
      ['d6', 'conv2d'],
      ['r1', 'identity'],
    ],
  );
  // And through the engine, on 1 to 4 workers, bit for bit the executor.
  for (const workers of [1, 2, 3, 4]) {
    const rt = await Runtime.create(imported.net, { params: imported.params, rollout: 'pipelined', workers, calibrate: false });
    try {
      const ref = new ReferenceExecutor(imported.net, 'pipelined', imported.params, { backend: rt.backend.name });
      for (let t = 0; t < 8; t++) {
        const input = floats(3 * 16 * 16, rng, 0, 1);
        const a1 = await rt.step({ image: input });
        const b1 = ref.step({ image: input });
        for (const o of ['probs', 'features']) assert.ok(relativeError(a1[o], b1[o]) === 0, `${workers} workers tick ${t}: ${o}`);
      }
    } finally {
      await rt.close();
    }
  }
});

test('an unsupported model is refused as a whole, listing every op that does not map with its type and why', async () => {
  const rng = new Random(3);
  const bytes = graphModel({
    nodes: [
      { name: 'conv', op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attributes: [{ name: 'kernel_shape', ints: [1, 1] }] },
      { name: 'gate', op: 'Sigmoid', inputs: ['c'], outputs: ['g'] },
      { name: 'product', op: 'Mul', inputs: ['c', 'g'], outputs: ['m'] },
      { name: 'up', op: 'Resize', inputs: ['m'], outputs: ['u'] },
      { name: 'clip', op: 'Clip', inputs: ['c', 'lo', 'hi'], outputs: ['k'] },
      { name: 'after', op: 'Relu', inputs: ['u'], outputs: ['y'] },
    ],
    constants: [
      { name: 'w', dims: [2, 2, 1, 1], data: floats(4, rng) },
      { name: 'lo', dims: [], data: Float32Array.of(-1) },
      { name: 'hi', dims: [], data: Float32Array.of(1) },
    ],
    inputs: [{ name: 'x', dims: [1, 2, 4, 4] }],
    outputs: [
      { name: 'y', dims: [1, 2, 4, 4] },
      { name: 'k', dims: [1, 2, 4, 4] },
    ],
  });
  await assert.rejects(importBytes(bytes), (err: unknown) => {
    assert.ok(err instanceof ImportError, String(err));
    const listed = err.unsupported.map((u) => `${u.name} ${u.opType}`);
    // Every op that does not map, and nothing downstream of one that does not.
    assert.deepEqual(listed, ['product Mul', 'up Resize', 'clip Clip']);
    assert.match(err.message, /product \(Mul\): an element-wise product of two computed tensors/);
    assert.match(err.message, /clip \(Clip\): Clip to \[-1, 1\]/);
    return true;
  });
  await assert.rejects(importBytes(Uint8Array.of(1, 2, 3, 4, 5)), /not an ONNX model/);
});

test('a real published ONNX model that does not map (openWakeWord, layer norms over a [1,25,96] input) is refused, listing the ops to blame', async () => {
  const path = new URL('../../test/fixtures/models/openwakeword-hello-deepa/hello_deepa.onnx', import.meta.url).pathname;
  await assert.rejects(importModel(path), (err: unknown) => {
    assert.ok(err instanceof ImportError, String(err));
    const listed = err.unsupported.map((u) => `${u.name} ${u.opType}`);
    assert.deepEqual(listed, ['onnx::Flatten_0 input', '/layernorm1/Pow Pow', '/layernorm1/Sqrt Sqrt', '/blocks.0/layer_norm/Pow Pow', '/blocks.0/layer_norm/Sqrt Sqrt']);
    assert.match(err.message, /shape \[1,25,96\]: an input must be \[N,C,H,W\] or \[N,n\]/);
    assert.match(err.message, /a layer norm, for one, has no op here/);
    return true;
  });
});

test('the pipelined rollout: every path from the input to an output is delayed alike, model-parallel, refused for feedback', () => {
  const net = validateNetwork({
    name: 'skip',
    nodes: [
      { name: 'x', shape: [4] },
      { name: 'a', shape: [4] },
      { name: 'b', shape: [4] },
      { name: 'y', shape: [4] },
    ],
    edges: [
      { from: 'x', to: 'a', op: { type: 'dense' } },
      { from: 'a', to: 'b', op: { type: 'dense' } },
      { from: 'b', to: 'y', op: { type: 'dense' } },
      { from: 'a', to: 'y', op: { type: 'dense' } },
      { from: 'x', to: 'y', op: { type: 'dense' } },
    ],
    outputs: ['y'],
  });
  const r = resolveRollout(net, 'pipelined');
  assert.equal(r.kind, 'pipelined');
  assert.deepEqual(Object.fromEntries(net.edges.map((e) => [e.id, r.delays[e.index]])), { 'x->a': 0, 'a->b': 1, 'b->y': 1, 'a->y': 2, 'x->y': 2 });
  const analysis = analyzeRollout(net, r, { window: 3 });
  assert.ok(analysis.valid && analysis.inferenceFactor === 1 && analysis.modelParallel);
  assert.ok(analysis.valid && analysis.outputs.y.delay === 2);
  const loop = validateNetwork({
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
  assert.throws(() => resolveRollout(loop, 'pipelined'), /needs a feedforward network; "loop" has feedback through h/);
});
