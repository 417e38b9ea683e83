// npm run bench:engine [-- --json]
// The model-parallel engine against the same network and kernels run single-threaded node
// after node (the executor), in the same process, interleaved in rounds; plus the cost of
// the frame protocol itself, the placement heuristic against exhaustive search, and step
// latency.
import { availableParallelism, cpus } from 'node:os';
import { benchArgs, benchRounds } from './args.js';
import { initParameters } from '../src/graph/parameters.js';
import { exhaustiveBest } from '../src/engine/placement.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { Runtime } from '../src/engine/runtime.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { inputsFor, speedup, syncCost, type SpeedupRow } from './engine-measures.js';
import { median } from './timing.js';

const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** The balancing heuristic against exhaustive search on the same measured node costs. */
async function grouping(netName: string, workers: number, rounds: number): Promise<Record<string, unknown>> {
  const net = await loadNetworkFile(example(netName));
  const params = initParameters(net, { seed: 1 });
  const auto = await Runtime.create(net, { params, workers });
  const costs = auto.placement.costUs;
  const delays = auto.rollout.delays;
  const best = exhaustiveBest(net, delays, workers, costs);
  const names = (nodesOf: readonly (readonly number[])[]): string[][] => nodesOf.map((vs) => vs.map((v) => net.nodes[v].name));
  const exhaustive = await Runtime.create(net, { params, workers, placement: names(best.nodesOf) });
  try {
    const inputs = inputsFor(net, 32, 3);
    const fps = async (rt: Runtime, frames: number): Promise<number> => {
      const t0 = performance.now();
      for await (const result of rt.run(Array.from({ length: frames }, (_, i) => inputs[i % inputs.length]))) void result;
      return frames / ((performance.now() - t0) / 1000);
    };
    const a: number[] = [];
    const e: number[] = [];
    for (let r = 0; r < rounds; r++) {
      a.push(await fps(auto, 600));
      e.push(await fps(exhaustive, 600));
    }
    return {
      net: netName,
      workers,
      heuristic: { placement: names(auto.placement.nodesOf), predictedFrameUs: Number(auto.placement.predictedFrameUs.toFixed(1)), framesPerSec: Math.round(median(a)) },
      exhaustive: { placement: names(best.nodesOf), predictedFrameUs: Number(best.predictedFrameUs.toFixed(1)), framesPerSec: Math.round(median(e)) },
      predictedRatio: Number((auto.placement.predictedFrameUs / best.predictedFrameUs).toFixed(3)),
      measuredRatio: Number((median(e) / median(a)).toFixed(3)),
    };
  } finally {
    await Promise.all([auto.close(), exhaustive.close()]);
  }
}

/** Step latency (input handed in -> outputs read back) of back-to-back steps. */
async function latency(netName: string, workers: number, steps: number): Promise<{ p50: number; p99: number; max: number }> {
  const net = await loadNetworkFile(example(netName));
  const rt = await Runtime.create(net, { workers, params: initParameters(net, { seed: 1 }) });
  try {
    const inputs = inputsFor(net, 32, 5);
    for (let i = 0; i < steps; i++) await rt.step(inputs[i % inputs.length]);
    const { p50, p99, max } = rt.stats().latencyUs;
    return { p50, p99, max };
  } finally {
    await rt.close();
  }
}

const USAGE = `usage: npm run bench:engine [-- --json] [-- --rounds N]

Engine frames/s against the same kernels run single-threaded, the frame protocol's cost,
placement against exhaustive search, and step latency.
  --json       print one JSON document on stdout (progress goes to stderr)
  --rounds N   interleaved rounds per measurement, the median is reported (default 7)`;

async function main(): Promise<void> {
  const values = benchArgs(USAGE, { json: { type: 'boolean' }, rounds: { type: 'string' } });
  const rounds = benchRounds(values, 7, USAGE);
  const cores = availableParallelism();
  const syncUsPerFrame: { workers: number; nodes: number; mode: 'spin' | 'wait'; us: number }[] = [];
  for (const workers of [1, 2, 4]) {
    for (const mode of ['spin', 'wait'] as const) {
      // Spinning with more threads than cores only measures the scheduler; the engine never does it unless told to.
      if (mode === 'spin' && workers > cores) continue;
      log(`sync: ${workers} workers, ${mode}`);
      syncUsPerFrame.push({ workers, nodes: workers, mode, us: Number((await syncCost(workers, mode)).toFixed(2)) });
    }
  }
  const speed: SpeedupRow[] = [];
  for (const net of ['conv-chain-4', 'mnist-sr', 'densenet-12']) {
    for (const rollout of ['streaming', 'sequential'] as const) {
      log(`speedup: ${net} ${rollout}`);
      speed.push(...(await speedup(await loadNetworkFile(example(net)), rollout, [1, 2], rounds)));
    }
  }
  log('grouping: densenet-12 on 2 workers');
  const group = await grouping('densenet-12', 2, rounds);
  log('latency: mnist-sr, 2 workers');
  const latencyUs = await latency('mnist-sr', 2, 3000);
  const doc = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores, backend: defaultBackend(), syncUsPerFrame, speedup: speed, grouping: group, latencyUs };
  if (values.json === true) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${doc.node} on ${doc.cpu}, ${cores} cores\n\nframe protocol alone (free-running, nodes that copy one number):\n`);
  for (const s of syncUsPerFrame) process.stdout.write(`  ${s.workers} worker(s), ${s.mode}: ${s.us} µs/frame\n`);
  process.stdout.write('\nspeedup over the same kernels single-threaded (frames/s; run: new input each frame, repeat: held input):\n');
  for (const s of speed) {
    process.stdout.write(
      `  ${s.net.padEnd(13)} ${s.rollout.padEnd(10)} ${s.mode.padEnd(6)} ${s.workers} worker(s): ${String(s.framesPerSec).padStart(7)} vs ${String(s.baselineFramesPerSec).padStart(7)}  ${s.ratio.toFixed(2)}x  main thread ${s.mainThreadUs} µs/frame  ${JSON.stringify(s.placement)}\n`,
    );
  }
  process.stdout.write(`\ngrouping ${JSON.stringify(group)}\n\nstep latency, mnist-sr on 2 workers: p50 ${latencyUs.p50} µs, p99 ${latencyUs.p99} µs, max ${latencyUs.max} µs\n`);
}

await main();
