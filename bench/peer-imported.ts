// bench:peer's real model: the nsfwjs MobileNetV2 (a published Keras model, uint8 weights,
// test/fixtures/models) imported by streamroll and run pipelined and sequential on all cores,
// against onnxruntime-node on the same imported weights (exported to ONNX) and TensorFlow.js
// (wasm, and tfjs-node where it is installed) running the original layers model. A new input
// each frame; frames/s, and how long a frame waits for its own answer.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { validateNetwork } from '../src/graph/network.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime } from '../src/engine/runtime.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { importModel } from '../src/import/index.js';
import { networkModel } from '../src/io/onnx-export.js';
import { analyzeRollout } from '../src/rollout/analyze.js';
import { Random } from '../src/util/random.js';
import { maxRelErr } from './relative-error.js';
import { median } from './timing.js';

const MODEL = new URL('../../test/fixtures/models/nsfwjs-mobilenet-v2/model.json', import.meta.url).pathname;

interface Contender {
  readonly name: string;
  /** Runs the frames (new input each), returns frames/s. */
  frames(count: number): Promise<number>;
  /** Milliseconds from handing a frame in to holding its own answer (median). */
  answerMs(): Promise<number>;
  close(): Promise<void>;
}

/** Row-major [C,H,W] of an NHWC frame. */
function toChw(hwc: Float32Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(hwc.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = hwc[(y * w + x) * c + k];
  return out;
}

const timeEach = async (n: number, call: (i: number) => Promise<unknown>): Promise<number> => {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call(i);
    ms.push(performance.now() - t0);
  }
  return median(ms);
};

export interface ImportedPeerResult {
  readonly net: string;
  readonly nodes: number;
  readonly folded: number;
  readonly maxRelErr: number;
  readonly contenders: readonly { readonly name: string; readonly framesPerSec: number; readonly answerMs: number }[];
  readonly notes: readonly string[];
}

/** The MobileNetV2 comparison; `log` reports progress. */
export async function importedModelPeer(rounds: number, log: (msg: string) => void): Promise<ImportedPeerResult> {
  const cores = availableParallelism();
  const imported = await importModel(MODEL);
  const net = validateNetwork(imported.spec);
  const rng = new Random(5);
  const frames = Array.from({ length: 8 }, () => Float32Array.from({ length: 224 * 224 * 3 }, () => rng.uniform(0, 1)));
  const framesChw = frames.map((f) => toChw(f, 224, 224, 3));
  const output = net.nodes[net.outputs[0]].name;
  const notes: string[] = [];

  // onnxruntime on the imported weights: what the sequential rollout computes.
  const onnx = networkModel(net, imported.params);
  const sequential = new ReferenceExecutor(net, 'sequential', imported.params, { backend: defaultBackend() });
  const expected = sequential.step({ input_1: frames[0] })[output];
  const contenders: Contender[] = [];
  let err = 0;
  for (const threads of cores > 1 ? [1, cores] : [1]) {
    const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    const run = async (i: number): Promise<Float32Array> =>
      (await session.run({ input_1: new ort.Tensor('float32', framesChw[i % frames.length].slice(), [1, 3, 224, 224]) }))[output].data as Float32Array;
    err = Math.max(err, maxRelErr(await run(0), expected));
    contenders.push({
      name: `onnxruntime-node, ${threads} thread${threads > 1 ? 's' : ''}`,
      async frames(n) {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await run(i);
        return n / ((performance.now() - t0) / 1000);
      },
      answerMs: () => timeEach(10, run),
      close: () => session.release(),
    });
  }

  // TensorFlow.js running the original layers model.
  const json = JSON.parse(await readFile(MODEL, 'utf8')) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const data = await readFile(MODEL.replace('model.json', 'group1-shard1of1.bin'));
  const artifacts = { modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) };
  const backends: string[] = ['wasm'];
  try {
    await import('@tensorflow/tfjs-node' as string);
    backends.push('tensorflow');
  } catch {
    notes.push('tfjs-node is not installed here (its install downloads libtensorflow): TensorFlow.js ran on wasm only');
  }
  for (const backend of backends) {
    if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) {
      notes.push(`tfjs backend ${backend} did not start`);
      continue;
    }
    const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const run = (i: number): Float32Array => tf.tidy(() => (model.predict(tf.tensor4d(frames[i % frames.length], [1, 224, 224, 3])) as tf.Tensor).dataSync() as Float32Array);
    err = Math.max(err, maxRelErr(run(0), expected));
    contenders.push({
      name: `tfjs-${backend === 'tensorflow' ? 'node' : backend} (the original model)`,
      async frames(n) {
        await tf.setBackend(backend);
        const t0 = performance.now();
        for (let i = 0; i < n; i++) run(i);
        return n / ((performance.now() - t0) / 1000);
      },
      answerMs: async () => {
        await tf.setBackend(backend);
        return timeEach(10, async (i) => run(i));
      },
      close: async () => void model.dispose(),
    });
  }

  // streamroll: the imported network pipelined (every layer at once, answers d ticks later) and sequential.
  for (const rollout of ['pipelined', 'sequential'] as const) {
    log(`MobileNetV2: starting streamroll ${rollout}`);
    const rt = await Runtime.create(net, { rollout, params: imported.params });
    const analysis = analyzeRollout(net, rt.rollout, { window: 1 });
    const d = analysis.valid ? Math.max(...Object.values(analysis.outputs).map((o) => o.delay)) : 0;
    contenders.push({
      name: `streamroll ${rollout}, ${rt.placement.workers} worker${rt.placement.workers > 1 ? 's' : ''}${rollout === 'pipelined' ? ` (answers ${d} ticks later)` : ''}`,
      async frames(n) {
        const feed = Array.from({ length: n }, (_, i) => ({ input_1: frames[i % frames.length] }));
        const out = new Float32Array(net.nodes[net.outputs[0]].size);
        const t0 = performance.now();
        for await (const frame of rt.run(feed, { views: true })) out.set(frame.output(output));
        return n / ((performance.now() - t0) / 1000);
      },
      // A frame's own answer comes d ticks after it: the ticks of d + 1 frames driven back to back.
      answerMs: async () => (d + 1) * (await timeEach(Math.max(10, d + 1), (i) => rt.step({ input_1: frames[i % frames.length] }))),
      close: () => rt.close(),
    });
  }

  try {
    const per = 12;
    for (const c of contenders) await c.frames(3);
    const fps = contenders.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
      log(`MobileNetV2: round ${r + 1} of ${rounds}`);
      for (const [i, c] of contenders.entries()) fps[i].push(await c.frames(per));
    }
    const answers: number[] = [];
    for (const c of contenders) answers.push(await c.answerMs());
    return {
      net: 'mobilenet-v2 (nsfwjs, imported)',
      nodes: net.nodes.length,
      folded: imported.report.folded.length,
      maxRelErr: Number(err.toExponential(2)),
      contenders: contenders.map((c, i) => ({ name: c.name, framesPerSec: Number(median(fps[i]).toFixed(1)), answerMs: Number(answers[i].toFixed(2)) })),
      notes,
    };
  } finally {
    for (const c of contenders) await c.close();
  }
}
