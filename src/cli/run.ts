import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Network } from '../graph/network.js';
import { runRealtime, type OverrunPolicy, type RealtimeSink, type RealtimeSource, type RealtimeSummary } from '../engine/realtime.js';
import { loadSource } from '../engine/model-source.js';
import { Runtime } from '../engine/runtime.js';
import { readMessages, toSourceFrame, MessageError } from '../io/frame-stream.js';
import type { SourceFrame } from '../io/frames.js';
import { loadRollout } from '../io/spec-file.js';
import { isLoopback, serveFrames } from '../engine/serve-frames.js';
import { responseDelays } from '../rollout/response.js';
import type { Logger } from 'pino';
import { tcpAddress } from './args.js';
import { UsageError, type CliIo, type Command } from './command.js';
import { numberOption } from './args.js';
import { cliLogger } from './logger.js';
import { LoopControl } from '../engine/loop-control.js';
import { serveUi, type UiServer } from '../ui/ui-server.js';

/**
 * The model `run` and `bench` use when given none: the trained MNIST SR streaming model
 * shipped in examples/ (its training command is in its metadata and the README), or the bare
 * spec with seeded random weights if the file is missing.
 */
export const DEFAULT_MODEL = existsSync(fileURLToPath(new URL('../../../examples/mnist-sr.srm', import.meta.url)))
  ? fileURLToPath(new URL('../../../examples/mnist-sr.srm', import.meta.url))
  : fileURLToPath(new URL('../../../examples/mnist-sr.json', import.meta.url));

const HELP = `Usage: streamroll run [MODEL.srm|NET.json|MODEL.onnx|model.json] [options]

Runs a network in real time: frames arrive at a fixed rate from a source, every tick is
computed by the model-parallel engine, and outputs go to a sink. The loop (clock, source,
engine, sinks) runs in a thread of its own, off the main thread's event loop. A status line
on stderr shows tick, frames/s, p99 latency, deadline misses, drops and accuracy (when the
source has labels). Ctrl-C (SIGINT) or SIGTERM stops cleanly and prints the summary.

MODEL may be a model imported on the fly (ONNX, or a TensorFlow.js model.json; see
streamroll import). Without MODEL it runs the default: the paper's MNIST SR network trained in the streaming
rollout (examples/mnist-sr.srm), on the synthetic camera.

Options:
  --rollout R        streaming (default; a model's own rollout for .srm or an import's
                     pipelined), sequential, pipelined (feedforward nets), PATTERN.json
  --rate HZ          frames per second (default 100); 'recorded' replays a recording at the
                     times it was recorded (each frame's t, ms)
  --duration S       seconds to run (default 10, with --ui 0; 0 = until the source ends or
                     Ctrl-C); counted in frames at the starting rate
  --source S         synthetic (default: MNIST digits with noise, 10 frames each, labelled)
                     | stdin | FILE.msgpack (a recording, replayed at --rate)
                     | tcp://HOST:PORT (serve frames over TCP from a thread of its own,
                       127.0.0.1 for local only; each frame is answered on its connection;
                       each connection is a session with states of its own, or joins the
                       one its messages name in a "session" field)
  --streams N        with --source tcp://: connections served at once, each with its own
                     states (default 8); frames arriving together share engine frames
  --listen-public    with --source tcp:// or --ui: allow an address other machines can reach
                     (0.0.0.0, a LAN address); without it only loopback is served
  --token T          with --source tcp://: every message must carry "token": T; with --ui:
                     the page's address must carry ?token=T (the address printed has it)
  --ui [HOST:]PORT   serve a live view in the browser (http://HOST:PORT/, 127.0.0.1 unless
                     HOST is given; port 0 picks a free one): every node's state, the rollout
                     window, per-worker timing, latency histogram, accuracy over time, and
                     pause / step / rate buttons. GET /state and GET /events (server-sent
                     events) serve the same data to other tools; see docs/ui.md
  --ui-refresh HZ    updates per second sent to the page (default 10, at most 60)
  --sink S           none (default) | stdout | tcp://HOST:PORT (connects to a listener)
                     | FILE.msgpack: outputs as length-prefixed msgpack messages
                     {t, tick, outputs: {node: Float32Array}}
  --record FILE      also write every input frame to FILE (replay it with --source FILE)
  --overrun P        drop | latest | queue: what to do with frames that arrive while the
                     previous one is still being computed. Default: queue for a recording
                     (a replay computes every frame, late ones late, so its outputs are
                     exact), drop for live sources
  --workers N        worker threads (default: as many as pay off, at most one per layer and
                     per core)
  --noise-std X      noise of the synthetic camera (default 2.0, as in the paper)
  --seed N           seed of random weights and of the synthetic camera (default 1)
  --log-level L      fatal|error|warn|info|debug|trace|silent (default info)
  --json             print one summary document on stdout:
                     {"ticks","rateHz","latencyUs":{"p50","p99","p999","max"},"deadlineMisses",
                      "drops","accuracy","rejected","cpuUsPerFrame"} (rateHz null for recorded
                      timing; cpuUsPerFrame: CPU of the whole process per computed tick, µs)
  -h, --help         show this help

Exit code 1 when the run fails, when the input stream (stdin, a recording) ends on an
unreadable message (frames after it are lost), or when none of its messages could be used.`;

