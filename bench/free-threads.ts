// The machine's own parallel ceilings, plain threads with no coordination at all. For
// bench:scaling: N threads, each running its share of a network's layers on the
// single-threaded executor; the slowest thread's frames/s is what an engine with free
// synchronisation would reach (on machines whose cores share execution units, SMT siblings
// behind vCPUs, or slow down when all are busy, it is well under N times one thread). For
// bench:sessions: N threads, each running the whole network for its share of the streams
// with the engine's batched kernels, fresh input every frame copied in and outputs copied
// out, each on a memory of its own; their summed frames/s is what a runtime serving those
// streams could reach if coordinating its threads and feeding them cost nothing.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { validateNetwork, type Network } from '../src/graph/network.js';
import type { NetworkSpec } from '../src/graph/spec.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { createArena, planArena } from '../src/engine/arena.js';
import { NodeComputer } from '../src/engine/node-compute.js';
import { asRollout } from '../src/rollout/pattern.js';
import { frameOrder } from '../src/rollout/validity.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { getBackend } from '../src/kernels/registry.js';
import { inputsFor } from './engine-measures.js';
import { median } from './timing.js';

interface ThreadTask {
  readonly kind: 'free-thread' | 'free-streams';
  readonly net: NetworkSpec;
  readonly go: SharedArrayBuffer;
  readonly ms: number;
  readonly rounds: number;
  /** free-streams: the streams this thread serves (they seed its input frames as bench:sessions' do). */
  readonly streams?: readonly number[];
}

/**
 * Runs `step` (which computes some frames and says how many) for a warm-up, waits until every
 * thread of the task is ready, then posts the median frames/s of the task's timed rounds.
 */
function timedRounds(task: ThreadTask, step: () => number): void {
  const rate = (ms: number): number => {
    let count = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) count += step();
    return count / ((performance.now() - t0) / 1000);
  };
  rate(200);
  const go = new Int32Array(task.go);
  Atomics.add(go, 1, 1);
  Atomics.wait(go, 0, 0);
  const samples: number[] = [];
  for (let r = 0; r < task.rounds; r++) samples.push(rate(task.ms));
  parentPort?.postMessage(median(samples));
}

/** Frames/s of a thread running `net` alone, started together with the others. */
function runThread(task: ThreadTask): void {
  const net = validateNetwork(task.net);
  const ex = new ReferenceExecutor(net, 'streaming', initParameters(net, { seed: 1 }), { backend: defaultBackend() });
  const x = new Float32Array(net.nodes[net.inputs[0]].size).fill(0.5);
  timedRounds(task, () => {
    ex.repeat(x, 4);
    return 4;
  });
}

/**
 * Frames/s of a thread serving `task.streams` alone: each frame, every stream's fresh input
 * copied in (checked, into internal order), every node computed for all its streams at once
 * as the engine's workers compute a batch, and every output copied out, on a memory of its
 * own with the parameters bench:sessions gives its runtimes.
 */
function runStreams(task: ThreadTask): void {
  const net = validateNetwork(task.net);
  const streams = task.streams ?? [];
  const backend = getBackend(defaultBackend());
  const { delays } = asRollout(net, 'streaming');
  const arena = createArena(net, planArena(net, delays, backend, { streams: streams.length }), backend, initParameters(net, { seed: 1, bias: 'uniform' }));
  const kernels = backend.bind(arena.memory);
  const computer = new NodeComputer(net, delays, arena, kernels);
  const order = frameOrder(net, delays).filter((v) => !net.nodes[v].isInput);
  const input = net.nodes[net.inputs[0]];
  const feeds = streams.map((s) => inputsFor(net, 16, 100 + s));
  const scratch = new Float32Array(input.size);
  const outs = net.outputs.map((v) => new Float32Array(net.nodes[v].size));
  const slots = streams.map((_, b) => b);
  const frames = streams.map(() => 0);
  let f = 0;
  timedRounds(task, () => {
    f++;
    for (let b = 0; b < slots.length; b++) {
      frames[b] = f;
      if (kernels.copyInInternal(feeds[b][f % feeds[b].length], arena.state(input.index, f, b), scratch, input.shape, input.order) >= 0) throw new Error('non-finite input');
    }
    for (const v of order) computer.computeBatch(v, frames, slots);
    for (let b = 0; b < slots.length; b++) net.outputs.forEach((v, j) => kernels.fromInternal(arena.state(v, f, b), outs[j], net.nodes[v].shape, net.nodes[v].order));
    return slots.length;
  });
}

if (!isMainThread && (workerData as ThreadTask | undefined)?.kind === 'free-thread') runThread(workerData as ThreadTask);
if (!isMainThread && (workerData as ThreadTask | undefined)?.kind === 'free-streams') runStreams(workerData as ThreadTask);

/**
 * Frames/s of `parts.length` threads started at once, thread i running network parts[i]
 * frame after frame on its own; returns each thread's median over `rounds` runs of `ms`.
 */
export async function freeThreads(parts: readonly Network[], rounds = 3, ms = 300): Promise<number[]> {
  return startTogether(parts.map((net) => ({ kind: 'free-thread', net: net.spec, ms, rounds })));
}

/**
 * Total frames/s of `streams` streams of `net` served by `threads` threads started at once,
 * each computing every node for its share of the streams (see runStreams): the sum of each
 * thread's median over `rounds` runs of `ms`.
 */
export async function freeStreams(net: Network, streams: number, threads: number, rounds = 1, ms = 400): Promise<number> {
  const shares = Array.from({ length: Math.min(threads, streams) }, (_, t) => Array.from({ length: streams }, (_, s) => s).filter((s) => s % threads === t));
  const rates = await startTogether(shares.map((share) => ({ kind: 'free-streams', net: net.spec, ms, rounds, streams: share })));
  return rates.reduce((a, b) => a + b, 0);
}

/** Starts one thread per task, lets them all go at once, and returns each one's frames/s. */
async function startTogether(tasks: readonly Omit<ThreadTask, 'go'>[]): Promise<number[]> {
  const go = new SharedArrayBuffer(8);
  const flags = new Int32Array(go);
  const workers = tasks.map((task) => new Worker(new URL(import.meta.url), { workerData: { ...task, go } satisfies ThreadTask }));
  try {
    const results = workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`free thread exited with ${code}`)));
        }),
    );
    while (Atomics.load(flags, 1) < workers.length) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    return await Promise.all(results);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
