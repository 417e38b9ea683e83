// The machine's own parallel ceiling for bench:scaling: N plain threads, each running its
// share of a network's layers on the single-threaded executor with no coordination at all.
// The slowest thread's frames/s is what an engine with free synchronisation would reach; on
// machines whose cores share execution units (SMT siblings behind vCPUs) or slow down when
// all are busy, it is well under N times one thread.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { validateNetwork, type Network } from '../src/graph/network.js';
import type { NetworkSpec } from '../src/graph/spec.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { median } from './timing.js';

interface ThreadTask {
  readonly kind: 'free-thread';
  readonly net: NetworkSpec;
  readonly go: SharedArrayBuffer;
  readonly ms: number;
  readonly rounds: number;
}

/** Frames/s of a thread running `net` alone, started together with the others. */
async function runThread(task: ThreadTask): Promise<void> {
  const net = validateNetwork(task.net);
  const ex = new ReferenceExecutor(net, 'streaming', initParameters(net, { seed: 1 }), { backend: defaultBackend() });
  const x = new Float32Array(net.nodes[net.inputs[0]].size).fill(0.5);
  const timed = (ms: number): number => {
    let frames = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      ex.repeat(x, 4);
      frames += 4;
    }
    return frames / ((performance.now() - t0) / 1000);
  };
  timed(200);
  const go = new Int32Array(task.go);
  Atomics.add(go, 1, 1);
  Atomics.wait(go, 0, 0);
  const samples: number[] = [];
  for (let r = 0; r < task.rounds; r++) samples.push(timed(task.ms));
  parentPort?.postMessage(median(samples));
}

if (!isMainThread && (workerData as ThreadTask | undefined)?.kind === 'free-thread') await runThread(workerData as ThreadTask);

/**
 * Frames/s of `parts.length` threads started at once, thread i running network parts[i]
 * frame after frame on its own; returns each thread's median over `rounds` runs of `ms`.
 */
export async function freeThreads(parts: readonly Network[], rounds = 3, ms = 300): Promise<number[]> {
  const go = new SharedArrayBuffer(8);
  const flags = new Int32Array(go);
  const workers = parts.map((net) => new Worker(new URL(import.meta.url), { workerData: { kind: 'free-thread', net: net.spec, go, ms, rounds } satisfies ThreadTask }));
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
