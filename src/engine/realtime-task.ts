// What the real-time loop's thread (workers/realtime-loop.ts) and its starter
// (src/engine/realtime.ts) share: the task, the messages, the summary.
import type { LoopSinkSpec } from '../io/loop-sinks.js';
import type { LoopSourceSpec } from '../io/loop-sources.js';
import type { LentEngine } from './lent-engine.js';
import { StreamrollError, type ErrorCode } from '../util/errors.js';

/**
 * What to do when a frame arrives while the previous one is still being computed:
 * `drop` skips inputs that are already stale (a newer one is due) and counts them;
 * `latest` always computes the newest arrived input, skipping older ones; `queue` computes
 * every input in order, failing clearly when more than `queueLimit` wait.
 */
export type OverrunPolicy = 'drop' | 'latest' | 'queue';

/** The `run --json` summary document. */
export interface RealtimeSummary {
  readonly ticks: number;
  readonly rateHz: number | null;
  /** Arrival (the frame's deadline) to outputs ready. */
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number };
  /** Ticks whose outputs were ready after the next frame was due. */
  readonly deadlineMisses: number;
  /** Inputs skipped under `drop` or `latest`. */
  readonly drops: number;
  /** Share of labelled ticks whose output's argmax equals the label (null without labels). */
  readonly accuracy: number | null;
  /** Input messages that could not be used (a recording's bad entries, bad values). */
  readonly rejected: number;
  /** CPU time of the whole process (every thread) per computed tick from the first deadline on, µs. */
  readonly cpuUsPerFrame: number;
}

/** The queue policy overflowed: the network cannot keep up with the rate. */
export class OverrunError extends StreamrollError {
  constructor(message: string) {
    super('OVERRUN', message);
    this.name = 'OverrunError';
  }
}

/** Word 0 of the loop's control (a LoopControl's words): 1 asks the loop to stop after the frame in hand. */
export const LOOP_STOP = 0;

/** Latency histogram buckets: bucket b holds latencies in [2^(b/4), 2^((b+1)/4)) µs (the last one everything above). */
export const LATENCY_BUCKETS = 96;
export const latencyBucket = (us: number): number => Math.min(LATENCY_BUCKETS - 1, Math.max(0, Math.floor(4 * Math.log2(Math.max(1, us)))));

/** What a status carries beyond the summary, for live views: counts since the loop started. */
export interface LoopDetail {
  /** Ticks per latency bucket (see {@link latencyBucket}). */
  readonly latencyBuckets: readonly number[];
  /** Labelled ticks and those answered right (accuracy over any window is a difference of two of these). */
  readonly labelled: number;
  readonly correct: number;
  /** The rate frames are due at now (Hz); null for recorded timing. */
  readonly rateHz: number | null;
  readonly paused: boolean;
}

/** Everything the loop's thread needs, sent once. */
export interface RealtimeLoopTask {
  readonly engine: LentEngine;
  /** The loop's control words: a LoopControl's (see {@link LOOP_STOP}). */
  readonly control: Int32Array;
  readonly source: LoopSourceSpec;
  readonly sink?: LoopSinkSpec;
  /** Write every input frame the engine was given here (a recording to replay). */
  readonly record?: string;
  readonly rateHz: number;
  /** Deadlines to run (computed or dropped frames); default unlimited. */
  readonly ticks?: number;
  readonly overrun: OverrunPolicy;
  readonly queueLimit: number;
  /** Ticks between an input and the output answering its label (d(o)). */
  readonly labelDelay: number;
  /** `fixed`: frame j is due at j / rate; `recorded`: at its own `t` (ms) after the first's. */
  readonly timing: 'fixed' | 'recorded';
  /** How often to send a status (ms). */
  readonly statusMs: number;
}

/** Messages from the loop's thread. */
export type LoopMessage =
  | { readonly type: 'status'; readonly summary: RealtimeSummary; readonly rejected: readonly string[]; readonly detail: LoopDetail }
  | { readonly type: 'done'; readonly summary: RealtimeSummary; readonly rejected: readonly string[]; readonly detail: LoopDetail }
  | {
      readonly type: 'failed';
      readonly name: string;
      readonly code?: ErrorCode;
      readonly message: string;
      readonly summary: RealtimeSummary;
      readonly rejected: readonly string[];
      readonly detail: LoopDetail;
    };