/** `--ui [HOST:]PORT`: loopback when only a port is given. */
function uiListen(arg: string): { host: string; port: number } {
  try {
    return tcpAddress(/^\d+$/.test(arg) ? `tcp://127.0.0.1:${arg}` : `tcp://${arg}`, '--ui');
  } catch {
    throw new UsageError(`--ui ${arg}: expected [HOST:]PORT, e.g. 8080, 127.0.0.1:8080 or [::1]:8080 (port 0 to 65535)`);
  }
}

/** Frames of a message stream, malformed ones logged, counted and skipped. */
async function* messageFrames(stream: NodeJS.ReadableStream, net: Network, logger: Logger, counters: { rejected: number; fatal?: string }): AsyncGenerator<SourceFrame> {
  let index = 0;
  for await (const message of readMessages(stream as import('node:stream').Readable)) {
    const frame = toSourceFrame(message, net, index++);
    if (frame instanceof MessageError) {
      counters.rejected++;
      logger.warn({ reason: frame.message }, 'input message rejected');
      if (frame.fatal) {
        counters.fatal = frame.message;
        return;
      }
      continue;
    }
    yield frame;
  }
}

function statusLine(s: RealtimeSummary, elapsedS: number): string {
  const fps = elapsedS > 0 ? s.ticks / elapsedS : 0;
  const acc = s.accuracy === null ? '' : `  accuracy ${(100 * s.accuracy).toFixed(1)}%`;
  return `tick ${s.ticks}  ${fps.toFixed(1)} fps  p99 ${(s.latencyUs.p99 / 1000).toFixed(2)} ms  misses ${s.deadlineMisses}  drops ${s.drops}${acc}`;
}

