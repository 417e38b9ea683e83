import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

const dir = await mkdtemp(join(tmpdir(), 'streamroll-tfjs-'));
after(() => rm(dir, { recursive: true, force: true }));
tf.env().set('PROD', true);
await tf.setBackend('cpu');

/** Saves a tfjs layers model as model.json + weights.bin in a folder of its own; returns the model.json path. */
async function save(model: tf.LayersModel, name: string): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const json = { format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] };
      await writeFile(join(folder, 'model.json'), JSON.stringify(json));
      await writeFile(join(folder, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return join(folder, 'model.json');
}

/** The imported model's outputs for a held input after the pipelined rollout's delay, on the fast kernels. */
async function ours(path: string, input: Float32Array): Promise<{ outputs: Record<string, Float32Array>; nodes: number; folded: readonly string[]; spec: ReturnType<typeof validateNetwork>['spec'] }> {
  const imported = await importModel(path);
  const net = validateNetwork(imported.spec);
  const rollout = resolveRollout(net, 'pipelined');
  const a = analyzeRollout(net, rollout, { window: 1 });
  if (!a.valid) throw new Error('invalid');
  const d = Math.max(...Object.values(a.outputs).map((o) => o.delay));
  const ex = new ReferenceExecutor(net, rollout, imported.params, { backend: defaultBackend() });
  let out: Record<string, Float32Array> = {};
  for (let t = 0; t <= d; t++) out = ex.step(input);
  return { outputs: out, nodes: net.nodes.length, folded: imported.report.folded, spec: imported.spec };
}

test('a Keras model of every supported layer, saved by tfjs-layers, imports and matches tf.predict', async () => {
  const input = tf.input({ shape: [12, 10, 3], name: 'pixels' });
  const pad = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 0],
        [0, 2],
      ],
      name: 'pad',
    })
    .apply(input) as tf.SymbolicTensor;
  const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', name: 'c1' }).apply(pad) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn', epsilon: 1e-3 }).apply(c1) as tf.SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: false, name: 'dw' }).apply(bn) as tf.SymbolicTensor;
  const r6 = tf.layers.reLU({ maxValue: 6, name: 'r6' }).apply(dw) as tf.SymbolicTensor;
  const sep = tf.layers.separableConv2d({ filters: 16, kernelSize: 3, padding: 'same', name: 'sep' }).apply(r6) as tf.SymbolicTensor;
  const leaky = tf.layers.leakyReLU({ alpha: 0.3, name: 'leaky' }).apply(sep) as tf.SymbolicTensor;
  const res = tf.layers.add({ name: 'res' }).apply([leaky, r6]) as tf.SymbolicTensor;
  const mp = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'mp' }).apply(res) as tf.SymbolicTensor;
  const side = tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'hardSigmoid', name: 'side' }).apply(mp) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([mp, side]) as tf.SymbolicTensor;
  const c2 = tf.layers.conv2d({ filters: 6, kernelSize: 2, dilationRate: 1, padding: 'same', activation: 'elu', name: 'c2' }).apply(cat) as tf.SymbolicTensor;
  const ap = tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid', name: 'ap' }).apply(c2) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c2) as tf.SymbolicTensor;
  const perPixel = tf.layers.dense({ units: 5, activation: 'tanh', name: 'per_pixel' }).apply(ap) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(perPixel) as tf.SymbolicTensor;
  const drop = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(flat) as tf.SymbolicTensor;
  const h = tf.layers.dense({ units: 7, activation: 'sigmoid', name: 'h' }).apply(drop) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 4, name: 'logits' }).apply(h) as tf.SymbolicTensor;
  const probs = tf.layers.softmax({ name: 'probs' }).apply(logits) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [probs, gap], name: 'every_layer' });
  // Batch norm statistics that are not the identity.
  const rng = new Random(5);
  for (const w of model.getLayer('bn').weights)
    w.write(
      tf.tensor(
        Float32Array.from({ length: w.shape.reduce((a, b) => (a ?? 1) * (b ?? 1), 1) as number }, () => rng.uniform(0.5, 1.5)),
        w.shape as number[],
      ),
    );
  const path = await save(model, 'every-layer');
  const x = Float32Array.from({ length: 12 * 10 * 3 }, () => rng.uniform(-1, 1));
  const theirs = (model.predict(tf.tensor4d(x, [1, 12, 10, 3])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array);
  // An NHWC model keeps its [H,W,C] order at the API: the same array goes to both.
  const got = await ours(path, x);
  assert.equal(got.spec.nodes.find((n) => n.name === 'pixels')?.layout, 'hwc');
  assert.ok(relativeError(got.outputs.probs, theirs[0]) < 1e-4, `probs: ${relativeError(got.outputs.probs, theirs[0])}`);
  assert.ok(relativeError(got.outputs.gap, theirs[1]) < 1e-4, `gap: ${relativeError(got.outputs.gap, theirs[1])}`);
  // A batch norm after an activation has no conv to fold into: a depthwise 1x1 edge scales it.
  assert.deepEqual(
    got.spec.edges.filter((e) => e.to === 'bn').map((e) => [e.from, e.op]),
    [['c1', { type: 'conv2d', kernel: 1, padding: 'valid', groups: 8 }]],
  );
});

