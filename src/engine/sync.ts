import { CLOCKED, PUBLISHED, STOP, epochMs, paceOf } from './control.js';

/**
 * Loads of a word to spin through before sleeping on it. Spinning answers in about a
 * microsecond instead of ~10 µs for a futex wake-up, but only pays while every spinning
 * thread has a core of its own (with more, spinners steal the core the awaited thread needs).
 */
const SPIN_LOADS = 4_000;
/** Sleeps are bounded so a stop request is seen even if its notify is missed. */
export const SLEEP_MS = 50;
/**
 * The longest a worker spins for an unclocked frame (ms). Gaps between frames longer than
 * this are slept through: a futex wake-up costs 15-21 µs here, spinning through a 2 ms gap
 * costs 2 ms of a core.
 */
export const MAX_SPIN_MS = 0.2;
/** The spin before sleeping when frames come rarely (ms): catches a driver that publishes at once. */
const BASE_SPIN_MS = 0.01;
/** How long past a clocked frame's due time a worker keeps spinning for a late driver (ms). */
const LATE_SPIN_MS = 0.3;

/**
 * Blocks (a worker thread only) until `ctrl[index] >= target`. Returns false if the engine is
 * asked to stop first. With `spin`, busy-polls for a while before sleeping.
 */
export function waitAtLeast(ctrl: Int32Array, index: number, target: number, spin: boolean): boolean {
  let spins = spin ? SPIN_LOADS : 0;
  for (;;) {
    const value = Atomics.load(ctrl, index);
    if (value >= target) return true;
    if (Atomics.load(ctrl, STOP) !== 0) return false;
    if (spins > 0) {
      spins--;
      continue;
    }
    Atomics.wait(ctrl, index, value, SLEEP_MS);
  }
}

/** Spins until `ctrl[index] >= target`, stop, or `until` (performance.now() ms); true when reached. */
function spinUntil(ctrl: Int32Array, index: number, target: number, until: number): boolean {
  for (let i = 0; ; i++) {
    if (Atomics.load(ctrl, index) >= target) return true;
    // Reading the clock costs more than a load: look at it every 32 loads.
    if ((i & 31) === 31 && (Atomics.load(ctrl, STOP) !== 0 || performance.now() >= until)) return Atomics.load(ctrl, index) >= target;
  }
}

/**
 * How a worker waits for the next published frame. With a clocked source (the pacing line
 * says when the next frame is due) it sleeps on the futex until just before that time and
 * spins only the last stretch, so a slow loop burns almost no CPU between frames and a fast
 * one starts a frame at spin latency with no wake-up at all. Without a clock it spins for a
 * budget adapted to the gaps it has seen between frames (up to {@link MAX_SPIN_MS}), then
 * sleeps until the driver's notify: back-to-back frames are caught spinning, rare ones cost
 * one wake-up and almost no CPU.
 */
export class FrameWaiter {
  readonly #ctrl: Int32Array;
  readonly #spin: boolean;
  readonly #pace: Float64Array;
  /** Smoothed gap between being ready for a frame and its publication (ms). */
  #gap = 0;

  constructor(ctrl: Int32Array, spin: boolean) {
    this.#ctrl = ctrl;
    this.#spin = spin;
    this.#pace = paceOf(ctrl);
  }

  /** Blocks until frame k is published; false when the engine is asked to stop first. */
  wait(k: number): boolean {
    const ctrl = this.#ctrl;
    if (Atomics.load(ctrl, PUBLISHED) >= k) {
      this.#gap *= 0.75;
      return true;
    }
    const t0 = performance.now();
    if (this.#spin) {
      if (Atomics.load(ctrl, CLOCKED) === 1) {
        if (this.#clocked(k)) return true;
      } else {
        const budget = this.#gap <= MAX_SPIN_MS ? Math.min(MAX_SPIN_MS, 2 * this.#gap + BASE_SPIN_MS) : BASE_SPIN_MS;
        if (spinUntil(ctrl, PUBLISHED, k, t0 + budget)) {
          this.#gap = 0.75 * this.#gap + 0.25 * (performance.now() - t0);
          return true;
        }
      }
    }
    const reached = waitAtLeast(ctrl, PUBLISHED, k, false);
    this.#gap = 0.75 * this.#gap + 0.25 * (performance.now() - t0);
    return reached;
  }

  /** Sleeps until the frame's due time minus the wake-ahead, then spins; true when it came. */
  #clocked(k: number): boolean {
    const ctrl = this.#ctrl;
    for (;;) {
      const value = Atomics.load(ctrl, PUBLISHED);
      if (value >= k) return true;
      if (Atomics.load(ctrl, STOP) !== 0 || Atomics.load(ctrl, CLOCKED) !== 1) return false;
      const due = this.#pace[0];
      const sleepMs = due - this.#pace[1] - epochMs();
      if (sleepMs > 0.02) {
        Atomics.wait(ctrl, PUBLISHED, value, Math.min(sleepMs, SLEEP_MS));
        continue;
      }
      // The last stretch, and a little past the due time for a driver that is late.
      const until = performance.now() + Math.max(0, due - epochMs()) + LATE_SPIN_MS;
      return spinUntil(ctrl, PUBLISHED, k, until);
    }
  }
}

/**
 * Resolves once `ctrl[index] >= target`, without blocking the event loop (the main thread's
 * side). Rejects early when `abort` settles first.
 */
export async function waitAtLeastAsync(ctrl: Int32Array, index: number, target: number): Promise<void> {
  for (;;) {
    const value = Atomics.load(ctrl, index);
    if (value >= target) return;
    const result = Atomics.waitAsync(ctrl, index, value, SLEEP_MS);
    if (result.async) await result.value;
  }
}
