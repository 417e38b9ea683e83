import { EngineStopped } from './frame-driver.js';

/**
 * Races waits on the engine against its end: every promise passed through `guard` rejects as
 * soon as the engine fails or closes (with that reason) or an abort signal fires, instead of
 * waiting for workers that will never get there.
 */
export class StopGuard {
  /** Rejecters of everything waiting on the engine. */
  readonly #waiters = new Set<(error: Error) => void>();
  /** Why the engine can no longer be waited on, or undefined while it runs. */
  readonly #ended: () => Error | undefined;
  readonly #aborted: (reason: unknown) => Error;

  constructor(ended: () => Error | undefined, aborted: (reason: unknown) => Error) {
    this.#ended = ended;
    this.#aborted = aborted;
  }

  /** Rejects every pending wait with `error` (the engine failed or closed). */
  stopAll(error: Error): void {
    for (const stop of [...this.#waiters]) stop(error);
  }

  /** Waits for `p`, but rejects as soon as the engine ends or `signal` aborts. */
  guard<T>(p: Promise<T> | undefined, signal?: AbortSignal): Promise<T | undefined> {
    if (p === undefined && signal?.aborted !== true) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      const settle = (f: () => void): void => {
        this.#waiters.delete(stop);
        if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
        f();
      };
      const stop = (error: Error): void => settle(() => reject(error));
      // The engine stopping is reported through `stop` (with the failure or the close as
      // the reason), not by the wait that noticed it.
      p?.then(
        (v) => settle(() => resolve(v)),
        (e: unknown) => void (e instanceof EngineStopped || settle(() => reject(e))),
      );
      const ended = this.#ended();
      if (ended !== undefined) return stop(ended);
      this.#waiters.add(stop);
      if (signal !== undefined) {
        onAbort = (): void => stop(this.#aborted(signal.reason));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }
}
