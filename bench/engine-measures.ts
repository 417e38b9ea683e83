// Engine measurements shared by bench:engine and bench:scaling: the frame protocol's own cost
// and frames/s of the engine against the same kernels run single-threaded.
import type { Network } from '../src/graph/network.js';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters, type Parameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { Runtime, type RuntimeOptions } from '../src/engine/runtime.js';
import { Random } from '../src/util/random.js';
import { median } from './timing.js';

/** `layers` equal 3x3 convolutions over 16 channels of 32x32, each followed by ReLU. */
export function convChain(layers: number): Network {
  const names = Array.from({ length: layers }, (_, i) => `c${i + 1}`);
  return validateNetwork({
    name: `conv-chain-${layers}`,
    nodes: [{ name: 'image', shape: [16, 32, 32] }, ...names.map((name) => ({ name, shape: [16, 32, 32] as [number, number, number], activation: 'relu' as const }))],
    edges: names.map((to, i) => ({ from: i === 0 ? 'image' : names[i - 1], to, op: { type: 'conv2d' as const, kernel: 3, padding: 'same' as const } })),
    outputs: [names[layers - 1]],
  });
}

export function inputsFor(net: Network, count: number, seed: number): Float32Array[] {
  const rng = new Random(seed);
  const input = net.nodes[net.inputs[0]];
  return Array.from({ length: count }, () => Float32Array.from({ length: input.size }, () => rng.uniform(0, 1)));
}

/**
 * The frame protocol alone: `workers` nodes that copy one number around a ring (each reads
 * the previous frame of the one before it, the first also the input), one node per worker,
 * running free with queued input. Every worker depends on another every frame, so this is
 * the cost of keeping workers in step.
 */
export async function syncCost(workers: number, mode: 'spin' | 'wait'): Promise<number> {
  const names = Array.from({ length: workers }, (_, i) => `n${i}`);
  const net = validateNetwork({
    name: `sync-${workers}`,
    nodes: [{ name: 'x', shape: [1] }, ...names.map((name) => ({ name, shape: [1] as [number] }))],
    edges: [
      { from: 'x', to: 'n0', op: { type: 'identity' as const } },
      ...names.map((name, i) => ({ from: name, to: names[(i + 1) % workers], op: { type: 'identity' as const }, ...(workers === 1 ? { name: 'loop' } : {}) })),
    ],
    outputs: ['n0'],
  });
  const rt = await Runtime.create(net, { workers, sync: mode, queue: 256, calibrate: false, placement: 'one-per-layer' });
  try {
    const x = Float32Array.of(1);
    const frames = mode === 'spin' ? 20_000 : 4_000;
    await rt.repeat(x, 1000);
    const samples: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      await rt.repeat(x, frames);
      samples.push(((performance.now() - t0) * 1000) / frames);
    }
    return median(samples);
  } finally {
    await rt.close();
  }
}

export interface SpeedupRow {
  net: string;
  rollout: 'streaming' | 'sequential';
  /**
   * `run`: a new input every frame, outputs of every frame copied out (free-running run());
   * `views`: the same with outputs read as views into the arena (run({views: true}), the
   * zero-copy path); `repeat`: one held input, last outputs only.
   */
  mode: 'run' | 'views' | 'repeat';
  workers: number;
  framesPerSec: number;
  baselineFramesPerSec: number;
  ratio: number;
  placement: string[][];
  predictedFrameUs: number;
  sync: 'spin' | 'wait';
  /**
   * Per worker, its mean compute time per frame (µs) over every frame it ran (both modes): a
   * frame period well above the largest means the workers wait for each other.
   */
  computeUs: number[];
  /** The main thread's busy time per frame (µs, event loop active), feeding frames and reading outputs. */
  mainThreadUs: number;
}

/**
 * Frames per second of the engine and of the executor (the same kernels single-threaded,
 * node after node), interleaved in rounds, for both kinds of input: a new frame each tick
 * (engine run(), with copies or views, against executor step()) and a held frame (repeat()
 * against repeat()).
 */
