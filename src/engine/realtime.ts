import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FrameRing } from '../io/frame-ring.js';
import type { SourceFrame } from '../io/frames.js';
import type { LoopSinkSpec } from '../io/loop-sinks.js';
import { packDigits, type LoopSourceSpec } from '../io/loop-sources.js';
import type { MnistCameraOptions } from '../io/mnist-camera.js';
import { mnistSplit } from '../io/mnist-data.js';
import { PUBLISHED, STOP } from './control.js';
import { LOOP_STOP, OverrunError, type LoopDetail, type LoopMessage, type OverrunPolicy, type RealtimeLoopTask, type RealtimeSummary } from './realtime-task.js';
import { LoopControl, releaseLoop, stopLoop } from './loop-control.js';
import { StreamrollError, type ErrorCode } from '../util/errors.js';
import type { Runtime } from './runtime.js';
import { advanced, describeLent } from './lent-engine.js';

export { OverrunError, type LoopDetail, type OverrunPolicy, type RealtimeSummary } from './realtime-task.js';
export type { LoopSinkSpec as RealtimeSink } from '../io/loop-sinks.js';

const LOOP_FILE = fileURLToPath(new URL('../../workers/realtime-loop.js', import.meta.url));

/**
 * Where a real-time loop's frames come from. The camera and a recording are made and read in
 * the loop's own thread; a {@link FrameRing} is fed by sensors on any thread; any other
 * iterable (a generator, a `PushSource`) is copied into a ring by this thread, ahead of its
 * deadlines.
 */
export type RealtimeSource = { readonly camera: Omit<MnistCameraOptions, 'digits'> } | { readonly replay: string } | FrameRing | Iterable<SourceFrame> | AsyncIterable<SourceFrame>;

/** Options of {@link runRealtime}. */
export interface RealtimeOptions {
  /** Frame rate of the clock (frames are due every 1/rate s); the deadline period. */
  readonly rateHz: number;
  /** Stop after this many deadlines (computed or dropped frames), or when the source ends / the signal aborts. */
  readonly ticks?: number;
  /**
   * What to do with frames due while the previous one is still being computed. Default:
   * `queue` for `{replay}` (a replay computes every recorded frame, so its outputs are exact),
   * `drop` for every other source.
   */
  readonly overrun?: OverrunPolicy;
  /**
   * Most frames waiting under `queue`; default 64. A replay reads its frames on demand, so
   * nothing piles up and no limit applies: late frames are computed late and counted as misses.
   */
  readonly queueLimit?: number;
  readonly signal?: AbortSignal;
  /** Output ticks between the input a label belongs to and the output answering it (d(o)); default 0. */
  readonly labelDelay?: number;
  /**
   * `fixed` (default): frame j is due at j / rateHz. `recorded`: each frame of a recording is
   * due at its own `t` (ms, relative to the first frame's).
   */
  readonly timing?: 'fixed' | 'recorded';
  /** Where every tick's outputs go, written from the loop's thread: `{t, tick, outputs}` messages. */
  readonly sink?: LoopSinkSpec;
  /** A file to record every input frame the engine was given into (replay it with `{replay: file}`). */
  readonly record?: string;
  /**
   * Called on this thread with the summary so far, every `statusMs`, with the reasons of inputs
   * rejected since the last call and the loop's running counts (latency histogram, labels).
   */
  readonly onStatus?: (summary: RealtimeSummary, rejected: readonly string[], detail: LoopDetail) => void;
  /** Pause, resume, single-step and change the rate while the loop runs (see {@link LoopControl}). */
  readonly control?: LoopControl;
  /** Default 250 ms (each status wakes this thread; on a VM a wake-up costs 50-100 µs of CPU). */
  readonly statusMs?: number;
}

/** The loop thread's failure as an error of the same kind on this thread. */
function loopError(m: { readonly name: string; readonly code?: ErrorCode; readonly message: string }): Error {
  if (m.code === 'OVERRUN') return new OverrunError(m.message);
  return m.code === undefined ? new Error(m.message) : new StreamrollError(m.code, m.message);
}

const isIterable = (s: RealtimeSource): s is Iterable<SourceFrame> | AsyncIterable<SourceFrame> => Symbol.iterator in s || Symbol.asyncIterator in s;

