// npm run bench:latency [-- --json] [-- --seconds S] [-- --rates LIST]
// Arrival-to-outputs latency and CPU per frame of a sensor loop at fixed rates, on the default
// model and on conv-chain-4: the real-time loop (its own thread, clocked source), step() and
// the zero-copy API (nextInput/commit) called from a clock on the main thread, and
// onnxruntime-node called from the same clock as the peer. CPU is the whole process's
// (process.cpuUsage counts every thread) per frame. The floor row is a thread that does nothing
// but sleep until each deadline the way the loop does: what one precise wake-up costs here.
import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { benchArgs, benchFail, benchNumber } from './args.js';
import { DEFAULT_MODEL } from '../src/cli/run.js';
import type { Network } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { runRealtime } from '../src/engine/realtime.js';
import { Runtime } from '../src/engine/runtime.js';
import { fixedRate } from '../src/io/clock.js';
import type { SourceFrame } from '../src/io/frames.js';
import { mnistCamera } from '../src/io/mnist-camera.js';
import { convChain, inputsFor } from './engine-measures.js';
import { networkModel } from '../src/io/onnx-export.js';
import { statefulRun } from './onnx-carry.js';
import { percentile } from './timing.js';

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

interface Row {
  model: string;
  mode: string;
  rateHz: number;
  frames: number;
  latencyUs: { p50: number; p99: number; p999: number; max: number };
  deadlineMisses: number;
  cpuUsPerFrame: number;
  /** The real-time loop only: the engine's compute time per frame (µs, every worker's summed), from its own statistics. */
  computeUsPerFrame?: number;
}

const round = (x: number): number => Number(x.toFixed(1));
const latencies = (us: number[]): Row['latencyUs'] => ({ p50: round(percentile(us, 50)), p99: round(percentile(us, 99)), p999: round(percentile(us, 99.9)), max: round(Math.max(...us)) });

/** Calls `tick` at every deadline of a clock at `rateHz` (this thread's event loop), recording deadline-to-done latency and CPU. */
async function timerDriven(model: string, mode: string, rateHz: number, frames: number, tick: (i: number) => Promise<void>): Promise<Row> {
  for (let i = 0; i < 20; i++) await tick(i);
  const us: number[] = [];
  const cpu0 = process.cpuUsage();
  for await (const { index, deadline } of fixedRate(rateHz, { ticks: frames })) {
    await tick(index);
    us.push((performance.now() - deadline) * 1000);
  }
  const cpu = process.cpuUsage(cpu0);
  const period = 1e6 / rateHz;
  return { model, mode, rateHz, frames, latencyUs: latencies(us), deadlineMisses: us.filter((u) => u > period).length, cpuUsPerFrame: round((cpu.user + cpu.system) / frames) };
}