export async function speedup(
  net: Network,
  rollout: 'streaming' | 'sequential',
  workerCounts: readonly number[],
  rounds: number,
  engineOptions: Pick<RuntimeOptions, 'sync' | 'slack'> = {},
): Promise<SpeedupRow[]> {
  const params: Parameters = initParameters(net, { seed: 1 });
  const inputs = inputsFor(net, 64, 7);
  // The same kernels as the runtimes (the fastest backend here).
  const baseline = new ReferenceExecutor(net, rollout, params, { backend: defaultBackend() });
  // Size batches to ~150 ms of single-threaded work.
  let t0 = performance.now();
  for (let i = 0; i < 20; i++) baseline.step(inputs[i % inputs.length]);
  const frames = Math.max(50, Math.round(150_000 / (((performance.now() - t0) * 1000) / 20)));
  const feed = Array.from({ length: frames }, (_, i) => inputs[i % inputs.length]);
  // One after another: runtimes calibrating their kernels at once would skew each other's costs.
  const runtimes: Runtime[] = [];
  for (const workers of workerCounts) runtimes.push(await Runtime.create(net, { rollout, params, workers, queue: 32, ...engineOptions } satisfies RuntimeOptions));
  const fps = (ms: number): number => frames / (ms / 1000);
  try {
    const base = { run: [] as number[], views: [] as number[], repeat: [] as number[] };
    const engine = workerCounts.map(() => ({ run: [] as number[], views: [] as number[], repeat: [] as number[] }));
    const mainUs = workerCounts.map(() => ({ run: [] as number[], views: [] as number[], repeat: [] as number[] }));
    // Frames/s of one timed phase, and the main thread's busy µs per frame during it.
    const timed = async (j: number, mode: 'run' | 'views' | 'repeat', phase: () => Promise<void>): Promise<void> => {
      const busy0 = performance.eventLoopUtilization();
      const start = performance.now();
      await phase();
      engine[j][mode].push(fps(performance.now() - start));
      mainUs[j][mode].push((performance.eventLoopUtilization(busy0).active * 1000) / frames);
    };
    for (let r = 0; r < rounds; r++) {
      t0 = performance.now();
      for (const x of feed) baseline.step(x);
      base.run.push(fps(performance.now() - t0));
      // The executor has no copies to save: its fresh-input speed is the baseline of both.
      base.views.push(base.run[base.run.length - 1]);
      t0 = performance.now();
      baseline.repeat(inputs[0], frames);
      base.repeat.push(fps(performance.now() - t0));
      for (const [j, rt] of runtimes.entries()) {
        await timed(j, 'run', async () => {
          for await (const result of rt.run(feed)) void result;
        });
        await timed(j, 'views', async () => {
          for await (const frame of rt.run(feed, { views: true })) void frame;
        });
        await timed(j, 'repeat', async () => void (await rt.repeat(inputs[0], frames)));
      }
    }
    return (['run', 'views', 'repeat'] as const).flatMap((mode) =>
      runtimes.map((rt, j) => {
        const f = median(engine[j][mode]);
        const b = median(base[mode]);
        const stats = rt.stats();
        return {
          net: net.name,
          rollout,
          mode,
          workers: rt.placement.workers,
          framesPerSec: Math.round(f),
          baselineFramesPerSec: Math.round(b),
          ratio: Number((f / b).toFixed(3)),
          placement: rt.placement.nodesOf.map((vs) => vs.map((v) => net.nodes[v].name)),
          predictedFrameUs: Number(rt.placement.predictedFrameUs.toFixed(1)),
          sync: stats.sync,
          computeUs: stats.perWorker.map((w) => Number(w.computeUs.toFixed(1))),
          mainThreadUs: Number(median(mainUs[j][mode]).toFixed(1)),
        };
      }),
    );
  } finally {
    await Promise.all(runtimes.map((rt) => rt.close()));
  }
}
