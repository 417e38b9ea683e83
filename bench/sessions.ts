// npm run bench:sessions [-- --json] [-- --streams 1,2,4,8,16] [-- --seconds S] [-- --rounds N] [-- --warmup S]
//   [-- --queue Q] [-- --session-queue Q] [-- --slack S]
// Many streams, fresh input every frame: all frames/s of N streams served by one runtime
// (N sessions, batched engine frames), by N separate runtimes (each with its own workers, as
// a service without sessions would need for isolated states), and by onnxruntime-node running
// the same network at batch N on every core (frames/s = N x runs/s), beside the ceiling of
// the kernels themselves: one plain thread per core, each computing every layer for its share
// of the streams with nothing to coordinate (free-threads.ts). Interleaved rounds in
// one process, medians, after each contender has run long enough to be at its steady speed
// (eight runtimes' sixteen threads take a second or more to get there on two cores; a short
// warm-up flattered the sessions by up to 1.3x).
import { availableParallelism, cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { benchArgs, benchFail, benchNumber, benchRounds } from './args.js';
import type { Network } from '../src/graph/network.js';
import { initParameters, type Parameters } from '../src/graph/parameters.js';
import { Runtime, type Session } from '../src/engine/runtime.js';
import { DEFAULT_QUEUE } from '../src/engine/runtime-options.js';
import { defaultBackend } from '../src/kernels/backends.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { carriedNodes, networkModel } from '../src/io/onnx-export.js';
import { statefulRun } from './onnx-carry.js';
import { inputsFor } from './engine-measures.js';
import { freeStreams } from './free-threads.js';
import { median } from './timing.js';

/** The queue of every runtime unless --queue says otherwise. */
const QUEUE = 16;

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

const USAGE = `usage: npm run bench:sessions [-- --json] [-- --streams LIST] [-- --seconds S] [-- --rounds N] [-- --warmup S]
       [-- --queue Q] [-- --session-queue Q] [-- --slack S]

Total frames/s of N streams with a new input every frame, on mnist-sr, conv-chain-4 and
densenet-12: one runtime serving N sessions, N separate runtimes, and onnxruntime-node at
batch N on all cores (mnist-sr's recurrent state is carried: each run is fed the last run's
h1 as an extra input, as stateful models are run in onnxruntime). Beside them, "kernels
only": one plain thread per core, each computing every layer for its share of the streams
(input copied in, outputs copied out) with no coordination, feeding or waiting: the most
any runtime could get from these kernels on this machine.
  --json         print {"rows": [{"net", "streams", "framesPerSec",
                 "separateRuntimesFramesPerSec", "onnxruntimeBatchFramesPerSec",
                 "kernelsOnlyFramesPerSec", ...}], ...} (also per row: the one runtime's
                 placement, the share of its stream frames its stream helper computed and,
                 where it has one, "withoutHelperFramesPerSec": the same runtime made with
                 streamHelper: false, in the same rounds; and each round's frames/s)
  --streams L    stream counts (default 1,2,4,8,16)
  --seconds S    time per measurement (default 0.4)
  --rounds N     interleaved rounds, the median is reported (default 5)
  --warmup S     seconds each contender runs before the rounds (default 1.5)
  --queue Q      every runtime's queue (frames in flight), the one runtime's and the separate
                 ones' alike (default ${QUEUE}, as in every earlier run; the runtime's own
                 default is ${DEFAULT_QUEUE})
  --session-queue Q, --slack S
                 ring depths of the one runtime (default: the runtime's, which depend on the
                 streams and the frames' size; see RuntimeOptions.sessionQueue)`;

/** Frames and frames/s of sessions of one runtime, each running free over its own frames. */
async function sessionsRate(sessions: readonly Session[], feeds: readonly Float32Array[][], seconds: number, name: string): Promise<{ frames: number; rate: number }> {
  let frames = 0;
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    sessions.map(async (s, i) => {
      const feed = function* (): Generator<Float32Array> {
        for (let j = 0; performance.now() < until; j++) yield feeds[i][j % feeds[i].length];
      };
      let sink = 0;
      for await (const frame of s.run(feed(), { views: true })) {
        sink += frame.output(name)[0];
        frames++;
      }
      return sink;
    }),
  );
  return { frames, rate: frames / ((performance.now() - t0) / 1000) };
}

/** Frames/s of separate runtimes, each running free over its own frames. */
async function runtimesRate(runtimes: readonly Runtime[], feeds: readonly Float32Array[][], seconds: number, name: string): Promise<number> {
  let frames = 0;
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    runtimes.map(async (rt, i) => {
      const feed = function* (): Generator<Float32Array> {
        for (let j = 0; performance.now() < until; j++) yield feeds[i][j % feeds[i].length];
      };
      let sink = 0;
      for await (const frame of rt.run(feed(), { views: true })) {
        sink += frame.output(name)[0];
        frames++;
      }
      return sink;
    }),
  );
  return frames / ((performance.now() - t0) / 1000);
}

