import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { validateNetwork } from '../src/graph/network.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime } from '../src/engine/runtime.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { importModel, ImportError } from '../src/import/index.js';
import { analyzeRollout } from '../src/rollout/analyze.js';
import { resolveRollout } from '../src/rollout/pattern.js';
import { Random } from '../src/util/random.js';
import { relativeError, sameBits } from './helpers/numeric.js';

const dir = await mkdtemp(join(tmpdir(), 'streamroll-tfjs-graph-'));
after(() => rm(dir, { recursive: true, force: true }));
tf.env().set('PROD', true);
await tf.setBackend('cpu');

interface GraphModelJson {
  format: string;
  modelTopology: { node: object[] };
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  signature?: object;
  userDefinedMetadata?: Record<string, unknown>;
}

/** TensorFlow.js's own executor on a graph model folder (model.json and its shards). */
async function tfjsGraphModel(path: string): Promise<tf.GraphModel> {
  const json = JSON.parse(await readFile(path, 'utf8')) as GraphModelJson;
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(path, '..', p))));
  const data = Buffer.concat(shards);
  return tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      format: json.format,
      ...(json.signature === undefined ? {} : { signature: json.signature }),
      ...(json.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: json.userDefinedMetadata }),
    }),
  );
}

/** The imported model's outputs for a held input after the pipelined rollout's delay. */
async function ours(path: string, input: Float32Array): Promise<{ outputs: Record<string, Float32Array>; outputNames: readonly string[]; folded: readonly string[] }> {
  const imported = await importModel(path);
  const net = validateNetwork(imported.spec);
  const rollout = resolveRollout(net, 'pipelined');
  const a = analyzeRollout(net, rollout, { window: 1 });
  assert.ok(a.valid);
  const d = Math.max(...Object.values(a.outputs).map((o) => o.delay));
  const ex = new ReferenceExecutor(net, rollout, imported.params, { backend: defaultBackend() });
  let out: Record<string, Float32Array> = {};
  for (let t = 0; t <= d; t++) out = ex.step(input);
  return { outputs: out, outputNames: imported.spec.outputs ?? [], folded: imported.report.folded };
}

/**
 * A graph model written by hand in the converter's format: GraphDef nodes with base64
 * string attributes, every Const's value in the weights manifest under its node's name.
 */
class GraphBuilder {
  readonly nodes: object[] = [];
  readonly weights: tf.io.WeightsManifestEntry[] = [];
  readonly data: Float32Array[] = [];
  constructor(private readonly rng: Random) {}

  static s = (v: string): { s: string } => ({ s: Buffer.from(v).toString('base64') });
  static ints = (v: number[]): { list: { i: string[] } } => ({ list: { i: v.map(String) } });

  placeholder(name: string, dims: number[]): string {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: dims.map((d) => ({ size: String(d) })) } } } });
    return name;
  }

  /** A float constant (random in [lo, hi) unless given) or an int32 one. */
  constant(name: string, shape: number[], values?: number[], dtype: 'float32' | 'int32' = 'float32', lo = -0.5, hi = 0.5): string {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = values ?? Array.from({ length: n }, () => this.rng.uniform(lo, hi));
    this.nodes.push({
      name,
      op: 'Const',
      attr: {
        dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' },
        value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } },
      },
    });
    this.weights.push({ name, shape, dtype });
    this.data.push(dtype === 'int32' ? new Float32Array(Int32Array.from(v).buffer) : Float32Array.from(v));
    return name;
  }

  op(name: string, op: string, input: string[], attr: Record<string, unknown> = {}): string {
    this.nodes.push({ name, op, input, attr: { T: { type: 'DT_FLOAT' }, ...attr } });
    return name;
  }

  async save(folder: string): Promise<string> {
    await mkdir(join(dir, folder), { recursive: true });
    const bytes = Buffer.concat(this.data.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
    await writeFile(join(dir, folder, 'weights.bin'), bytes);
    const json = {
      format: 'graph-model',
      generatedBy: 'hand',
      convertedBy: 'streamroll tests',
      modelTopology: { node: this.nodes, versions: { producer: 1 } },
      weightsManifest: [{ paths: ['weights.bin'], weights: this.weights }],
    };
    await writeFile(join(dir, folder, 'model.json'), JSON.stringify(json));
    return join(dir, folder, 'model.json');
  }
}

const { s, ints } = GraphBuilder;
const nhwc = { data_format: s('NHWC') };

