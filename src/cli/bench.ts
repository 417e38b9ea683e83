import { writeFile } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import type { Network } from '../graph/network.js';
import { loadSource } from '../engine/model-source.js';
import type { Parameters } from '../graph/parameters.js';
import { ReferenceExecutor } from '../engine/reference-executor.js';
import { defaultBackend } from '../kernels/backends.js';
import { Runtime } from '../engine/runtime.js';
import { mnistCamera } from '../io/mnist-camera.js';
import { mnistSplit } from '../io/mnist-data.js';
import { heldDigitAccuracy, paperClock } from '../train/evaluate.js';
import { percentile } from '../util/stats.js';
import { loadRollout } from '../io/spec-file.js';
import type { Rollout } from '../rollout/pattern.js';
import { Random, shuffled } from '../util/random.js';
import { lineChart } from './charts.js';
import { numberOption } from './args.js';
import { UsageError, type CliIo, type Command } from './command.js';
import { cliLogger } from './logger.js';
import { DEFAULT_MODEL } from './run.js';

const HELP = `Usage: streamroll bench [MODEL.srm|NET.json|MODEL.onnx|model.json] [options]

Benchmarks a network on the model-parallel engine: frames per second (free-running),
latency percentiles and placement for each rollout and worker count, and the speedup over
the same kernels run single-threaded in the sequential rollout. For a network fed by MNIST
frames (one [1,28,28] input) it also measures accuracy against update steps per rollout on
the synthetic camera (a digit held for 10 noisy frames from a reset state).

Options:
  --workers LIST     worker counts, e.g. 1,2,4 (default 1,2)
  --rollout LIST     rollouts, e.g. streaming,sequential (default); PATTERN.json allowed
  --frames N         frames per configuration (default 2000)
  --sequences N      labelled sequences for the accuracy curve (default 100)
  --seed N           seed of random weights and inputs (default 1)
  --html FILE        write a self-contained report page with charts
  --json             print one JSON document on stdout
  --log-level L      default warn
  -h, --help         show this help`;

/** One configuration's measurements. */
export interface BenchRow {
  readonly rollout: string;
  readonly workers: number;
  readonly framesPerSec: number;
  /** Over single-threaded sequential, the same kernels. */
  readonly speedup: number;
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly placement: string[][];
  readonly predictedFrameUs: number;
}

/** Accuracy of output frame k of a sequence, placed on the paper's clock. */
export interface AccuracyPoint {
  readonly tick: number;
  readonly updateSteps: number;
  readonly accuracy: number;
}

function list(value: string | boolean | undefined, fallback: string[]): string[] {
  if (typeof value !== 'string') return fallback;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function inputFrames(net: Network, count: number, seed: number): Float32Array[] {
  const input = net.nodes[net.inputs[0]];
  if (net.inputs.length === 1 && input.size === 784) return [...mnistCamera({ seed, frames: count })].map((f) => f.inputs as Float32Array);
  const rng = new Random(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: input.size }, () => rng.uniform(0, 1)));
}

/** Accuracy by frame of held-digit sequences from a reset state, on the paper's clock. */
async function accuracyCurve(rt: Runtime, rollout: Rollout, sequences: number, seed: number): Promise<AccuracyPoint[]> {
  const { stepOf } = paperClock(rt.network, rollout.delays);
  const digits = shuffled(mnistSplit().test, seed).slice(0, sequences);
  const accuracy = await heldDigitAccuracy(rt, digits, { frames: 10, noiseStd: 2.0, rng: new Random(seed) });
  return accuracy.map((x, k) => ({ tick: k + 1, updateSteps: stepOf(k + 1), accuracy: x }));
}

