// npm run bench:peer [-- --json] [-- --rounds N]
// Whole networks, frames per second with a new input every frame, on all of this machine's
// cores: streamroll's engine against onnxruntime-node running the same network and weights
// as one ONNX graph (one thread, and intra-op threads on every core). The peer computes each
// frame from that frame's input, which is what the sequential rollout computes; the streaming
// rollout answers the same frames a few ticks later and runs every layer at once. Interleaved
// rounds in one process, medians; every contender copies each frame in and its outputs out
// into a buffer of its own (streamroll through run({views: true}), the zero-copy path).
// One thread against one thread: streamroll's sequential rollout on one worker against
// onnxruntime's single intra-op thread and TensorFlow.js's wasm backend running the same
// frame op by op (what the kernels do on a whole network).
import { availableParallelism, cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { sequentialDelays } from '../src/rollout/pattern.js';
import { frameOrder } from '../src/rollout/validity.js';
import { toTrainable, unroll } from '../src/train/window-model.js';
import { benchArgs, benchRounds } from './args.js';
import type { Network } from '../src/graph/network.js';
import { initParameters, type Parameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime } from '../src/engine/runtime.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { convChain, inputsFor } from './engine-measures.js';
import { networkModel } from '../src/io/onnx-export.js';
import { maxRelErr } from './relative-error.js';
import { median } from './timing.js';
import { importedModelPeer } from './peer-imported.js';

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

interface PeerContender {
  readonly name: string;
  readonly detail: Record<string, unknown>;
  /** Runs the frames (new input each), returns frames per second. */
  frames(feed: readonly Float32Array[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * TensorFlow.js (wasm backend) computing each frame of the sequential rollout op by op: the
 * training code's forward pass for one tick, on weights it was given once.
 */
function tfjsContender(net: Network, params: Parameters): PeerContender & { output(x: Float32Array): Promise<Float32Array> } {
  const tp = toTrainable(tf, net, params);
  const delays = sequentialDelays(net);
  const order = frameOrder(net, delays);
  const input = net.nodes[net.inputs[0]];
  const output = net.nodes[net.outputs[0]];
  const out = new Float32Array(output.size);
  const frame = (x: Float32Array): tf.Tensor => {
    const nhwc = input.shape.length === 3 ? tf.transpose(tf.tensor4d(x, [1, input.shape[0], input.shape[1] as number, input.shape[2] as number]), [0, 2, 3, 1]) : tf.tensor2d(x, [1, input.size]);
    const state = unroll(tf, net, delays, order, tp, [[nhwc]], false)[0].states[0];
    // Back to row-major [C,H,W], as every other contender hands its output over.
    return state.rank === 4 ? tf.reshape(tf.transpose(state, [0, 3, 1, 2]), [-1]) : tf.reshape(state, [-1]);
  };
  const run = (x: Float32Array): Float32Array => {
    const y = tf.tidy(() => frame(x));
    out.set(y.dataSync() as Float32Array);
    y.dispose();
    return out;
  };
  return {
    name: 'tfjs-wasm, 1 thread',
    detail: { peer: '@tensorflow/tfjs-backend-wasm', threads: 1 },
    output: async (x) => run(x),
    async frames(feed) {
      const t0 = performance.now();
      for (const x of feed) run(x);
      return feed.length / ((performance.now() - t0) / 1000);
    },
    close: async () => {
      for (const w of tp.weights) w?.dispose();
      for (const b of tp.biases) b?.dispose();
    },
  };
}

async function onnxContender(net: Network, model: Uint8Array, threads: number): Promise<PeerContender & { output(x: Float32Array): Promise<Float32Array> }> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const input = net.nodes[net.inputs[0]];
  const dims = [1, ...input.shape];
  const outName = net.nodes[net.outputs[0]].name;
  const out = new Float32Array(net.nodes[net.outputs[0]].size);
  const run = async (x: Float32Array): Promise<Float32Array> => {
    const result = await session.run({ [input.name]: new ort.Tensor('float32', x.slice(), dims) });
    out.set(result[outName].data as Float32Array);
    return out;
  };
  return {
    name: `onnxruntime-node, ${threads} thread${threads > 1 ? 's' : ''}`,
    detail: { peer: 'onnxruntime-node', threads },
    output: run,
    async frames(feed) {
      const t0 = performance.now();
      for (const x of feed) await run(x);
      return feed.length / ((performance.now() - t0) / 1000);
    },
    close: () => session.release(),
  };
}

async function streamrollContender(net: Network, rollout: 'streaming' | 'sequential', params: Parameters, workers?: number): Promise<PeerContender> {
  const rt = await Runtime.create(net, { rollout, params, queue: 32, ...(workers === undefined ? {} : { workers }) });
  const name = net.nodes[net.outputs[0]].name;
  // Outputs are read as views and copied into a buffer of our own, as the peer's are.
  const out = new Float32Array(net.nodes[net.outputs[0]].size);
  return {
    name: `streamroll ${rollout}, ${rt.placement.workers} worker${rt.placement.workers > 1 ? 's' : ''}`,
    detail: { rollout, workers: rt.placement.workers, placement: rt.placement.nodesOf.map((vs) => vs.map((v) => net.nodes[v].name)) },
    async frames(feed) {
      const t0 = performance.now();
      for await (const frame of rt.run(feed, { views: true })) out.set(frame.output(name));
      return feed.length / ((performance.now() - t0) / 1000);
    },
    close: () => rt.close(),
  };
}

const USAGE = `usage: npm run bench:peer [-- --json] [-- --rounds N]

Whole networks, frames/s with a new input each frame on all cores: streamroll (sequential
and streaming rollouts, and sequential on one worker thread against onnxruntime's one
thread: the kernels on a whole network) against onnxruntime-node running the same network
and weights (1 thread, and one intra-op thread per core); then a real published model (nsfwjs MobileNetV2)
imported and run pipelined and sequential, against onnxruntime-node on the same weights and
TensorFlow.js running the original (wasm, and tfjs-node where installed), with how long a
frame waits for its own answer.
  --json           print one JSON document on stdout (progress goes to stderr)
  --rounds N       interleaved rounds per network, the median is reported (default 7; at
                   most 5 for the imported model)
  --skip-imported  leave the imported model out`;

async function main(): Promise<void> {
  const values = benchArgs(USAGE, { json: { type: 'boolean' }, rounds: { type: 'string' }, 'skip-imported': { type: 'boolean' } });
  const rounds = benchRounds(values, 7, USAGE);
  const cores = availableParallelism();
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('tfjs wasm backend did not start');
  const nets = [await loadNetworkFile(example('conv-chain-4')), convChain(16), await loadNetworkFile(example('densenet-12')), await loadNetworkFile(example('mnist-ff'))];
  const results = [];
  for (const net of nets) {
    log(`${net.name}: building the peer and the runtimes`);
    const params = initParameters(net, { seed: 1, bias: 'uniform' });
    const model = networkModel(net, params);
    const inputs = inputsFor(net, 64, 3);
    // The peer must compute what the sequential rollout computes, frame for frame.
    const reference = new ReferenceExecutor(net, 'sequential', params, { backend: defaultBackend() });
    const expected = reference.step(inputs[0])[net.nodes[net.outputs[0]].name];
    const peers = [await onnxContender(net, model, 1), ...(cores > 1 ? [await onnxContender(net, model, cores)] : [])];
    const tfjs = tfjsContender(net, params);
    const err = Math.max(...(await Promise.all([...peers, tfjs].map(async (p) => maxRelErr(await p.output(inputs[0]), expected)))));
    if (!(err < 1e-3)) throw new Error(`${net.name}: a peer's outputs differ from the executor's (max relative error ${err})`);
    // One worker thread against one onnxruntime thread: the kernels' speed on a whole network.
    const contenders: PeerContender[] = [
      ...peers,
      await streamrollContender(net, 'sequential', params, 1),
      await streamrollContender(net, 'sequential', params),
      await streamrollContender(net, 'streaming', params),
      tfjs,
    ];
    try {
      // Size a round to ~200 ms of the single-threaded peer.
      const t0 = performance.now();
      for (let i = 0; i < 20; i++) await peers[0].output(inputs[i % inputs.length]);
      const frames = Math.max(50, Math.round(200_000 / (((performance.now() - t0) * 1000) / 20)));
      const feed = Array.from({ length: frames }, (_, i) => inputs[i % inputs.length]);
      for (const c of contenders) await c.frames(feed.slice(0, Math.min(frames, 100)));
      const fps = contenders.map(() => [] as number[]);
      for (let r = 0; r < rounds; r++) for (const [i, c] of contenders.entries()) fps[i].push(await c.frames(feed));
      const medians = fps.map((f) => Math.round(median(f)));
      results.push({
        net: net.name,
        framesPerRound: frames,
        maxRelErr: Number(err.toExponential(2)),
        contenders: contenders.map((c, i) => ({ name: c.name, ...c.detail, framesPerSec: medians[i] })),
        // contenders[peers.length] is streamroll's one-worker run, contenders[0] onnxruntime's one thread.
        singleThread: {
          streamroll: medians[peers.length],
          onnxruntime: medians[0],
          ratio: Number((medians[peers.length] / medians[0]).toFixed(2)),
          tfjsWasm: medians[contenders.length - 1],
          ratioVsTfjsWasm: Number((medians[peers.length] / medians[contenders.length - 1]).toFixed(2)),
        },
      });
    } finally {
      await Promise.all(contenders.map((c) => c.close()));
    }
  }
  log('mobilenet-v2: the imported real model against onnxruntime and TensorFlow.js');
  const imported = values['skip-imported'] === true ? null : await importedModelPeer(Math.min(rounds, 5), log);
  const doc = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores, backend: defaultBackend(), nets: results, imported };
  if (values.json === true) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${doc.node} on ${doc.cpu}, ${cores} cores, ${doc.backend} kernels; frames/s with a new input each frame, medians of ${rounds} rounds\n`);
  for (const n of results) {
    const best = Math.max(...n.contenders.filter((c) => c.name.startsWith('onnxruntime')).map((c) => c.framesPerSec));
    process.stdout.write(`\n${n.net} (peer outputs within ${n.maxRelErr} of ours; one thread each: ${n.singleThread.ratio}x onnxruntime, ${n.singleThread.ratioVsTfjsWasm}x tfjs-wasm)\n`);
    for (const c of n.contenders) process.stdout.write(`  ${c.name.padEnd(36)} ${String(c.framesPerSec).padStart(8)}  ${(c.framesPerSec / best).toFixed(2)}x the best peer\n`);
  }
  if (imported !== null) {
    const best = Math.max(...imported.contenders.filter((c) => !c.name.startsWith('streamroll')).map((c) => c.framesPerSec));
    process.stdout.write(`\n${imported.net}: ${imported.nodes} nodes, ${imported.folded} ops folded; peers' outputs within ${imported.maxRelErr} of ours\n`);
    for (const c of imported.contenders)
      process.stdout.write(
        `  ${c.name.padEnd(52)} ${c.framesPerSec.toFixed(1).padStart(8)} frames/s  ${(c.framesPerSec / best).toFixed(2)}x the best peer  answer after ${c.answerMs.toFixed(1)} ms\n`,
      );
    for (const note of imported.notes) process.stdout.write(`  (${note})\n`);
  }
}

await main();
