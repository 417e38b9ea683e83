import { CACHE_LINE } from './arena.js';

// Control words of the parallel engine, in the arena's control lines (Int32, Atomics-ready).
// Every field written by a different party sits on its own 64-byte line: false sharing made
// Atomics 7x slower in measurements here. Field indices, the views over them and the wake
// rules are named in this one place; the driver (src/engine/frame-driver.ts) and the workers
// (workers/frame-loop.ts) only use what is here.

const WORDS_PER_LINE = CACHE_LINE / 4;

/** Line 0, written by the driver: the latest tick whose input frame is in the arena. */
export const PUBLISHED = 0;
/** Line 0: 0 while running, 1 when asked to stop, 2 when a worker failed. */
export const STOP = 1;
/**
 * Line 0: 1 + the index of the worker asked to hand its share of each frame to the driver
 * (0: none). The real-time loop's thread computes that worker's nodes itself while it drives,
 * so a one-worker model wakes one thread per frame instead of two.
 */
export const PARK = 4;
/**
 * Line 1: the driver's wake-up request. It waits for node WAKE_NODE to reach frame WAKE_AT
 * by sleeping on DRIVER_WAKE, which the worker of that node bumps (and notifies) only when
 * it gets there: one wake-up per wait, not one per frame of every node (a notify that wakes
 * a waiting thread costs the notifying worker ~25 µs here). The three words share a line
 * although driver and workers both write it: each is written once per wait, not per frame.
 */
export const DRIVER_WAKE = 1 * WORDS_PER_LINE;
export const WAKE_NODE = DRIVER_WAKE + 1;
export const WAKE_AT = DRIVER_WAKE + 2;
/** Line 2: workers that have bound their kernels and entered the loop. */
export const READY = 2 * WORDS_PER_LINE;
/**
 * Line 2: 1 + the index of the node whose computation threw (0: none). Set once by the
 * failing worker before it stops the engine, so the driver tells a node failure from a
 * dead thread without parsing messages.
 */
export const FAILED_NODE = READY + 1;
/** Line 2: 1 + the index of the worker that is parked (see {@link PARK}); 0 when none. */
export const PARKED = READY + 2;
/**
 * Line 3, written by the driver: pacing. Word CLOCKED is 1 while a clocked source drives
 * the engine; the Float64 at byte 8 of the line is when the next frame is due ({@link sharedNow}
 * ms, the one clock all threads share), the one at
 * byte 16 how long a worker may spin before it (ms). Workers sleep until just before the due
 * time and spin only that last stretch (see {@link paceOf}).
 */
export const CLOCKED = 3 * WORDS_PER_LINE;

/**
 * Line 4, written by the two threads of stream lanes (src/engine/stream-lanes.ts): the latest
 * engine frame all of whose entries are done (the node counters follow it), and a count of
 * chunks done, which a lane with nothing to claim watches for the other's progress.
 */
export const LANE_FRONTIER = 4 * WORDS_PER_LINE;
export const LANE_PROGRESS = LANE_FRONTIER + 1;

/**
 * Flag on a stream word of a batch entry (see Arena.batch): nobody reads this frame's
 * outputs, so workers skip their row-major copies (repeat() runs many frames for one answer).
 */
export const NO_OUTPUTS = 1 << 30;

/**
 * Flag on a stream word of a batch entry: this frame's inputs that have staging rings were
 * written there through zero-copy views, so the worker that owns each converts it into its
 * state slot first (frames copied in by the driver are in their state slots already).
 */
export const STAGED_INPUTS = 1 << 29;

/** The stream of a batch entry's stream word, its flags cleared. */
export const streamOf = (word: number): number => word & ~(NO_OUTPUTS | STAGED_INPUTS);

export const STOP_REQUESTED = 1;
export const STOP_FAILED = 2;

const FIXED_LINES = 5;

/** Index of node v's ready counter: the latest frame of v that is complete. */
export const nodeTick = (v: number): number => (FIXED_LINES + v) * WORDS_PER_LINE;

/**
 * Index of worker w's statistics line: word 0 frames done, then two Float64 slots at byte
 * offsets 8 and 16 (compute µs, wait µs), read by the driver without locking.
 */
export const workerLine = (nodes: number, w: number): number => (FIXED_LINES + nodes + w) * WORDS_PER_LINE;

/** Control lines needed for a network of `nodes` nodes run by `workers` workers. */
export const controlLines = (nodes: number, workers: number): number => FIXED_LINES + nodes + workers;

/** Worker w's accumulated [compute µs, wait µs] (see {@link workerLine}). */
export function workerTiming(ctrl: Int32Array, nodes: number, w: number): Float64Array {
  return new Float64Array(ctrl.buffer, ctrl.byteOffset + workerLine(nodes, w) * 4 + 8, 2);
}

/** The pacing line's [next frame due (sharedNow ms), spin budget (ms)] (see {@link CLOCKED}). */
export function paceOf(ctrl: Int32Array): Float64Array {
  return new Float64Array(ctrl.buffer, ctrl.byteOffset + CLOCKED * 4 + 8, 2);
}

/** Wakes every thread sleeping on any control word (stop, failure). */
export function notifyAll(ctrl: Int32Array): void {
  for (let i = 0; i < ctrl.length; i += WORDS_PER_LINE) Atomics.notify(ctrl, i);
  // A parked worker sleeps on PARK, not on a line's first word.
  Atomics.notify(ctrl, PARK);
}

/**
 * The worker side of the wake rule: after publishing frame k of node v, bump and notify
 * DRIVER_WAKE if the driver asked to be woken for exactly that.
 */
export function wakeDriverIfAsked(ctrl: Int32Array, v: number, k: number): void {
  if (Atomics.load(ctrl, WAKE_NODE) === v && k >= Atomics.load(ctrl, WAKE_AT)) {
    Atomics.add(ctrl, DRIVER_WAKE, 1);
    Atomics.notify(ctrl, DRIVER_WAKE);
  }
}

/**
 * The driver side: asks to be woken when node v reaches frame k and returns the wake word's
 * value to sleep on. Ask first, then look: either the caller's check of the node counter
 * sees the worker's progress, or the worker sees the request after publishing it (all
 * operations sequentially consistent).
 */
export function askWake(ctrl: Int32Array, v: number, k: number): number {
  Atomics.store(ctrl, WAKE_AT, k);
  Atomics.store(ctrl, WAKE_NODE, v);
  return Atomics.load(ctrl, DRIVER_WAKE);
}

/** Withdraws the driver's wake request. */
export function clearWake(ctrl: Int32Array): void {
  Atomics.store(ctrl, WAKE_NODE, -1);
}

/**
 * This thread's offset from performance.now() to the process's monotonic clock. Each thread's
 * performance.now() counts from its own start, and performance.timeOrigin is too coarse to
 * line threads up (measured here: threads disagreed by 50-300 µs, so a worker woken for a
 * frame's due time missed it); process.hrtime is one clock for the whole process. The best of
 * a few readings keeps the offset's error well under a microsecond.
 */
const clockBase = ((): number => {
  let best = -Infinity;
  let base = 0;
  for (let i = 0; i < 5; i++) {
    const before = performance.now();
    const hr = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (before - after > best) {
      best = before - after;
      base = hr - (before + after) / 2;
    }
  }
  return base;
})();

/** The clock every thread of the process shares (monotonic ms, sub-microsecond resolution), for due times. */
export const sharedNow = (): number => performance.now() + clockBase;
