import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const CLOCK_WORKER = fileURLToPath(new URL('../../workers/clock.js', import.meta.url));
const STOP = 0;
const TICK = 1;

/**
 * A fixed-rate tick source driven by absolute deadlines: tick k is due at
 * `start + k / rateHz`, so lateness never accumulates into drift (as setInterval's does).
 * A small clock thread sleeps until each deadline and wakes this one, so waiting costs no
 * CPU here and the event loop stays free. Yields `{index, deadline}` (deadline in
 * `performance.now()` time of this thread); a consumer slower than the rate gets the ticks
 * that came due meanwhile at once.
 */
export async function* fixedRate(rateHz: number, options: { ticks?: number; signal?: AbortSignal } = {}): AsyncGenerator<{ index: number; deadline: number }> {
  if (!(rateHz > 0) || !Number.isFinite(rateHz)) throw new RangeError(`rate must be a positive number of Hz, got ${rateHz}`);
  const periodMs = 1000 / rateHz;
  const ticks = options.ticks ?? Number.MAX_SAFE_INTEGER;
  const words = new Int32Array(new SharedArrayBuffer(8));
  words[TICK] = -1;
  // Start a little ahead so the thread is up before tick 0 is due.
  const startLocal = performance.now() + 30;
  const worker = new Worker(CLOCK_WORKER, { workerData: { words, start: performance.timeOrigin + startLocal, periodMs, ticks } });
  const stop = (): void => {
    Atomics.store(words, STOP, 1);
    Atomics.notify(words, STOP);
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    for (let index = 0; index < ticks && options.signal?.aborted !== true; index++) {
      for (;;) {
        const due = Atomics.load(words, TICK);
        if (due >= index || options.signal?.aborted) break;
        const wait = Atomics.waitAsync(words, TICK, due, 100);
        if (wait.async) await wait.value;
      }
      if (options.signal?.aborted) return;
      yield { index, deadline: startLocal + index * periodMs };
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    stop();
    await worker.terminate();
  }
}
