// Which streams each engine frame computes. Sessions hand in frames whose inputs they have
// written; the batcher publishes them, all streams with a frame ready in one engine frame
// (each worker then runs its layers for all of them at once), as soon as the engine has room.
// A stream with nothing ready is simply not in the batch, so it delays nobody.
import type { FrameDriver } from './frame-driver.js';
import type { FrameWatch } from './frame-watch.js';

/** The streams waiting for the next engine frame, and the one promise they all get: they all go out in it. */
interface Pending {
  readonly streams: number[];
  readonly promise: Promise<number>;
  readonly resolve: (k: number) => void;
  readonly reject: (err: unknown) => void;
}

function pendingBatch(): Pending {
  let resolve!: (k: number) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { streams: [], promise, resolve, reject };
}

export class Batcher {
  #driver: FrameDriver;
  readonly #watch: FrameWatch;
  readonly #guard: <T>(p: Promise<T> | undefined) => Promise<T | undefined>;
  #pending: Pending | undefined;
  #flushing = false;
  /** Per stream, the engine frame its last frame went out in (0: never). */
  #lastOut: Int32Array;
  #paused: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  /** Callers inside {@link exclusive}, and who waits for them to leave. */
  #direct = 0;
  #directDone: (() => void) | undefined;

  constructor(driver: FrameDriver, watch: FrameWatch, guard: <T>(p: Promise<T> | undefined) => Promise<T | undefined>) {
    this.#driver = driver;
    this.#watch = watch;
    this.#guard = guard;
    this.#lastOut = new Int32Array(driver.streams);
  }

  /**
   * Publishes through another driver from now on (the runtime grew onto a new arena, its
   * frames and staged inputs copied); only while paused. Frames handed in meanwhile go out
   * through it on resume.
   */
  retarget(driver: FrameDriver): void {
    if (this.#paused === undefined) throw new Error('Batcher.retarget: only while paused');
    const last = new Int32Array(driver.streams);
    last.set(this.#lastOut.subarray(0, Math.min(last.length, this.#lastOut.length)));
    this.#lastOut = last;
    this.#driver = driver;
  }

  /** Whether a stream other than `stream` sent a frame within the last `queue` engine frames. */
  #othersActive(stream: number): boolean {
    const since = this.#driver.engineFrame - this.#driver.queue;
    const last = this.#lastOut;
    for (let s = 0; s < last.length; s++) if (s !== stream && last[s] > 0 && last[s] > since) return true;
    return false;
  }

  /**
   * Publishes `stream`'s next frame (its inputs written; at most one pending per stream) and
   * returns its engine frame: at once when no other stream has been sending frames lately
   * and the engine has room, otherwise with every stream that hands in a frame before the
   * next turn of the event loop.
   */
  submit(stream: number): number | Promise<number> {
    const driver = this.#driver;
    if (this.#paused === undefined && !this.#flushing && this.#pending === undefined && driver.completed() >= driver.engineFrame + 1 - driver.queue && !this.#othersActive(stream)) {
      const k = driver.publishOne(stream);
      this.#lastOut[stream] = k;
      return k;
    }
    const pending = (this.#pending ??= pendingBatch());
    pending.streams.push(stream);
    if (!this.#flushing) {
      this.#flushing = true;
      // After this turn's other sessions have handed in their frames too.
      setImmediate(() => void this.#flush());
    }
    return pending.promise;
  }

  async #flush(): Promise<void> {
    let batch: Pending | undefined;
    try {
      while (this.#pending !== undefined) {
        const driver = this.#driver;
        // Every wait is followed by a fresh look: nothing is published after a pause began.
        if (this.#paused !== undefined) {
          await this.#paused;
          continue;
        }
        const k = driver.engineFrame + 1;
        // Engine frame k - queue must be done: its batch entry and input slots are reused.
        if (driver.completed() < k - driver.queue) {
          await this.#guard(this.#watch.frameDone(k - driver.queue));
          continue;
        }
        batch = this.#pending;
        this.#pending = undefined;
        const k2 = driver.publishBatch(batch.streams);
        for (const s of batch.streams) this.#lastOut[s] = k2;
        batch.resolve(k2);
        batch = undefined;
      }
    } catch (err) {
      // The batch being published when it failed, and any handed in since.
      batch?.reject(err);
      this.#pending?.reject(err);
      this.#pending = undefined;
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * Runs `fn`, which publishes frames itself (driver.publishOne, after its own room checks),
   * while no pause is in force; a pause waits for it to end.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#paused !== undefined) await this.#paused;
    this.#direct++;
    try {
      return await fn();
    } finally {
      if (--this.#direct === 0) this.#directDone?.();
    }
  }

  /**
   * Stops publishing (frames handed in meanwhile wait) until the returned function is called,
   * once every frame already published is complete: the engine is then free to lend.
   */
  async pause(): Promise<() => void> {
    while (this.#paused !== undefined) await this.#paused;
    this.#paused = new Promise<void>((resolve) => (this.#resume = resolve));
    if (this.#direct > 0) await new Promise<void>((resolve) => (this.#directDone = resolve));
    this.#directDone = undefined;
    await this.#guard(this.#watch.frameDone(this.#driver.engineFrame));
    return () => {
      const resume = this.#resume;
      this.#paused = undefined;
      this.#resume = undefined;
      resume?.();
    };
  }
}