test('a real published model: nsfwjs MobileNetV2 (uint8-quantised Keras layers model) imports and answers as tfjs does, in the executor and in the engine', async () => {
  const path = new URL('../../test/fixtures/models/nsfwjs-mobilenet-v2/model.json', import.meta.url).pathname;
  const model = await tf.loadLayersModel(
    tf.io.fromMemory(
      await (async () => {
        const { readFile } = await import('node:fs/promises');
        const json = JSON.parse(await readFile(path, 'utf8')) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
        const data = await readFile(path.replace('model.json', 'group1-shard1of1.bin'));
        return { modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) };
      })(),
    ),
  );
  const rng = new Random(11);
  const x = Float32Array.from({ length: 224 * 224 * 3 }, () => rng.uniform(0, 1));
  const theirs = (model.predict(tf.tensor4d(x, [1, 224, 224, 3])) as tf.Tensor).dataSync() as Float32Array;
  const input = x;
  const got = await ours(path, input);
  assert.ok(relativeError(got.outputs.dense_3, theirs) < 1e-4, `rel err ${relativeError(got.outputs.dense_3, theirs)}`);
  assert.ok(got.folded.filter((f) => f.startsWith('batch norm')).length === 52, 'every batch norm folded');
  // The engine on 2 workers, pipelined: bit for bit the executor on the same kernels.
  const rt = await Runtime.create(path, { workers: 2 });
  try {
    const ref = new ReferenceExecutor(rt.network, rt.rollout, (await importModel(path)).params, { backend: rt.backend.name });
    for (let t = 0; t < 6; t++) {
      const frame = t % 2 === 0 ? input : Float32Array.from(input, (v) => 1 - v);
      const a = await rt.step({ input_1: frame });
      const b = ref.step({ input_1: frame });
      assert.ok(sameBits(a.dense_3, b.dense_3), `tick ${t + 1}`);
    }
  } finally {
    await rt.close();
  }
});

test('layers that do not map are listed, all of them, with why', async () => {
  const input = tf.input({ shape: [8, 8, 2], name: 'x' });
  const a = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'a' }).apply(input) as tf.SymbolicTensor;
  const gate = tf.layers.multiply({ name: 'gate' }).apply([a, input]) as tf.SymbolicTensor;
  const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(a) as tf.SymbolicTensor;
  const swish = tf.layers.activation({ activation: 'swish', name: 'swish' }).apply(a) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [gate, up, swish] });
  const path = await save(model, 'unsupported');
  await assert.rejects(importModel(path), (err: unknown) => {
    assert.ok(err instanceof ImportError);
    assert.deepEqual(
      err.unsupported.map((u) => `${u.name} ${u.opType}`),
      ['gate Multiply', 'up UpSampling2D', 'swish Activation'],
    );
    assert.match(err.message, /activation "swish" is not supported/);
    return true;
  });
});
