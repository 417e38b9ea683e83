import { createHistogram } from 'node:perf_hooks';
import { fixedRate, sleepUntil } from '../io/clock.js';
import type { SourceFrame } from '../io/frames.js';
import type { Runtime } from './runtime.js';

/**
 * What to do when a frame arrives while the previous one is still being computed:
 * `drop` skips inputs that are already stale (a newer one is due) and counts them;
 * `latest` always computes the newest arrived input, skipping older ones; `queue` computes
 * every input in order, failing clearly when more than `queueLimit` wait.
 */
export type OverrunPolicy = 'drop' | 'latest' | 'queue';

/** Options of {@link runRealtime}. */
export interface RealtimeOptions {
  /** Frame rate of a clocked source (synthetic, replay); also the deadline period. */
  readonly rateHz: number;
  /** Stop after this many ticks (or when the source ends / the signal aborts). */
  readonly ticks?: number;
  readonly overrun?: OverrunPolicy;
  /** Most frames waiting under `queue`; default 64. */
  readonly queueLimit?: number;
  readonly signal?: AbortSignal;
  /** Output ticks between the input a label belongs to and the output answering it (d(o)); default 0. */
  readonly labelDelay?: number;
  /**
   * `fixed` (default): frame k is due at k / rateHz. `recorded`: each frame is due at its own
   * `t` (ms, relative to the first frame's), as a recording stores them.
   */
  readonly timing?: 'fixed' | 'recorded';
  /** Called with each frame as it is handed to the engine (dropped frames never are), and when it was due (ms after the first frame). */
  readonly onInput?: (frame: SourceFrame, dueMs: number) => void;
  /** Called after every computed tick. */
  readonly onTick?: (tick: TickReport) => void;
}

/** One computed tick. */
export interface TickReport {
  readonly tick: number;
  readonly outputs: Record<string, Float32Array>;
  /** Input arrival (its deadline) to outputs ready. */
  readonly latencyUs: number;
  readonly missed: boolean;
  readonly label?: number;
  /** The summary so far (computed when called: percentiles are not free). */
  summary(): RealtimeSummary;
}

/** The `run --json` summary document. */
export interface RealtimeSummary {
  readonly ticks: number;
  readonly rateHz: number;
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Ticks whose outputs were ready after the next frame was due. */
  readonly deadlineMisses: number;
  /** Inputs skipped under `drop` or `latest`. */
  readonly drops: number;
  /** Share of labelled ticks whose output's argmax equals the label (null without labels). */
  readonly accuracy: number | null;
}

/** The queue policy overflowed: the network cannot keep up with the rate. */
export class OverrunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OverrunError';
  }
}