/** CPU per frame of a thread that only sleeps until each deadline (DeadlineSleeper with the loop's spin budget). */
async function floor(rateHz: number, frames: number): Promise<Row> {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    (async () => {
      const { DeadlineSleeper, spinBudget } = await import(workerData.sync);
      const { sharedNow } = await import(workerData.control);
      const { tightenTimerSlack } = await import(workerData.native);
      tightenTimerSlack();
      const s = new DeadlineSleeper();
      s.maxSpinMs = spinBudget(1000 / workerData.rateHz);
      const word = new Int32Array(new SharedArrayBuffer(4));
      const due = new Float64Array(1);
      const start = sharedNow() + 5;
      const late = [];
      const c0 = process.cpuUsage();
      for (let j = 0; j < workerData.frames; j++) {
        due[0] = start + (j * 1000) / workerData.rateHz;
        s.sleepUntil(word, 0, 0, due);
        late.push((sharedNow() - due[0]) * 1000);
      }
      const c = process.cpuUsage(c0);
      parentPort.postMessage({ late, cpu: (c.user + c.system) / workerData.frames });
    })();`;
  const url = (p: string): string => new URL(p, import.meta.url).href;
  const worker = new Worker(code, {
    eval: true,
    workerData: { rateHz, frames, sync: url('../src/engine/sync.js'), control: url('../src/engine/control.js'), native: url('../src/kernels/native/index.js') },
  });
  const { late, cpu } = await new Promise<{ late: number[]; cpu: number }>((resolve, reject) => worker.once('message', resolve).once('error', reject));
  await worker.terminate();
  return { model: '-', mode: 'floor: sleep until each deadline', rateHz, frames, latencyUs: latencies(late), deadlineMisses: 0, cpuUsPerFrame: round(cpu) };
}

/** onnxruntime-node on `net`, its feedback state carried from run to run (see statefulRun). */
async function onnxSession(net: Network, threads: number): Promise<{ run(x: Float32Array): Promise<void>; close(): Promise<void> }> {
  const model = networkModel(net, initParameters(net, { seed: 1 }), { carry: true });
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const input = net.nodes[net.inputs[0]];
  const dims = [1, ...input.shape];
  const step = statefulRun(session, net, 1);
  return {
    run: async (x) => void (await step({ [input.name]: new ort.Tensor('float32', x.slice(), dims) })),
    close: () => session.release(),
  };
}

interface Subject {
  readonly name: string;
  readonly rt: Runtime;
  readonly feed: readonly Float32Array[];
  /** The loop's source: the camera for the default model, the feed otherwise. */
  source(frames: number): { camera: { seed: number } } | Iterable<SourceFrame>;
  /** The network onnxruntime runs (its recurrent state carried between runs). */
  readonly peer: Network;
}

async function measure(subject: Subject, rates: readonly number[], seconds: number): Promise<Row[]> {
  const rows: Row[] = [];
  const { rt, feed, name } = subject;
  const input = rt.network.nodes[rt.network.inputs[0]].name;
  const cores = availableParallelism();
  const sessions = [await onnxSession(subject.peer, 1), ...(cores > 1 ? [await onnxSession(subject.peer, cores)] : [])];
  try {
    for (const rateHz of rates) {
      const frames = Math.max(100, Math.round(rateHz * seconds));
      log(`${name} at ${rateHz} Hz: ${frames} frames each`);
      const computed = (): { frames: number; us: number } => {
        const w = rt.stats().perWorker;
        return { frames: Math.max(...w.map((x) => x.frames)), us: w.reduce((a, x) => a + x.computeUs * x.frames, 0) };
      };
      const before = computed();
      const s = await runRealtime(rt, subject.source(frames), { rateHz, ticks: frames });
      const after = computed();
      const computeUsPerFrame = round((after.us - before.us) / Math.max(1, after.frames - before.frames));
      rows.push({
        model: name,
        mode: 'real-time loop (own thread)',
        rateHz,
        frames: s.ticks,
        latencyUs: { p50: round(s.latencyUs.p50), p99: round(s.latencyUs.p99), p999: round(s.latencyUs.p999), max: round(s.latencyUs.max) },
        deadlineMisses: s.deadlineMisses,
        cpuUsPerFrame: s.cpuUsPerFrame,
        computeUsPerFrame,
      });
      rows.push(await timerDriven(name, 'step() from a clock', rateHz, frames, async (i) => void (await rt.step(feed[i % feed.length]))));
      rows.push(
        await timerDriven(name, 'nextInput/commit from a clock', rateHz, frames, async (i) => {
          const slot = await rt.nextInput();
          slot.input(input).set(feed[i % feed.length]);
          (await slot.commit()).release();
        }),
      );
      for (const [j, session] of sessions.entries()) {
        rows.push(await timerDriven(name, `onnxruntime-node (${j === 0 ? 1 : cores} threads) from a clock`, rateHz, frames, (i) => session.run(feed[i % feed.length])));
      }
    }
  } finally {
    for (const session of sessions) await session.close();
  }
  return rows;
}

const USAGE = `usage: npm run bench:latency [-- --json] [-- --seconds S] [-- --rates LIST]

Latency from a frame's deadline to its outputs, and CPU per frame (the whole process), of
a sensor loop at fixed rates on the default model and on conv-chain-4: the real-time loop
(its own thread), step() and nextInput/commit from a clock on the main thread, and
onnxruntime-node from the same clock; plus the floor: a thread that only sleeps until each
deadline.
  --json          print one JSON document on stdout (progress goes to stderr)
  --seconds S     seconds per measurement (default 2)
  --rates LIST    comma-separated rates in Hz (default 100,500,2000)`;

async function main(): Promise<void> {
  const values = benchArgs(USAGE, { json: { type: 'boolean' }, seconds: { type: 'string' }, rates: { type: 'string' } });
  const seconds = benchNumber(values, 'seconds', 2, (n) => n > 0 && n <= 600, 'a number of seconds from 0 to 600', USAGE);
  const rates = typeof values.rates === 'string' ? values.rates.split(',').map(Number) : [100, 500, 2000];
  if (rates.some((r) => !(r > 0 && r <= 20_000))) benchFail(`--rates wants rates in Hz from 0 to 20000, got "${String(values.rates)}"`, USAGE);
  const rows: Row[] = [];
  for (const rateHz of rates) rows.push(await floor(rateHz, Math.max(100, Math.round(rateHz * seconds))));

  const rt = await Runtime.create(DEFAULT_MODEL);
  const camera = mnistCamera({ seed: 3 });
  const digits = Array.from({ length: 64 }, () => camera.next().value?.inputs as Float32Array);
  try {
    rows.push(...(await measure({ name: 'default (mnist-sr)', rt, feed: digits, source: () => ({ camera: { seed: 1 } }), peer: rt.network }, rates, seconds)));
  } finally {
    await rt.close();
  }
  const chain = convChain(4);
  const chainRt = await Runtime.create(chain, { params: initParameters(chain, { seed: 1 }) });
  const feed = inputsFor(chain, 64, 7);
  try {
    rows.push(
      ...(await measure(
        {
          name: 'conv-chain-4',
          rt: chainRt,
          feed,
          source: (frames) => Array.from({ length: frames }, (_, t) => ({ inputs: feed[t % feed.length], t })),
          peer: chain,
        },
        rates,
        seconds,
      )),
    );
  } finally {
    await chainRt.close();
  }
  const doc = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), seconds, rows };
  if (values.json === true) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${doc.node} on ${doc.cpu}, ${doc.cores} cores; latency from each frame's deadline to its outputs (µs), CPU of the whole process per frame (µs)\n`);
  process.stdout.write("  onnxruntime runs the default model with its recurrent state carried: each run is fed the last run's h1\n\n");
  process.stdout.write(
    `${'model'.padEnd(20)} ${'mode'.padEnd(42)} ${'Hz'.padStart(5)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'p99.9'.padStart(8)} ${'max'.padStart(8)} ${'misses'.padStart(7)} ${'CPU/frame'.padStart(10)} ${'compute'.padStart(8)}\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.model.padEnd(20)} ${r.mode.padEnd(42)} ${String(r.rateHz).padStart(5)} ${r.latencyUs.p50.toFixed(1).padStart(8)} ${r.latencyUs.p99.toFixed(1).padStart(8)} ${r.latencyUs.p999.toFixed(1).padStart(8)} ${r.latencyUs.max.toFixed(1).padStart(8)} ${String(r.deadlineMisses).padStart(7)} ${r.cpuUsPerFrame.toFixed(1).padStart(10)} ${(r.computeUsPerFrame === undefined ? '' : r.computeUsPerFrame.toFixed(1)).padStart(8)}\n`,
    );
  }
}

await main();