/**
 * onnxruntime-node at batch `batch` on `threads` threads: frames/s = batch x runs/s. A
 * network with feedback runs with its state carried (see statefulRun).
 */
async function onnxRate(net: Network, params: Parameters, batch: number, threads: number, seconds: number, rounds: number, warmup: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(networkModel(net, params, { batch, carry: true }), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  try {
    const input = net.nodes[net.inputs[0]];
    const frames = inputsFor(net, 8, batch);
    const batches = frames.map((_, j) => {
      const x = new Float32Array(batch * input.size);
      for (let b = 0; b < batch; b++) x.set(frames[(j + b) % frames.length], b * input.size);
      return x;
    });
    const out = net.nodes[net.outputs[0]].name;
    const step = statefulRun(session, net, batch);
    const run = async (j: number): Promise<number> =>
      ((await step({ [input.name]: new ort.Tensor('float32', batches[j % batches.length].slice(), [batch, ...input.shape]) }))[out].data as Float32Array)[0];
    const warm = performance.now();
    for (let j = 0; j < 5 || performance.now() - warm < warmup * 1000; j++) await run(j);
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let runs = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) await run(runs++);
      rates.push((runs * batch) / ((performance.now() - t0) / 1000));
    }
    return rates;
  } finally {
    await session.release();
  }
}

interface Row {
  readonly net: string;
  readonly streams: number;
  readonly framesPerSec: number;
  readonly separateRuntimesFramesPerSec: number;
  readonly onnxruntimeBatchFramesPerSec: number;
  /** Threads with nothing to coordinate, one per core, each running every layer for its share of the streams. */
  readonly kernelsOnlyFramesPerSec: number;
  /** Engine frames per stream frame: 1/streams when every engine frame carried all streams. */
  readonly engineFramesPerFrame: number;
  readonly workers: number;
  /** The one runtime's node groups, one per worker (calibrated at create, so a run's may differ). */
  readonly placement: string[][];
  /** The share of the one runtime's stream frames its stream helper computed, or null when it has none. */
  readonly streamHelperShare: number | null;
  /**
   * Where the one runtime has a stream helper: the same runtime made with `streamHelper:
   * false`, in the same rounds (what the helper adds); null elsewhere.
   */
  readonly withoutHelperFramesPerSec: number | null;
  /** Each round's frames/s, the one runtime's and the separate runtimes' (the spread behind the medians). */
  readonly framesPerSecByRound: number[];
  readonly separateRuntimesFramesPerSecByRound: number[];
  readonly kernelsOnlyFramesPerSecByRound: number[];
  readonly withoutHelperFramesPerSecByRound: number[] | null;
}