test('a hand-written graph model of every supported op imports and matches tfjs-converter', async () => {
  const rng = new Random(21);
  const g = new GraphBuilder(rng);
  const x = g.placeholder('image', [-1, 11, 9, 3]);
  const norm = g.op('norm/mul', 'Mul', [x, g.constant('norm/scale', [3], [2, 0.5, 1.5])]);
  const shifted = g.op('norm/sub', 'Sub', [norm, g.constant('norm/mean', [], [0.25])]);
  const padded = g.op('pad', 'Pad', [shifted, g.constant('pad/paddings', [4, 2], [0, 0, 1, 0, 0, 2, 0, 0], 'int32')]);
  const c1 = g.op('c1/conv', 'Conv2D', [padded, g.constant('c1/w', [3, 3, 3, 8])], { ...nhwc, strides: ints([1, 2, 2, 1]), padding: s('VALID'), dilations: ints([1, 1, 1, 1]) });
  const b1 = g.op('c1/bias', 'BiasAdd', [c1, g.constant('c1/b', [8])], nhwc);
  const bn = g.op(
    'bn',
    'FusedBatchNormV3',
    [b1, g.constant('bn/gamma', [8], undefined, 'float32', 0.5, 1.5), g.constant('bn/beta', [8]), g.constant('bn/mean', [8]), g.constant('bn/var', [8], undefined, 'float32', 0.5, 1.5)],
    { ...nhwc, epsilon: { f: 0.001 }, is_training: { b: false }, U: { type: 'DT_FLOAT' } },
  );
  const r6 = g.op('r6', 'Relu6', [bn]);
  const dw = g.op('dw', 'DepthwiseConv2dNative', [r6, g.constant('dw/w', [3, 3, 8, 2])], { ...nhwc, strides: ints([1, 1, 1, 1]), padding: s('SAME'), dilations: ints([1, 1, 1, 1]) });
  const fused = g.op('fused', '_FusedConv2D', [dw, g.constant('fused/w', [1, 1, 16, 8]), g.constant('fused/b', [8])], {
    ...nhwc,
    strides: ints([1, 1, 1, 1]),
    padding: s('SAME'),
    dilations: ints([1, 1, 1, 1]),
    fused_ops: { list: { s: [s('BiasAdd').s, s('Relu').s] } },
    num_args: { i: '1' },
    epsilon: { f: 0 },
    use_cudnn_on_gpu: { b: true },
  });
  const res = g.op('res', 'AddV2', [fused, r6]);
  const mp = g.op('mp', 'MaxPool', [res], { ...nhwc, ksize: ints([1, 3, 3, 1]), strides: ints([1, 2, 2, 1]), padding: s('SAME') });
  const fdw = g.op('fdw', 'FusedDepthwiseConv2dNative', [mp, g.constant('fdw/w', [3, 3, 8, 1]), g.constant('fdw/b', [8])], {
    ...nhwc,
    strides: ints([1, 1, 1, 1]),
    padding: s('SAME'),
    dilations: ints([1, 1, 1, 1]),
    fused_ops: { list: { s: [s('BiasAdd').s, s('Relu6').s] } },
    num_args: { i: '1' },
  });
  const leaky = g.op('leaky', 'LeakyRelu', [mp], { alpha: { f: 0.1 } });
  const cat = g.op('cat', 'ConcatV2', [fdw, leaky, g.constant('cat/axis', [], [-1], 'int32')], { N: { i: '2' }, Tidx: { type: 'DT_INT32' } });
  const elu = g.op('elu', 'Elu', [g.op('c2', 'Conv2D', [cat, g.constant('c2/w', [2, 2, 16, 6])], { ...nhwc, strides: ints([1, 1, 1, 1]), padding: s('SAME'), dilations: ints([1, 1, 1, 1]) })]);
  const ap = g.op('ap', 'AvgPool', [elu], { ...nhwc, ksize: ints([1, 2, 2, 1]), strides: ints([1, 1, 1, 1]), padding: s('VALID') });
  const gmax = g.op('gmax', 'Max', [elu, g.constant('gmax/axes', [2], [1, 2], 'int32')], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } });
  const flat = g.op('flat', 'Reshape', [ap, g.constant('flat/shape', [2], [-1, 6 * 2 * 2], 'int32')], { Tshape: { type: 'DT_INT32' } });
  const h = g.op('h', '_FusedMatMul', [flat, g.constant('h/w', [24, 7]), g.constant('h/b', [7])], {
    transpose_a: { b: false },
    transpose_b: { b: false },
    fused_ops: { list: { s: [s('BiasAdd').s, s('Sigmoid').s] } },
    num_args: { i: '1' },
    epsilon: { f: 0 },
  });
  const gap = g.op('gap', 'Mean', [elu, g.constant('gap/axes', [2], [1, 2], 'int32')], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } });
  const z = g.op('z', 'MatMul', [gap, g.constant('z/w', [7, 6])], { transpose_a: { b: false }, transpose_b: { b: true } });
  const sum = g.op('sum', 'AddN', [h, z, g.op('tanh', 'Tanh', [h])], { N: { i: '3' } });
  const logits = g.op('logits', 'BiasAdd', [g.op('out/mm', 'MatMul', [sum, g.constant('out/w', [7, 4])], { transpose_a: { b: false }, transpose_b: { b: false } }), g.constant('out/b', [4])]);
  g.op('probs', 'Softmax', [logits]);
  g.op('pooled', 'Identity', [gmax]);
  const path = await g.save('every-op');

  const input = Float32Array.from({ length: 11 * 9 * 3 }, () => rng.uniform(-1, 1));
  const model = await tfjsGraphModel(path);
  const [probs, pooled] = (model.execute(tf.tensor4d(input, [1, 11, 9, 3]), ['probs', 'pooled']) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array);
  const got = await ours(path, input);
  assert.deepEqual([...got.outputNames].sort(), ['pooled', 'probs']);
  assert.ok(relativeError(got.outputs.probs, probs) < 1e-5, `probs rel err ${relativeError(got.outputs.probs, probs)}`);
  assert.ok(relativeError(got.outputs.pooled, pooled) < 1e-5, `pooled rel err ${relativeError(got.outputs.pooled, pooled)}`);
  assert.ok(
    got.folded.some((f) => f.startsWith('batch norm') || f.includes('"bn"')),
    `the batch norm is folded: ${got.folded.join('; ')}`,
  );
});

