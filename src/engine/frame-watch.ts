// Waits on the engine from a thread with an event loop (the Runtime's): any number of callers
// (sessions, free-running loops) wait for nodes to finish engine frames, and one loop sleeps
// on the driver's single wake request for all of them. Frames complete in order, so waking
// for the earliest wait and settling every satisfied one on each wake-up serves them all.
import { EngineStopped, type FrameDriver } from './frame-driver.js';

interface Waiter {
  readonly nodes: readonly number[];
  readonly k: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class FrameWatch {
  #driver: FrameDriver;
  readonly #onActive: ((active: boolean) => void) | undefined;
  #waiters: Waiter[] = [];
  #running = false;

  /** `onActive(true)` when the first wait begins, `onActive(false)` when the last one settles. */
  constructor(driver: FrameDriver, onActive?: (active: boolean) => void) {
    this.#driver = driver;
    this.#onActive = onActive;
  }

  /** Watches another driver from now on (the runtime grew onto a new arena); nobody may be waiting. */
  retarget(driver: FrameDriver): void {
    if (this.#waiters.length > 0 || this.#running) throw new Error('FrameWatch.retarget: frames are still awaited');
    this.#driver = driver;
  }

  /** Resolves when `nodes` have finished engine frame k; undefined (no promise at all) when they have. Rejects with EngineStopped. */
  done(nodes: readonly number[], k: number): Promise<void> | undefined {
    if (this.#driver.firstBehind(nodes, k) < 0) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ nodes, k, resolve, reject });
      if (!this.#running) void this.#run();
    });
  }

  /** Resolves when every computed node has finished engine frame k. */
  frameDone(k: number): Promise<void> | undefined {
    return this.done(this.#driver.computed, k);
  }

  /** Resolves when the output nodes have finished engine frame k. */
  outputsDone(k: number): Promise<void> | undefined {
    return this.done(this.#driver.net.outputs, k);
  }

  #settle(): void {
    const driver = this.#driver;
    if (this.#waiters.every((w) => driver.firstBehind(w.nodes, w.k) >= 0)) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (driver.firstBehind(w.nodes, w.k) < 0) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  async #run(): Promise<void> {
    this.#running = true;
    this.#onActive?.(true);
    const driver = this.#driver;
    try {
      for (;;) {
        this.#settle();
        if (this.#waiters.length === 0) return;
        let first = this.#waiters[0];
        for (const w of this.#waiters) if (w.k < first.k) first = w;
        const k = wakeFrame(first.k, driver.engineFrame);
        const v = driver.firstBehind(first.nodes, k);
        if (v >= 0) await driver.wakeWhen(v, k);
      }
    } catch (err) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.reject(err instanceof Error ? err : new EngineStopped());
    } finally {
      this.#running = false;
      this.#onActive?.(false);
    }
  }
}

/**
 * The engine frame to be woken at when the earliest wait is for frame `k` and frames up to
 * `published` are out: k itself when little more is out (a step, a live source), else
 * halfway to the last one published. Each wake-up costs the worker that gives it a syscall,
 * and a thread woken for every engine frame hands its sessions' next frames in one by one;
 * woken halfway it answers and refills many at once, so engine frames carry fuller batches,
 * while the workers compute the other half. Frames complete in order, so every wait up to
 * then is settled.
 */
export function wakeFrame(k: number, published: number): number {
  return k + Math.max(0, (published - k) >> 1);
}
