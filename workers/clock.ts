// The clock thread: sleeps on a futex with a timeout until each deadline (precise to tens
// of microseconds, no spinning), then advances the tick word and wakes the main thread,
// which waits on it with Atomics.waitAsync. Word 0: stop flag; word 1: last tick due.
import { parentPort, workerData } from 'node:worker_threads';

interface ClockData {
  readonly words: Int32Array;
  /** Absolute time (performance.timeOrigin + performance.now(), ms) of tick 0. */
  readonly start: number;
  readonly periodMs: number;
  readonly ticks: number;
}

const STOP = 0;
const TICK = 1;
const { words, start, periodMs, ticks } = workerData as ClockData;
const now = (): number => performance.timeOrigin + performance.now();

for (let k = 0; k < ticks && Atomics.load(words, STOP) === 0; k++) {
  const deadline = start + k * periodMs;
  for (let left = deadline - now(); left > 0 && Atomics.load(words, STOP) === 0; left = deadline - now()) {
    // The futex wakes a little late on a busy machine; the last stretch is a short spin.
    if (left > 0.15) Atomics.wait(words, STOP, 0, left - 0.1);
  }
  Atomics.store(words, TICK, k);
  Atomics.notify(words, TICK);
}
parentPort?.postMessage('done');