test('a real published graph model: nsfwjs MobileNetV2 "mid" (uint8-quantised, converted from a SavedModel) imports and answers as tfjs-converter does, in the executor and the engine', async () => {
  const path = new URL('../../test/fixtures/models/nsfwjs-mobilenet-v2-mid/model.json', import.meta.url).pathname;
  const rng = new Random(12);
  const input = Float32Array.from({ length: 224 * 224 * 3 }, () => rng.uniform(0, 1));
  const model = await tfjsGraphModel(path);
  const theirs = (model.execute(tf.tensor4d(input, [1, 224, 224, 3])) as tf.Tensor).dataSync() as Float32Array;
  const got = await ours(path, input);
  assert.deepEqual(got.outputNames, ['Identity']);
  assert.ok(relativeError(got.outputs.Identity, theirs) < 1e-4, `rel err ${relativeError(got.outputs.Identity, theirs)}`);
  const imported = await importModel(path);
  // The fused convolutions' batch norms were already folded by the converter; what is left
  // (the hub's own input scaling, every projection's batch norm) folds here.
  assert.equal(imported.spec.nodes.length, 56);
  assert.ok(
    imported.spec.nodes.every((n) => !n.name.includes('StatefulPartitionedCall')),
    'names drop the SavedModel call scopes',
  );
  const rt = await Runtime.create(path, { workers: 2 });
  try {
    const ref = new ReferenceExecutor(rt.network, rt.rollout, imported.params, { backend: rt.backend.name });
    for (let t = 0; t < 4; t++) {
      const frame = t % 2 === 0 ? input : Float32Array.from(input, (v) => 1 - v);
      const a = await rt.step({ input: frame });
      const b = ref.step({ input: frame });
      assert.ok(sameBits(a.Identity, b.Identity), `tick ${t + 1}`);
    }
  } finally {
    await rt.close();
  }
});

test('graph ops that do not map are listed, all of them, with why', async () => {
  const g = new GraphBuilder(new Random(3));
  const x = g.placeholder('x', [1, 8, 8, 2]);
  const a = g.op('a', 'Conv2D', [x, g.constant('a/w', [1, 1, 2, 2])], { ...nhwc, strides: ints([1, 1, 1, 1]), padding: s('SAME') });
  g.op('up', 'ResizeBilinear', [a, g.constant('up/size', [2], [16, 16], 'int32')], { align_corners: { b: false }, half_pixel_centers: { b: true } });
  g.op('gate', 'Mul', [a, x]);
  g.op('nchw', 'Conv2D', [a, g.constant('nchw/w', [1, 1, 2, 2])], { data_format: s('NCHW'), strides: ints([1, 1, 1, 1]), padding: s('SAME') });
  const path = await g.save('unsupported');
  await assert.rejects(importModel(path), (err: unknown) => {
    assert.ok(err instanceof ImportError);
    assert.deepEqual(
      err.unsupported.map((u) => `${u.name} ${u.opType}`),
      ['up ResizeBilinear', 'gate Mul', 'nchw Conv2D'],
    );
    assert.match(err.message, /resizing \(upsampling\) has no op here/);
    assert.match(err.message, /only sums map/);
    assert.match(err.message, /data_format NCHW/);
    return true;
  });
});