/** Copies an iterable's frames into a ring as room frees up, until it ends or `signal` aborts. */
async function pump(frames: Iterable<SourceFrame> | AsyncIterable<SourceFrame>, ring: FrameRing, signal: AbortSignal): Promise<void> {
  const iterator = Symbol.asyncIterator in frames ? (frames as AsyncIterable<SourceFrame>)[Symbol.asyncIterator]() : (frames as Iterable<SourceFrame>)[Symbol.iterator]();
  try {
    while (!signal.aborted) {
      const item = await iterator.next();
      if (item.done === true) return;
      await ring.pushWait(item.value, signal);
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    ring.end();
    if (signal.aborted) await iterator.return?.();
  }
}

/**
 * Drives a runtime from a clocked source in a thread of its own: frame j arrives at its
 * deadline, is computed as soon as the engine is free (per the overrun policy), and its
 * latency is measured from arrival to outputs. Sources and sinks run in that thread; this
 * thread's event loop only gets a status every `statusMs`. Resolves with the summary when the
 * source ends, the tick limit is reached, or the signal aborts (a clean stop, not an error).
 * @throws OverrunError under `queue` when the network cannot keep up; RuntimeError when the runtime fails or closes
 */
export async function runRealtime(rt: Runtime, source: RealtimeSource, options: RealtimeOptions): Promise<RealtimeSummary> {
  if (!(options.rateHz > 0) || !Number.isFinite(options.rateHz)) throw new RangeError(`rate must be a positive number of Hz, got ${options.rateHz}`);
  const queueLimit = options.queueLimit ?? 64;
  if (!Number.isInteger(queueLimit) || queueLimit < 1) throw new RangeError(`queueLimit must be an integer >= 1, got ${queueLimit}`);
  const net = rt.network;
  const control = (options.control ?? new LoopControl()).words;
  if (options.control?.state.attached === true) throw new RangeError('this LoopControl already steers a running loop');
  Atomics.store(control, LOOP_STOP, 0);
  const stop = (): void => stopLoop(control);
  const pumping = new AbortController();
  let spec: LoopSourceSpec;
  let pumped: Promise<void> | undefined;
  if (source instanceof FrameRing) {
    spec = { kind: 'ring', ring: source.handle, clocked: false };
  } else if ('camera' in source) {
    const input = net.nodes[net.inputs[0]];
    if (net.inputs.length !== 1 || input.size !== 784)
      throw new RangeError(`the camera makes 28x28 MNIST frames; network "${net.name}" needs ${net.inputs.map((v) => `${net.nodes[v].name} [${net.nodes[v].shape.join(',')}]`).join(', ')}`);
    spec = { kind: 'camera', options: source.camera, ...packDigits(mnistSplit()[source.camera.split ?? 'test']) };
  } else if ('replay' in source) {
    spec = { kind: 'replay', path: source.replay };
  } else if (isIterable(source)) {
    const ring = FrameRing.create(
      net.inputs.map((v) => ({ name: net.nodes[v].name, size: net.nodes[v].size })),
      64,
    );
    spec = { kind: 'ring', ring: ring.handle, clocked: true };
    pumped = pump(source, ring, pumping.signal);
    // A source that fails stops the loop; the error is thrown below.
    pumped.catch(stop);
  } else {
    throw new TypeError('runRealtime needs a source: {camera}, {replay: file}, a FrameRing or an iterable of frames');
  }
  let result: LoopMessage | undefined;
  const onAbort = (): void => stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) stop();
  try {
    await rt.lend(async (lent, guard) => {
      const task: RealtimeLoopTask = {
        engine: describeLent(rt, lent),
        control,
        source: spec,
        ...(options.sink === undefined ? {} : { sink: options.sink }),
        ...(options.record === undefined ? {} : { record: options.record }),
        rateHz: options.rateHz,
        ...(options.ticks === undefined ? {} : { ticks: options.ticks }),
        overrun: options.overrun ?? (spec.kind === 'replay' ? 'queue' : 'drop'),
        queueLimit,
        labelDelay: options.labelDelay ?? 0,
        timing: options.timing ?? 'fixed',
        statusMs: options.statusMs ?? 250,
      };
      const worker = new Worker(LOOP_FILE, { workerData: task });
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      const finished = new Promise<LoopMessage>((resolve, reject) => {
        // A failure inside the loop (a node that threw there) is thrown from here, so that the
        // runtime learns of it too.
        worker.on('message', (m: LoopMessage) => {
          if (m.type === 'status') options.onStatus?.(m.summary, m.rejected, m.detail);
          else if (m.type === 'failed' && m.code !== 'OVERRUN' && Atomics.load(rt.arena.control, STOP) !== 0) reject(loopError(m));
          else resolve(m);
        });
        worker.once('error', reject);
        void exited.then(() => reject(new Error("the real-time loop's thread ended without a summary")));
      });
      try {
        result = await guard(finished);
      } finally {
        stop();
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
        await worker.terminate();
        // A thread terminated mid-frame never detached from its control.
        releaseLoop(control);
      }
      // The loop published up to here; the engine's own counter says so even if it failed.
      return advanced(lent.state, Atomics.load(rt.arena.control, PUBLISHED), 0);
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    pumping.abort();
    await pumped?.catch(() => undefined);
  }
  // A failing iterable is the caller's error, thrown as it was.
  if (pumped !== undefined) await pumped;
  const done = result as LoopMessage;
  options.onStatus?.(done.summary, done.rejected, done.detail);
  if (done.type === 'failed') throw loopError(done);
  return done.summary;
}
