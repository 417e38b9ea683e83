// npm run bench:scaling [-- --json] [-- --workers 1,2,4] [-- --layers N] [-- --rounds N] [-- --sync MODE] [-- --slack N]
// How the engine scales with workers: a chain of equal 3x3 convolutions (one layer per worker
// at most), frames/s against the same kernels run single-threaded in the same process, from 1
// worker up to this machine's cores; the frame protocol alone at each worker count; and the
// machine's own ceiling: the same layers split over as many plain threads that never wait.
import { availableParallelism, cpus } from 'node:os';
import { benchArgs, benchFail, benchNumber, benchRounds } from './args.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { RING_SLACK } from '../src/engine/placement.js';
import { convChain, speedup, syncCost, type SpeedupRow } from './engine-measures.js';
import { freeThreads } from './free-threads.js';

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** 1, 2, 4, ... up to `limit`, and `limit` itself. */
function defaultCounts(limit: number): number[] {
  const counts: number[] = [];
  for (let w = 1; w < limit; w *= 2) counts.push(w);
  counts.push(limit);
  return counts;
}

const USAGE = `usage: npm run bench:scaling [-- --json] [-- --workers LIST] [-- --layers N] [-- --rounds N] [-- --sync MODE] [-- --slack N]

Frames/s of a chain of equal convolutions on 1..N workers against the same kernels run
single-threaded, the frame protocol's cost per frame at each worker count, and the machine's
ceiling (the same layers split over as many plain threads that never wait).
  --json          print one JSON document on stdout (progress goes to stderr)
  --workers LIST  comma-separated worker counts (default 1, 2, 4, ... up to the cores, at
                  most one per layer)
  --layers N      layers in the chain (default 16)
  --rounds N      interleaved rounds per measurement, the median is reported (default 5)
  --sync MODE     how engine workers wait for each other: auto (spin while there are no
                  more workers than cores, the default), spin or wait
  --slack N       ring slots per node beyond what the delays need (default ${RING_SLACK}): how far
                  a worker may run ahead of its consumers`;

async function main(): Promise<void> {
  const values = benchArgs(USAGE, {
    json: { type: 'boolean' },
    workers: { type: 'string' },
    layers: { type: 'string' },
    rounds: { type: 'string' },
    sync: { type: 'string' },
    slack: { type: 'string' },
  });
  const sync = values.sync ?? 'auto';
  if (sync !== 'auto' && sync !== 'spin' && sync !== 'wait') benchFail(`--sync wants auto, spin or wait, got "${String(sync)}"`, USAGE);
  const slack = benchNumber(values, 'slack', RING_SLACK, (n) => Number.isInteger(n) && n >= 0 && n <= 64, 'a whole number of ring slots from 0 to 64', USAGE);
  const layers = benchNumber(values, 'layers', 16, (n) => Number.isInteger(n) && n >= 1 && n <= 256, 'a whole number of layers from 1 to 256', USAGE);
  const rounds = benchRounds(values, 5, USAGE);
  const cores = availableParallelism();
  let counts = defaultCounts(Math.min(cores, layers));
  if (typeof values.workers === 'string') {
    counts = values.workers.split(',').map((s) => Number(s.trim()));
    const bad = counts.find((n) => !Number.isInteger(n) || n < 1 || n > layers);
    if (bad !== undefined || counts.length === 0) benchFail(`--workers wants whole numbers from 1 to the layer count (${layers}), got "${values.workers}"`, USAGE);
  }
  const net = convChain(layers);
  const syncUsPerFrame: { workers: number; mode: 'spin' | 'wait'; us: number }[] = [];
  for (const workers of counts) {
    for (const mode of ['spin', 'wait'] as const) {
      // Spinning with more threads than cores only measures the scheduler; the engine never does it unless told to.
      if (mode === 'spin' && workers > cores) continue;
      log(`sync: ${workers} workers, ${mode}`);
      syncUsPerFrame.push({ workers, mode, us: Number((await syncCost(workers, mode)).toFixed(2)) });
    }
  }
  const scaling: SpeedupRow[] = [];
  for (const rollout of ['streaming', 'sequential'] as const) {
    log(`speedup: ${net.name} ${rollout} on ${counts.join(', ')} workers`);
    scaling.push(...(await speedup(net, rollout, counts, rounds, { sync, slack })));
  }
  const single = (await freeThreads([net], rounds))[0];
  const ceiling: { workers: number; framesPerSec: number; ratio: number }[] = [];
  for (const workers of counts) {
    log(`ceiling: ${workers} free threads`);
    // Thread i gets layers i*L/N .. (i+1)*L/N - 1, as balanced as whole layers allow.
    const parts = Array.from({ length: workers }, (_, i) => convChain(Math.floor(((i + 1) * layers) / workers) - Math.floor((i * layers) / workers)));
    const fps = Math.min(...(await freeThreads(parts, rounds)));
    ceiling.push({ workers, framesPerSec: Math.round(fps), ratio: Number((fps / single).toFixed(3)) });
  }
  // The yardstick for the frame path: fresh input against a held one, same run.
  const freshVsHeld = scaling
    .filter((s) => s.mode === 'repeat')
    .map((held) => {
      const of = (mode: 'run' | 'views'): number => {
        const row = scaling.find((s) => s.mode === mode && s.rollout === held.rollout && s.workers === held.workers);
        return row === undefined ? 0 : Number((row.framesPerSec / held.framesPerSec).toFixed(3));
      };
      return { rollout: held.rollout, workers: held.workers, run: of('run'), views: of('views') };
    });
  const doc = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores, backend: defaultBackend(), net: net.name, slack, syncUsPerFrame, scaling, freshVsHeld, ceiling };
  if (values.json === true) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${doc.node} on ${doc.cpu}, ${cores} cores, ${doc.backend} kernels\n\nframe protocol alone (µs/frame, a ring of one-number nodes, one per worker):\n`);
  for (const s of syncUsPerFrame) process.stdout.write(`  ${String(s.workers).padStart(3)} worker(s), ${s.mode}: ${s.us}\n`);
  process.stdout.write(
    `\n${net.name}, ring slack ${slack}: frames/s against the same kernels single-threaded (run: new input each frame, views: the same with outputs as views, repeat: held input)\n`,
  );
  for (const s of scaling) {
    const busiest = Math.max(...s.computeUs);
    process.stdout.write(
      `  ${s.rollout.padEnd(10)} ${s.mode.padEnd(6)} ${String(s.workers).padStart(3)} worker(s), ${s.sync}: ${String(s.framesPerSec).padStart(7)} vs ${String(s.baselineFramesPerSec).padStart(6)}  ${s.ratio.toFixed(2)}x  (busiest worker computes ${busiest} µs of a ${(1e6 / s.framesPerSec).toFixed(1)} µs frame; main thread busy ${s.mainThreadUs} µs)\n`,
    );
  }
  process.stdout.write('\nfresh input against a held one (frames/s of run and of run with views, over repeat):\n');
  for (const f of freshVsHeld) process.stdout.write(`  ${f.rollout.padEnd(10)} ${String(f.workers).padStart(3)} worker(s): run ${f.run.toFixed(2)}x  views ${f.views.toFixed(2)}x\n`);
  process.stdout.write('\nceiling: the layers split over as many plain threads that never wait (slowest thread, against one thread with all layers)\n');
  for (const c of ceiling) process.stdout.write(`  ${String(c.workers).padStart(3)} thread(s): ${String(c.framesPerSec).padStart(7)} frames/s  ${c.ratio.toFixed(2)}x\n`);
}

await main();