function htmlReport(title: string, rows: readonly BenchRow[], curves: Record<string, AccuracyPoint[]> | null, meta: Record<string, string>): string {
  const byRollout = [...new Set(rows.map((r) => r.rollout))];
  const charts = [
    lineChart(
      'Throughput',
      'workers',
      'frames / s',
      byRollout.map((name) => ({ name, points: rows.filter((r) => r.rollout === name).map((r) => [r.workers, r.framesPerSec] as const) })),
      { xMin: 1 },
    ),
    lineChart(
      'Latency p99',
      'workers',
      'µs',
      byRollout.map((name) => ({ name, points: rows.filter((r) => r.rollout === name).map((r) => [r.workers, r.latencyUs.p99] as const) })),
      { xMin: 1 },
    ),
  ];
  if (curves !== null) {
    charts.push(
      lineChart(
        'Accuracy against update steps',
        'update steps',
        'accuracy',
        Object.entries(curves).map(([name, pts]) => ({ name, points: pts.map((p) => [p.updateSteps, p.accuracy] as const) })),
        { yMin: 0, yMax: 1 },
      ),
    );
  }
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const table = rows
    .map(
      (r) =>
        `<tr><td>${esc(r.rollout)}</td><td>${r.workers}</td><td>${r.framesPerSec}</td><td>${r.speedup.toFixed(2)}x</td><td>${r.latencyUs.p50.toFixed(0)}</td><td>${r.latencyUs.p99.toFixed(0)}</td><td>${esc(JSON.stringify(r.placement))}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:16px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}.charts{display:flex;flex-wrap:wrap;gap:16px}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>${Object.entries(meta)
    .map(([k, v]) => `<b>${esc(k)}</b>: ${esc(v)}`)
    .join(' &middot; ')}</p>
<table><tr><th>rollout</th><th>workers</th><th>frames/s</th><th>speedup</th><th>p50 µs</th><th>p99 µs</th><th>placement</th></tr>
${table}</table>
<div class="charts">${charts.join('\n')}</div>
</body></html>
`;
}

/** `streamroll bench`: the benchmark harness over the engine. */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'frames/s, latency and speedup of a network per rollout and worker count',
  help: HELP,
  options: {
    workers: { type: 'string' },
    rollout: { type: 'string' },
    frames: { type: 'string' },
    sequences: { type: 'string' },
    seed: { type: 'string' },
    html: { type: 'string' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  async run(positionals: string[], values, io: CliIo): Promise<number> {
    if (positionals.length > 1) throw new UsageError(`bench takes at most one model, got ${positionals.join(' ')}`);
    const int = (name: string, fallback: number, min: number): number => numberOption(values, name, fallback, (n) => Number.isInteger(n) && n >= min, `an integer >= ${min}`);
    const frames = int('frames', 2000, 10);
    const sequences = int('sequences', 100, 1);
    const seed = int('seed', 1, 0);
    const workerCounts = list(values.workers, ['1', '2']).map((w) => {
      const n = Number(w);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--workers takes a list of integers >= 1, got "${w}"`);
      return n;
    });
    const rolloutArgs = list(values.rollout, ['streaming', 'sequential']);
    const logger = cliLogger((values['log-level'] as string | undefined) ?? 'warn');
    const modelArg = positionals[0] ?? DEFAULT_MODEL;
    const loaded = await loadSource(modelArg, { seed });
    const net = loaded.network;
    const params: Parameters = loaded.params;
    const inputs = inputFrames(net, Math.min(frames, 512), seed);
    const feed = Array.from({ length: frames }, (_, i) => inputs[i % inputs.length]);
    const labelled = net.inputs.length === 1 && net.nodes[net.inputs[0]].size === 784;
    const total = frames * (1 + rolloutArgs.length * workerCounts.length) + (labelled ? rolloutArgs.length * sequences * 10 : 0);
    const bar = new SingleBar({ stream: process.stderr, format: 'bench [{bar}] {percentage}% | {task}', hideCursor: true, clearOnComplete: true, noTTYOutput: false });
    bar.start(total, 0, { task: 'single-threaded sequential baseline' });
    const rows: BenchRow[] = [];
    const curves: Record<string, AccuracyPoint[]> = {};
    try {
      const baseline = new ReferenceExecutor(net, 'sequential', params, { backend: defaultBackend() });
      let t0 = performance.now();
      for (const x of feed) baseline.step(x);
      const baselineFps = frames / ((performance.now() - t0) / 1000);
      bar.increment(frames);
      for (const rolloutArg of rolloutArgs) {
        const rollout = await loadRollout(net, rolloutArg);
        for (const workers of workerCounts) {
          bar.update({ task: `${rolloutArg}, ${workers} worker(s)` });
          const rt = await Runtime.create(net, { rollout, params, workers, logger });
          try {
            const latencies: number[] = [];
            t0 = performance.now();
            for await (const r of rt.run(feed)) {
              latencies.push(r.latencyUs);
              if (r.tick % 100 === 0) bar.increment(100);
            }
            const fps = frames / ((performance.now() - t0) / 1000);
            latencies.sort((a, b) => a - b);
            rows.push({
              rollout: rolloutArg,
              workers: rt.placement.workers,
              framesPerSec: Math.round(fps),
              speedup: Number((fps / baselineFps).toFixed(3)),
              latencyUs: { p50: Number(percentile(latencies, 50).toFixed(1)), p99: Number(percentile(latencies, 99).toFixed(1)), max: Number(latencies[latencies.length - 1].toFixed(1)) },
              placement: rt.placement.nodesOf.map((vs) => vs.map((v) => net.nodes[v].name)),
              predictedFrameUs: Number(rt.placement.predictedFrameUs.toFixed(1)),
            });
            bar.increment(frames % 100);
            if (labelled && workers === workerCounts[workerCounts.length - 1]) {
              bar.update({ task: `${rolloutArg}: accuracy against update steps` });
              curves[rolloutArg] = await accuracyCurve(rt, rollout, sequences, seed + 7);
              bar.increment(sequences * 10);
            }
          } finally {
            await rt.close();
          }
        }
      }
      bar.stop();
      const doc = {
        model: modelArg,
        weights: loaded.weights,
        frames,
        baselineFramesPerSec: Math.round(baselineFps),
        results: rows,
        accuracy: labelled ? curves : null,
      };
      if (typeof values.html === 'string') {
        const page = htmlReport(`streamroll bench: ${net.name}`, rows, labelled ? curves : null, {
          model: modelArg,
          weights: loaded.weights,
          frames: String(frames),
          'single-threaded sequential baseline': `${Math.round(baselineFps)} frames/s`,
          node: process.version,
        });
        await writeFile(values.html, page);
      }
      if (values.json === true) {
        io.out(JSON.stringify(doc, null, 2) + '\n');
      } else {
        io.out(`${net.name} (${loaded.weights} weights), ${frames} frames per configuration; baseline single-threaded sequential: ${doc.baselineFramesPerSec} frames/s\n`);
        for (const r of rows)
          io.out(
            `  ${r.rollout.padEnd(12)} ${String(r.workers).padStart(2)} worker(s)  ${String(r.framesPerSec).padStart(7)} frames/s  ${r.speedup.toFixed(2)}x  p50 ${r.latencyUs.p50} µs  p99 ${r.latencyUs.p99} µs  ${JSON.stringify(r.placement)}\n`,
          );
        for (const [name, pts] of Object.entries(curves)) io.out(`  accuracy ${name}: ${pts.map((p) => `${p.updateSteps}:${(100 * p.accuracy).toFixed(0)}%`).join(' ')}\n`);
        if (typeof values.html === 'string') io.out(`wrote ${values.html}\n`);
      }
      return 0;
    } finally {
      bar.stop();
    }
  },
};
