import { STOP } from './control.js';

/**
 * Loads of a word to spin through before sleeping on it. Spinning answers in about a
 * microsecond instead of ~10 µs for a futex wake-up, but only pays while every spinning
 * thread has a core of its own (with more, spinners steal the core the awaited thread needs).
 */
const SPIN_LOADS = 4_000;
/** Sleeps are bounded so a stop request is seen even if its notify is missed. */
export const SLEEP_MS = 50;

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
