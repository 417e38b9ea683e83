import type { Rollout, RolloutSpec } from '../rollout/pattern.js';
import type { NonFinitePolicy } from '../io/inputs.js';
import type { Parameters } from '../graph/parameters.js';
import { RING_SLACK, type PlacementOption } from './placement.js';

/** The subset of a pino logger the runtime uses; a pino logger fits as is. */
export interface RuntimeLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** A runtime's `queue` when its options name none. */
export const DEFAULT_QUEUE = 32;

/** Options of `Runtime.create`. */
export interface RuntimeOptions {
  /** `streaming` (default; a model file's own rollout for models), `sequential`, a pattern object, or a resolved rollout. */
  readonly rollout?: RolloutSpec | Rollout;
  /**
   * Worker threads. Default: up to one per computed node and usable core, as many as the
   * measured node costs say pay off (a network of a few microseconds per frame stays on one).
   */
  readonly workers?: number;
  /** `auto` (default), `one-per-layer`, or an explicit mapping node -> worker. */
  readonly placement?: PlacementOption;
  /** Seed of the random weights when the source has none; default 0. */
  readonly seed?: number;
  /** Weights to use instead of the source's. */
  readonly params?: Parameters;
  /** Kernel backend: `native` (default where its addon was built on install), `wasm` (default elsewhere) or `reference`. */
  readonly backend?: string;
  /**
   * Width of stored weights: `fp32` (default), `bf16` or `fp16`: dense weights kept as
   * bfloat16 or as IEEE half floats and widened to float32 in registers (half the bytes a
   * memory-bound dense layer reads; the arithmetic stays float32). bfloat16 keeps float32's
   * range with 8 significant bits, half floats 11 bits within +-65504 (a weight beyond is an
   * OPTION_INVALID error). Needs the native kernels (backends `native-bf16`, `native-fp16`).
   * A node's own `precision` (NodeSpec.precision) wins over this one for the edges into it.
   */
  readonly precision?: 'fp32' | 'bf16' | 'fp16';
  /** A module every worker imports first (one that registers a custom backend). */
  readonly backendModule?: string | URL;
  /** Measure each node's cost on the real kernels to balance groups (default true); else FLOP estimates. */
  readonly calibrate?: boolean;
  /**
   * Input frames that may be in flight ahead of the workers (`run`, `repeat`, pipelined
   * `nextInput`/`commit`), and the most output frames a caller may hold unreleased; default
   * {@link DEFAULT_QUEUE}.
   */
  readonly queue?: number;
  /**
   * `queue` for each session of `open()`: its frames in flight and the most output frames it
   * may hold. Each queued frame takes a slot per input (in its state ring) and output (in its
   * row-major ring) in every session, and a ring's slots are reused only after a full turn, so deep rings in many
   * sessions cycle more memory than the caches hold. Default: `queue`, or less where the
   * sessions' queued frames would take more than {@link RING_CACHE_BYTES} (at least 4).
   */
  readonly sessionQueue?: number;
  /**
   * Ring slots per computed node beyond what its delays need (default 2): how far a worker
   * may run ahead of the consumers of its states on other workers, which absorbs their
   * jitter, at the cost of one state's memory per slot (per stream). With sessions the
   * default is lower where those slots of all streams would take more than
   * {@link RING_CACHE_BYTES}.
   */
  readonly slack?: number;
  /** How workers wait: `spin` then sleep, or `wait` (sleep at once); `auto` spins while workers <= cores. */
  readonly sync?: 'auto' | 'spin' | 'wait';
  /** NaN / infinite inputs: `reject` (default) or `zero`. */
  readonly nonFinite?: NonFinitePolicy;
  /** Warm-up ticks of zeros before the first real one (kernels reach V8's optimising tier); default 8. */
  readonly warmUp?: number;
  /** A pino logger (or anything with its methods). */
  readonly logger?: RuntimeLogger;
  /** Aborting closes the runtime. */
  readonly signal?: AbortSignal;
  /**
   * Sessions `open()` may hand out at once, each with a state set of its own (default 0: the
   * runtime's own stream only). Each takes the network's state rings in memory
   * (`stats().streams.bytesPerStream`). `Runtime.grow` raises it later.
   */
  readonly streams?: number;
  /**
   * Whether a network that runs on one worker gets a helper thread when it serves sessions
   * (default true): the helper shares each engine frame's streams with the worker in Linux's
   * SCHED_IDLE class, so it computes only on CPU time nothing else wants (on two cores, what
   * the main thread leaves of its core). Only with `streams` >= 2, two cores or more, on
   * Linux with the native kernels built (they set the class); outputs are the same either
   * way. It claims nothing while more threads than cores want to run besides it (it looks at
   * /proc/loadavg), since in that class it would be paused for as long as they run, holding
   * the streams it claimed. See src/engine/stream-lanes.ts.
   */
  readonly streamHelper?: boolean;
}