interface Arrival {
  readonly frame: SourceFrame;
  readonly at: number;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * Drives a runtime from a clocked source at a fixed rate: frame k arrives at its deadline,
 * is computed as soon as the engine is free (per the overrun policy), and its latency is
 * measured from arrival to outputs. Resolves with the summary when the source ends, the tick
 * limit is reached, or the signal aborts (a clean stop, not an error).
 */
export async function runRealtime(rt: Runtime, source: Iterable<SourceFrame> | AsyncIterable<SourceFrame>, options: RealtimeOptions): Promise<RealtimeSummary> {
  const period = 1000 / options.rateHz;
  const policy = options.overrun ?? 'drop';
  const queueLimit = options.queueLimit ?? 64;
  const histogram = createHistogram();
  const output = rt.network.nodes[rt.network.outputs[0]].name;
  const labels: (number | undefined)[] = [];
  let ticks = 0;
  let misses = 0;
  let drops = 0;
  let labelled = 0;
  let correct = 0;
  const pending: Arrival[] = [];
  let sourceDone = false;
  let wake: (() => void) | undefined;
  let failure: unknown;
  const summary = (): RealtimeSummary => ({
    ticks,
    rateHz: options.rateHz,
    latencyUs: ticks === 0 ? { p50: 0, p99: 0, max: 0 } : { p50: histogram.percentile(50) / 1000, p99: histogram.percentile(99) / 1000, max: histogram.max / 1000 },
    deadlineMisses: misses,
    drops,
    accuracy: labelled === 0 ? null : correct / labelled,
  });

  // When each frame is due: a fixed rate, or the times a recording carries.
  // null: the source has ended; undefined: the next frame carries no time.
  let nextFrameTime: () => number | null | undefined = () => null;
  const deadlines = (): AsyncIterable<{ deadline: number }> =>
    options.timing === 'recorded'
      ? (async function* () {
          const start = performance.now() + 5;
          let t0: number | undefined;
          for (let k = 0; k < (options.ticks ?? Infinity) && options.signal?.aborted !== true; k++) {
            const t = nextFrameTime();
            if (t === null) return;
            if (t === undefined) throw new Error(`frame ${k} has no timestamp "t"; replay it at a fixed rate instead`);
            t0 ??= t;
            const deadline = start + (t - t0);
            await sleepUntil(deadline, options.signal);
            yield { deadline };
          }
        })()
      : fixedRate(options.rateHz, { ticks: options.ticks, signal: options.signal });
  let firstDue: number | undefined;

  // The camera: frame k "arrives" at its deadline.
  const iterator = Symbol.asyncIterator in source ? (source as AsyncIterable<SourceFrame>)[Symbol.asyncIterator]() : (source as Iterable<SourceFrame>)[Symbol.iterator]();
  const pump = (async () => {
    try {
      // Each frame is fetched before its deadline, so making it (noise, decoding) is not
      // counted as latency: like a camera, it is there when its time comes.
      let next = await iterator.next();
      nextFrameTime = () => (next.done === true ? null : next.value.t);
      for await (const { deadline } of deadlines()) {
        if (next.done === true) break;
        pending.push({ frame: next.value, at: deadline });
        if (policy === 'queue' && pending.length > queueLimit) {
          throw new OverrunError(`input queue full: ${pending.length} frames waiting (limit ${queueLimit}); the network cannot keep up with ${options.rateHz} Hz`);
        }
        wake?.();
        next = await iterator.next();
      }
    } catch (err) {
      failure = err;
    } finally {
      sourceDone = true;
      wake?.();
      await iterator.return?.();
    }
  })();

  while (failure === undefined) {
    if (pending.length === 0) {
      if (sourceDone) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      continue;
    }
    let arrival: Arrival;
    if (policy === 'latest') {
      drops += pending.length - 1;
      arrival = pending[pending.length - 1];
      pending.length = 0;
    } else if (policy === 'drop') {
      // Stale: the next frame was already due when this one could start.
      const now = performance.now();
      while (pending.length > 1 && pending[0].at + period <= now) {
        pending.shift();
        drops++;
      }
      arrival = pending.shift() as Arrival;
    } else {
      arrival = pending.shift() as Arrival;
    }
    firstDue ??= arrival.at;
    options.onInput?.(arrival.frame, arrival.at - firstDue);
    const outputs = await rt.step(arrival.frame.inputs);
    const latencyMs = performance.now() - arrival.at;
    histogram.record(Math.max(1, Math.round(latencyMs * 1e6)));
    const missed = latencyMs > period;
    if (missed) misses++;
    ticks++;
    labels.push(arrival.frame.label);
    const delay = options.labelDelay ?? 0;
    const label = labels.length > delay ? labels[labels.length - 1 - delay] : undefined;
    if (labels.length > delay + 1) labels.shift();
    if (label !== undefined) {
      labelled++;
      if (argmax(outputs[output]) === label) correct++;
    }
    options.onTick?.({ tick: ticks, outputs, latencyUs: latencyMs * 1000, missed, label, summary });
  }
  await pump;
  if (failure !== undefined) throw failure;
  return summary();
}
