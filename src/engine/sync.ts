import { CLOCKED, PARK, PUBLISHED, STOP, sharedNow, paceOf } from './control.js';

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
const LATE_SPIN_MS = 0.05;

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
 * Sleeps one thread until a deadline: on the futex until a margin before it, then spins the
 * rest. The margin follows how late this thread's timed waits really wake (on this VM 25-150
 * µs, 50 µs of it the kernel's default timer slack unless the native addon tightened it), but
 * the spin only has to cover their spread around that, so it stays a few tens of
 * microseconds: a slow loop burns little CPU between frames, and deadlines are met at spin
 * precision.
 */
export class DeadlineSleeper {
  /** The latest lateness samples of this thread's timed waits (ms), a ring. */
  readonly #samples = new Float64Array(64);
  #count = 0;
  /** The learned margin (ms). */
  #margin = 0.2;
  /** The most this thread may spin before a deadline (ms); see {@link spinBudget}. */
  maxSpinMs = MAX_SPIN_MS;

  /** The margin before a deadline at which to stop sleeping (ms). */
  get marginMs(): number {
    return Math.min(this.#margin, this.maxSpinMs);
  }

  /**
   * Records how late a timed wait woke; every 16 samples the margin becomes the 90th
   * percentile of the last 64 plus 10 µs: the spin then covers the spread of wake-ups, and
   * one wake in ten comes late by the (small) rest of it.
   */
  #learn(late: number): void {
    this.#samples[this.#count++ & 63] = late;
    if ((this.#count & 15) !== 0) return;
    const recent = this.#samples.slice(0, Math.min(this.#count, 64)).sort();
    this.#margin = Math.min(2, recent[Math.floor(0.9 * (recent.length - 1))] + 0.01);
  }

  /**
   * Blocks until `sharedNow() >= due[0]` (true), or until `word[index]` is no longer `value`
   * or `word[stopIndex]` is not 0 (false: something to look at, a frame or a stop request).
   * `due[0]` is read again after every sleep, so a driver can move the deadline.
   */
  sleepUntil(word: Int32Array, index: number, value: number, due: Float64Array, stopIndex = index): boolean {
    const changed = (): boolean => Atomics.load(word, index) !== value || (stopIndex !== index && Atomics.load(word, stopIndex) !== 0);
    for (;;) {
      if (changed()) return false;
      const now = sharedNow();
      const wakeAt = due[0] - this.marginMs;
      if (wakeAt - now > 0.02) {
        const asked = Math.min(wakeAt - now, SLEEP_MS);
        if (Atomics.wait(word, index, value, asked) === 'timed-out') this.#learn(Math.max(0, sharedNow() - now - asked));
        continue;
      }
      for (let i = 0; ; i++) {
        if (changed()) return false;
        if ((i & 15) === 15 && sharedNow() >= due[0]) return true;
      }
    }
  }
}

/**
 * How long a thread may spin before each deadline of a loop with this period (ms): 5% of the
 * period, from 5 to 200 µs, so spinning never costs a thread more than 5% of a core. Timed
 * waits here wake 25-150 µs late (more after longer sleeps), so a 500 Hz loop (100 µs) meets
 * its deadlines at spin precision, while a 100 Hz loop spins at most 200 µs a frame.
 */
export const spinBudget = (periodMs: number): number => Math.min(MAX_SPIN_MS, Math.max(0.005, 0.05 * periodMs));

/**
 * How a worker waits for the next published frame. With a clocked source (the pacing line
 * says when the next frame is due) it sleeps until just before that time and spins only the
 * last stretch ({@link DeadlineSleeper}), so the frame starts at spin latency with no wake-up
 * at all. Without a clock it spins for a budget adapted to the gaps it has seen between
 * frames (up to {@link MAX_SPIN_MS}), then sleeps until the driver's notify: back-to-back
 * frames are caught spinning, rare ones cost one wake-up and almost no CPU.
 */
export class FrameWaiter {
  readonly #ctrl: Int32Array;
  readonly #spin: boolean;
  /** 1 + this worker's index: the value of PARK that asks it to park. */
  readonly #me: number;
  readonly #pace: Float64Array;
  readonly #sleeper = new DeadlineSleeper();
  /** Smoothed gap between being ready for a frame and its publication (ms). */
  #gap = 0;

  constructor(ctrl: Int32Array, spin: boolean, worker: number) {
    this.#ctrl = ctrl;
    this.#spin = spin;
    this.#me = worker + 1;
    this.#pace = paceOf(ctrl);
  }

  /** Blocks until frame k is published (`frame`), the engine stops (`stop`) or the driver asks this worker to park (`park`). */
  wait(k: number): 'frame' | 'stop' | 'park' {
    const ctrl = this.#ctrl;
    if (Atomics.load(ctrl, PUBLISHED) >= k) {
      this.#gap *= 0.75;
      return 'frame';
    }
    const t0 = performance.now();
    if (this.#spin) {
      if (Atomics.load(ctrl, CLOCKED) === 1) {
        if (this.#clocked(k)) return 'frame';
      } else {
        const budget = this.#gap <= MAX_SPIN_MS ? Math.min(MAX_SPIN_MS, 2 * this.#gap + BASE_SPIN_MS) : BASE_SPIN_MS;
        if (spinUntil(ctrl, PUBLISHED, k, t0 + budget)) {
          this.#gap = 0.75 * this.#gap + 0.25 * (performance.now() - t0);
          return 'frame';
        }
      }
    }
    for (;;) {
      const value = Atomics.load(ctrl, PUBLISHED);
      if (value >= k) break;
      if (Atomics.load(ctrl, STOP) !== 0) return 'stop';
      if (Atomics.load(ctrl, PARK) === this.#me) return 'park';
      Atomics.wait(ctrl, PUBLISHED, value, SLEEP_MS);
    }
    this.#gap = 0.75 * this.#gap + 0.25 * (performance.now() - t0);
    return 'frame';
  }

  /** Sleeps until the frame's due time, then spins a little past it for the driver; true when it came. */
  #clocked(k: number): boolean {
    const ctrl = this.#ctrl;
    for (;;) {
      const value = Atomics.load(ctrl, PUBLISHED);
      if (value >= k) return true;
      if (Atomics.load(ctrl, STOP) !== 0 || Atomics.load(ctrl, CLOCKED) !== 1) return false;
      this.#sleeper.maxSpinMs = this.#pace[1];
      if (this.#sleeper.sleepUntil(ctrl, PUBLISHED, value, this.#pace, STOP)) {
        // Due now: the driver publishes within microseconds unless it woke late itself, which
        // it may by as much as its own spin budget.
        return spinUntil(ctrl, PUBLISHED, k, performance.now() + LATE_SPIN_MS + this.#pace[1]);
      }
    }
  }
}

/**
 * A worker asked to park: says so in PARKED and sleeps until the driver gives its share of
 * the frames back (or the engine stops).
 */
export function park(ctrl: Int32Array, parkedIndex: number, worker: number): void {
  Atomics.store(ctrl, parkedIndex, worker + 1);
  Atomics.notify(ctrl, parkedIndex);
  // Unparking and stopping both notify PARK; the timeout is only a safety net (a parked
  // thread waking every 50 ms would cost ~1 ms of CPU a second on this VM).
  while (Atomics.load(ctrl, PARK) === worker + 1 && Atomics.load(ctrl, STOP) === 0) Atomics.wait(ctrl, PARK, worker + 1, 1000);
  Atomics.store(ctrl, parkedIndex, 0);
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