/** The numeric options, checked, with their defaults. */
export interface CheckedOptions {
  readonly workerLimit: number;
  readonly queue: number;
  readonly sessionQueue: number;
  readonly slack: number;
  readonly warmUp: number;
  readonly streams: number;
  readonly streamHelper: boolean;
}

/**
 * The memory the default ring depths of a runtime with sessions keep their extra slots
 * within (bytes, all streams together): what a frame cycles through stays in the caches
 * (in interleaved A/B runs of conv-chain-4 at 8 streams, session queue 4 and slack 0-1 ran
 * 1.1-1.2x queue 16 and slack 2; mnist-sr, whose frames are small, lost a fifth with queue
 * 4: `npm run bench:sessions -- --session-queue Q --slack S`).
 */
export const RING_CACHE_BYTES = 4 * 2 ** 20;

/** Bytes of one frame of a network: what a queued frame takes (its input and output nodes), and all its states. */
export interface FrameBytes {
  readonly queued: number;
  readonly states: number;
}

/** Checks the numeric options before anything starts; throws a RangeError naming the bad one. */
export function checkOptions(options: RuntimeOptions, computedNodes: number, cores: number, frame: FrameBytes = { queued: 0, states: 0 }): CheckedOptions {
  const workerLimit = options.workers ?? Math.min(cores, computedNodes);
  if (!Number.isInteger(workerLimit) || workerLimit < 1) throw new RangeError(`workers must be an integer >= 1, got ${String(options.workers)}`);
  const queue = options.queue ?? DEFAULT_QUEUE;
  if (!Number.isInteger(queue) || queue < 1) throw new RangeError(`queue must be an integer >= 1, got ${String(options.queue)}`);
  const streamsGiven = Number.isInteger(options.streams) && (options.streams as number) > 0 ? (options.streams as number) : 0;
  // Every stream (the runtime's own and the sessions') has a slack's worth of every state.
  const slackFits = streamsGiven === 0 || frame.states === 0 ? RING_SLACK : Math.floor(RING_CACHE_BYTES / ((streamsGiven + 1) * frame.states));
  const slack = options.slack ?? Math.min(RING_SLACK, slackFits);
  if (!Number.isInteger(slack) || slack < 0 || slack > 64) throw new RangeError(`slack must be an integer from 0 to 64, got ${String(options.slack)}`);
  const warmUp = options.warmUp ?? 8;
  if (!Number.isInteger(warmUp) || warmUp < 0) throw new RangeError(`warmUp must be an integer >= 0, got ${String(options.warmUp)}`);
  const streams = options.streams ?? 0;
  if (!Number.isInteger(streams) || streams < 0 || streams > 4096) throw new RangeError(`streams must be an integer from 0 to 4096, got ${String(options.streams)}`);
  const queueFits = streams === 0 || frame.queued === 0 ? queue : Math.floor(RING_CACHE_BYTES / (streams * frame.queued));
  const sessionQueue = options.sessionQueue ?? Math.min(queue, Math.max(4, queueFits));
  if (!Number.isInteger(sessionQueue) || sessionQueue < 1 || sessionQueue > queue)
    throw new RangeError(`sessionQueue must be an integer from 1 to queue (${queue}), got ${String(options.sessionQueue)}`);
  if (options.sync !== undefined && !['auto', 'spin', 'wait'].includes(options.sync)) throw new RangeError(`sync must be auto, spin or wait, got ${String(options.sync)}`);
  if (options.nonFinite !== undefined && !['reject', 'zero'].includes(options.nonFinite)) throw new RangeError(`nonFinite must be reject or zero, got ${String(options.nonFinite)}`);
  const streamHelper = options.streamHelper ?? true;
  if (typeof streamHelper !== 'boolean') throw new RangeError(`streamHelper must be true or false, got ${JSON.stringify(options.streamHelper)}`);
  return { workerLimit, queue, sessionQueue, slack, warmUp, streams, streamHelper };
}