async function main(): Promise<void> {
  const values = benchArgs(USAGE, {
    json: { type: 'boolean' },
    streams: { type: 'string' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    queue: { type: 'string' },
    'session-queue': { type: 'string' },
    slack: { type: 'string' },
  });
  const queue = benchNumber(values, 'queue', QUEUE, (n) => Number.isInteger(n) && n >= 1 && n <= 1024, 'a whole number from 1 to 1024', USAGE);
  const depths = {
    ...(values['session-queue'] === undefined
      ? {}
      : { sessionQueue: benchNumber(values, 'session-queue', 0, (n) => Number.isInteger(n) && n >= 1 && n <= queue, `a whole number from 1 to ${queue} (the queue)`, USAGE) }),
    ...(values.slack === undefined ? {} : { slack: benchNumber(values, 'slack', 0, (n) => Number.isInteger(n) && n >= 0 && n <= 64, 'a whole number from 0 to 64', USAGE) }),
  };
  const rounds = benchRounds(values, 5, USAGE);
  const warmup = benchNumber(values, 'warmup', 1.5, (n) => n >= 0 && n <= 60, 'seconds from 0 to 60', USAGE);
  const streamCounts = ((values.streams as string | undefined) ?? '1,2,4,8,16').split(',').map(Number);
  if (streamCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) benchFail('--streams must list whole numbers from 1 to 256', USAGE);
  const seconds = values.seconds === undefined ? 0.4 : Number(values.seconds);
  if (!(seconds > 0 && seconds <= 60)) benchFail('--seconds must be a number from 0 to 60', USAGE);
  const cores = availableParallelism();
  const rows: Row[] = [];
  /** Per net with feedback, the nodes onnxruntime's runs carry from one to the next. */
  const carries: Record<string, string[]> = {};
  for (const name of ['mnist-sr', 'conv-chain-4', 'densenet-12'] as const) {
    const net = await loadNetworkFile(example(name));
    const params = initParameters(net, { seed: 1, bias: 'uniform' });
    const carried = carriedNodes(net);
    if (carried.length > 0) carries[name] = carried.map((v) => net.nodes[v].name);
    const output = net.nodes[net.outputs[0]].name;
    for (const streams of streamCounts) {
      log(`${name}, ${streams} stream${streams > 1 ? 's' : ''}`);
      const feeds = Array.from({ length: streams }, (_, i) => inputsFor(net, 16, 100 + i));
      const rt = await Runtime.create(net, { params, streams, queue, ...depths });
      const sessions = await Promise.all(Array.from({ length: streams }, () => rt.open()));
      const separate = await Promise.all(Array.from({ length: streams }, () => Runtime.create(net, { params, queue })));
      // Where the one runtime has a stream helper, the same runtime without one beside it.
      const plain = rt.stats().streamHelper === null ? undefined : await Runtime.create(net, { params, streams, queue, ...depths, streamHelper: false });
      const plainSessions = plain === undefined ? undefined : await Promise.all(Array.from({ length: streams }, () => plain.open()));
      try {
        await sessionsRate(sessions, feeds, warmup, output);
        if (plainSessions !== undefined) await sessionsRate(plainSessions, feeds, warmup, output);
        await runtimesRate(separate, feeds, warmup, output);
        const ours: number[] = [];
        const theirs: number[] = [];
        const bare: number[] = [];
        const unhelped: number[] = [];
        const stats0 = rt.stats();
        const engine0 = stats0.engineFrames;
        let frames = 0;
        for (let r = 0; r < rounds; r++) {
          const run = await sessionsRate(sessions, feeds, seconds, output);
          ours.push(run.rate);
          frames += run.frames;
          theirs.push(await runtimesRate(separate, feeds, seconds, output));
          bare.push(await freeStreams(net, streams, cores, 1, seconds * 1000));
          if (plainSessions !== undefined) unhelped.push((await sessionsRate(plainSessions, feeds, seconds, output)).rate);
        }
        const stats1 = rt.stats();
        const engineFrames = stats1.engineFrames - engine0;
        const helped = stats1.streamHelper === null || stats0.streamHelper === null ? null : stats1.streamHelper.frames - stats0.streamHelper.frames;
        const led = stats1.perWorker[0].frames - stats0.perWorker[0].frames;
        const onnx = await onnxRate(net, params, streams, cores, seconds, rounds, warmup);
        rows.push({
          net: name,
          streams,
          framesPerSec: Math.round(median(ours)),
          separateRuntimesFramesPerSec: Math.round(median(theirs)),
          onnxruntimeBatchFramesPerSec: Math.round(median(onnx)),
          kernelsOnlyFramesPerSec: Math.round(median(bare)),
          engineFramesPerFrame: Number((engineFrames / frames).toFixed(3)),
          workers: rt.placement.workers,
          placement: rt.placement.nodesOf.map((nodes) => nodes.map((v) => net.nodes[v].name)),
          streamHelperShare: helped === null ? null : Number((helped / Math.max(1, helped + led)).toFixed(3)),
          withoutHelperFramesPerSec: plainSessions === undefined ? null : Math.round(median(unhelped)),
          framesPerSecByRound: ours.map(Math.round),
          separateRuntimesFramesPerSecByRound: theirs.map(Math.round),
          kernelsOnlyFramesPerSecByRound: bare.map(Math.round),
          withoutHelperFramesPerSecByRound: plainSessions === undefined ? null : unhelped.map(Math.round),
        });
      } finally {
        await Promise.all([rt.close(), ...separate.map((s) => s.close()), ...(plain === undefined ? [] : [plain.close()])]);
      }
    }
  }
  const doc = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores, backend: defaultBackend(), seconds, rounds, warmup, queue, ...depths, onnxruntimeCarries: carries, rows };
  if (values.json === true) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${doc.node} on ${doc.cpu}, ${cores} cores, ${doc.backend} kernels; total frames/s of all streams, new input every frame, medians of ${rounds} rounds\n\n`);
  process.stdout.write(
    `${'net'.padEnd(14)}${'streams'.padStart(8)}${'one runtime'.padStart(13)}${'separate'.padStart(10)}${'ORT batch'.padStart(11)}${'kernels only'.padStart(14)}${'no helper'.padStart(11)}${'vs separate'.padStart(13)}${'vs ORT'.padStart(8)}\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.net.padEnd(14)}${String(r.streams).padStart(8)}${String(r.framesPerSec).padStart(13)}${String(r.separateRuntimesFramesPerSec).padStart(10)}${String(r.onnxruntimeBatchFramesPerSec).padStart(11)}${String(r.kernelsOnlyFramesPerSec).padStart(14)}${String(r.withoutHelperFramesPerSec ?? '-').padStart(11)}${`${(r.framesPerSec / r.separateRuntimesFramesPerSec).toFixed(2)}x`.padStart(13)}${`${(r.framesPerSec / r.onnxruntimeBatchFramesPerSec).toFixed(2)}x`.padStart(8)}\n`,
    );
  }
  for (const [net, nodes] of Object.entries(carries)) process.stdout.write(`\nonnxruntime runs ${net} with ${nodes.join(', ')} carried: each run is fed the last run's values\n`);
}

await main();