/** `streamroll run`: the real-time loop. */
export const runCommand: Command = {
  name: 'run',
  summary: 'run a model in real time from a sensor source at a fixed rate',
  help: HELP,
  options: {
    rollout: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    source: { type: 'string' },
    sink: { type: 'string' },
    record: { type: 'string' },
    overrun: { type: 'string' },
    workers: { type: 'string' },
    'noise-std': { type: 'string' },
    seed: { type: 'string' },
    'log-level': { type: 'string' },
    json: { type: 'boolean' },
    streams: { type: 'string' },
    'listen-public': { type: 'boolean' },
    token: { type: 'string' },
    ui: { type: 'string' },
    'ui-refresh': { type: 'string' },
  },
  async run(positionals: string[], values, io: CliIo): Promise<number> {
    if (positionals.length > 1) throw new UsageError(`run takes at most one model, got ${positionals.join(' ')}`);
    const recordedTiming = values.rate === 'recorded';
    const rate = recordedTiming ? 100 : numberOption(values, 'rate', 100, (n) => n > 0 && n <= 100_000, 'a rate in Hz (0 < HZ <= 100000) or "recorded"');
    const uiAddress = values.ui === undefined ? undefined : uiListen(values.ui as string);
    // A view is for watching: it runs until stopped unless told otherwise.
    const duration = numberOption(values, 'duration', uiAddress === undefined ? 10 : 0, (n) => n >= 0 && Number.isFinite(n), 'a number of seconds >= 0');
    if (values['ui-refresh'] !== undefined && uiAddress === undefined) throw new UsageError('--ui-refresh is for --ui');
    const uiRefresh = numberOption(values, 'ui-refresh', 10, (n) => n > 0 && n <= 60, 'a number of updates per second in (0, 60]');
    if (uiAddress !== undefined && !isLoopback(uiAddress.host) && values['listen-public'] !== true) {
      throw new UsageError(`--ui ${values.ui} would show the view to other machines: add --listen-public to mean it (and --token to require a shared secret), or use 127.0.0.1`);
    }
    const seed = numberOption(values, 'seed', 1, Number.isInteger, 'an integer');
    const noiseStd = numberOption(values, 'noise-std', 2.0, (n) => n >= 0 && Number.isFinite(n), 'a number >= 0');
    const workersOpt = values.workers === undefined ? undefined : numberOption(values, 'workers', 1, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1');
    const sourceArg = (values.source as string | undefined) ?? 'synthetic';
    const replaying = sourceArg.endsWith('.msgpack');
    // A replay exists to reproduce a run, so it computes every frame unless told otherwise.
    const overrun = (values.overrun ?? (replaying ? 'queue' : 'drop')) as OverrunPolicy;
    if (!['drop', 'latest', 'queue'].includes(overrun)) throw new UsageError(`--overrun must be drop, latest or queue, got "${overrun}"`);
    if (values.streams !== undefined && !sourceArg.startsWith('tcp://')) throw new UsageError('--streams is for --source tcp:// (one session per connection)');
    const streams = numberOption(values, 'streams', 8, (n) => Number.isInteger(n) && n >= 1 && n <= 4096, 'an integer from 1 to 4096');
    // Checked before anything starts: a bad address is a usage error, not a stack trace.
    const listen = sourceArg.startsWith('tcp://') ? tcpAddress(sourceArg, '--source') : undefined;
    const listenToken = values.token as string | undefined;
    if (listen !== undefined && !isLoopback(listen.host) && values['listen-public'] !== true) {
      throw new UsageError(`--source ${sourceArg} would serve other machines: add --listen-public to mean it (and --token to require a shared secret), or use 127.0.0.1`);
    }
    if ((values['listen-public'] !== undefined || listenToken !== undefined) && listen === undefined && uiAddress === undefined)
      throw new UsageError('--listen-public and --token are for --source tcp:// and --ui');
    const sinkArg = (values.sink as string | undefined) ?? 'none';
    const sinkAddress = sinkArg.startsWith('tcp://') ? tcpAddress(sinkArg, '--sink') : undefined;
    if (recordedTiming && !sourceArg.endsWith('.msgpack')) throw new UsageError('--rate recorded needs a recording as --source (FILE.msgpack)');
    if (sinkArg === 'stdout' && values.json === true) throw new UsageError('--sink stdout and --json both want stdout; send outputs to a file instead');
    const logger = cliLogger(values['log-level'] as string | undefined);
    const modelArg = positionals[0] ?? DEFAULT_MODEL;

    const controller = new AbortController();
    const stop = (signal: string): void => {
      logger.info({ signal }, 'stopping');
      controller.abort();
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    const closers: (() => Promise<void> | void)[] = [];
    try {
      const loaded = await loadSource(modelArg, { seed });
      const rollout = values.rollout === undefined ? loaded.rollout : await loadRollout(loaded.network, values.rollout as string);
      const rt = await Runtime.create(loaded.network, {
        rollout,
        params: loaded.params,
        logger,
        ...(workersOpt === undefined ? {} : { workers: workersOpt }),
        ...(sourceArg.startsWith('tcp://') ? { streams } : {}),
      });
      closers.push(() => rt.close());
      const net = rt.network;
      if (loaded.weights === 'seeded random') logger.warn({ seed }, 'no trained weights: running a seeded random model (outputs are not meaningful predictions)');
      const counters: { rejected: number; fatal?: string } = { rejected: 0 };
      const control = new LoopControl();
      let ui: UiServer | undefined;
      if (uiAddress !== undefined) {
        ui = await serveUi(rt, {
          host: uiAddress.host,
          port: uiAddress.port,
          public: values['listen-public'] === true,
          refreshHz: uiRefresh,
          control,
          ...(listenToken === undefined ? {} : { token: listenToken }),
        });
        closers.push(() => ui?.close());
        if (!isLoopback(uiAddress.host))
          logger.warn(
            { host: uiAddress.host },
            listenToken === undefined ? 'the live view is open to other machines without a token (--token)' : 'the live view is open to other machines (token required)',
          );
        io.err(`live view: ${ui.url}\n`);
      }
      if (listen !== undefined) {
        if (!isLoopback(listen.host))
          logger.warn(
            { host: listen.host },
            listenToken === undefined
              ? 'serving frames to other machines without a token (--token): anyone who can reach this port can use the model'
              : 'serving frames to other machines (token required)',
          );
        const server = await serveFrames(rt, {
          host: listen.host,
          port: listen.port,
          rateHz: rate,
          public: values['listen-public'] === true,
          ...(listenToken === undefined ? {} : { token: listenToken }),
          onReject: (reason) => logger.warn({ reason }, 'input message rejected'),
        });
        closers.push(() => server.close());
        logger.info({ host: server.host, port: server.port }, 'serving frames over TCP (replies on the same connection)');
        const started = performance.now();
        const status = setInterval(
          () => {
            const now = server.summary();
            io.err(`${process.stderr.isTTY ? '\r' : ''}frames ${now.ticks}  rejected ${now.rejected}  p99 ${(now.latencyUs.p99 / 1000).toFixed(2)} ms${process.stderr.isTTY ? '\x1b[K' : '\n'}`);
          },
          process.stderr.isTTY ? 250 : 2000,
        );
        // The view gets the server's figures too (no clock to steer, no labels, no histogram).
        const feedUi =
          ui === undefined
            ? undefined
            : setInterval(() => {
                const now = server.summary();
                const summary: RealtimeSummary = { ...now, rateHz: null, drops: 0, accuracy: null };
                ui?.onStatus(summary, [], { latencyBuckets: [], labelled: 0, correct: 0, rateHz: null, paused: false });
              }, 200);
        try {
          // Serve until the duration is over or a signal stops us.
          const stopped = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
          await (duration > 0 ? Promise.race([stopped, new Promise<void>((resolve) => setTimeout(resolve, duration * 1000).unref())]) : stopped);
        } finally {
          clearInterval(status);
          if (feedUi !== undefined) clearInterval(feedUi);
        }
        const s = server.summary();
        const summary: RealtimeSummary = {
          ticks: s.ticks,
          rateHz: null,
          latencyUs: s.latencyUs,
          deadlineMisses: s.deadlineMisses,
          drops: 0,
          accuracy: null,
          rejected: s.rejected,
          cpuUsPerFrame: s.cpuUsPerFrame,
        };
        io.err(`${process.stderr.isTTY ? '\n' : ''}${statusLine(summary, (performance.now() - started) / 1000)}  (${s.rejected} input messages rejected)\n`);
        if (values.json === true) io.out(JSON.stringify(summary) + '\n');
        return 0;
      }
      let source: RealtimeSource;
      if (sourceArg === 'synthetic') {
        const input = net.nodes[net.inputs[0]];
        if (net.inputs.length !== 1 || input.size !== 784)
          throw new UsageError(
            `the synthetic camera makes 28x28 MNIST frames; network "${net.name}" needs ${net.inputs.map((v) => `${net.nodes[v].name} [${net.nodes[v].shape.join(',')}]`).join(', ')}`,
          );
        source = { camera: { seed, noiseStd } };
      } else if (sourceArg === 'stdin') {
        // stdin is read by this thread and handed to the loop's thread through a ring.
        source = messageFrames(process.stdin, net, logger, counters);
      } else if (sourceArg.endsWith('.msgpack')) {
        if (!existsSync(sourceArg)) throw new UsageError(`--source ${sourceArg}: no such recording`);
        source = { replay: sourceArg };
      } else {
        throw new UsageError(`--source must be synthetic, stdin, tcp://HOST:PORT or FILE.msgpack, got "${sourceArg}"`);
      }
      let sink: RealtimeSink | undefined;
      if (sinkArg === 'stdout') {
        sink = { kind: 'stdout' };
      } else if (sinkAddress !== undefined) {
        sink = { kind: 'tcp', host: sinkAddress.host, port: sinkAddress.port };
      } else if (sinkArg.endsWith('.msgpack')) {
        sink = { kind: 'file', path: sinkArg };
      } else if (sinkArg !== 'none') {
        throw new UsageError(`--sink must be none, stdout, tcp://HOST:PORT or FILE.msgpack, got "${sinkArg}"`);
      }
      const labelDelay = responseDelays(net, rt.rollout.delays)[net.outputs[0]];
      const tty = process.stderr.isTTY;
      const started = performance.now();
      let lastStatus = started;
      logger.info({ model: modelArg, rateHz: recordedTiming ? 'recorded' : rate, durationS: duration, source: sourceArg, sink: sinkArg, overrun }, 'running');
      const summary = await runRealtime(rt, source, {
        rateHz: rate,
        ...(duration > 0 ? { ticks: Math.round(duration * rate) } : {}),
        overrun,
        signal: controller.signal,
        labelDelay,
        control,
        // The view's figures come with the statuses: 10 a second while it is open.
        ...(ui === undefined ? {} : { statusMs: 100 }),
        ...(recordedTiming ? { timing: 'recorded' as const } : {}),
        ...(sink === undefined ? {} : { sink }),
        ...(typeof values.record === 'string' ? { record: values.record } : {}),
        onStatus: (now, rejected, detail) => {
          ui?.onStatus(now, rejected, detail);
          for (const reason of rejected) logger.warn({ reason }, 'input message rejected');
          const at = performance.now();
          if (at - lastStatus >= (tty ? 200 : 2000)) {
            lastStatus = at;
            const line = statusLine(now, (at - started) / 1000);
            io.err(tty ? `\r${line}\x1b[K` : `${line}\n`);
          }
        },
      });
      if (tty) io.err('\n');
      const elapsed = (performance.now() - started) / 1000;
      const rejected = counters.rejected + summary.rejected;
      io.err(`${statusLine(summary, elapsed)}  (${elapsed.toFixed(1)} s, ${summary.cpuUsPerFrame} µs CPU a frame${rejected > 0 ? `, ${rejected} input messages rejected` : ''})\n`);
      if (replaying && summary.drops > 0) {
        io.err(
          `${summary.drops} recorded frames were skipped (--overrun ${overrun}): outputs differ from the recorded run from the first skip on; the default (--overrun queue) computes every frame\n`,
        );
      }
      if (values.json === true) io.out(JSON.stringify({ ...summary, rejected }) + '\n');
      // A stream cut short, or one in which nothing could be used, is a failed run.
      if (counters.fatal !== undefined) {
        io.err(`streamroll run: the input stream ended on an unreadable message (${counters.fatal}); frames after it were lost\n`);
        return 1;
      }
      if (summary.ticks === 0 && rejected > 0) {
        io.err(`streamroll run: none of the ${rejected} input messages could be used\n`);
        return 1;
      }
      return 0;
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      for (const close of closers.reverse()) await close();
    }
  },
};
