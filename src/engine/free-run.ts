// Free-running over a stream of input frames (Session.run, Runtime.run): up to `queue` frames
// published ahead of the workers, outputs yielded in order as copies or as views.
import type { Network } from '../graph/network.js';
import type { HeldFrames, OutputFrame } from './frame-views.js';
import { checkInputFrame, type InputFrame } from '../io/inputs.js';
import { RuntimeError, type RunOptions, type TickResult } from './runtime-types.js';

/** What free-running needs of its session. */
export interface FreeRunHost {
  readonly network: Network;
  readonly queue: number;
  readonly held: HeldFrames;
  /** Takes the session for one step of the run: the function that lets the next caller in (at once when the session is free). */
  acquire(): (() => void) | Promise<() => void>;
  assertOpen(): void;
  failed(): boolean;
  /** The next frame's number once it may be written (at once when it may now); throws when held views block it. */
  nextFrame(signal?: AbortSignal): number | Promise<number>;
  /** The tick frame f is. */
  tickOf(f: number): number;
  /** Copies one (checked) array per input into frame f's slots. */
  write(arrays: readonly ArrayLike<number>[], f: number): void;
  /** Publishes the written frame; resolves with its engine frame. */
  submit(): number | Promise<number>;
  /** Whether the outputs of engine frame k are ready. */
  outputsReady(k: number): boolean;
  outputsOf(k: number, signal?: AbortSignal): Promise<void>;
  /** Waits until every node has finished engine frame k (errors swallowed by the caller). */
  frameDone(k: number): Promise<unknown>;
  recordLatency(us: number): void;
  /** An output frame of frame f, released by dropping its hold. */
  viewsOf(f: number, latencyUs: number): OutputFrame;
  copyOutputs(f: number): Record<string, Float32Array>;
}

/**
 * Feeds frames from `inputs` as fast as the engine takes them and yields each tick's outputs
 * in order; see Session.run. A frame's outputs are yielded as soon as they are ready: the
 * queue bounds how many frames run ahead, it is not filled first (a live source at 20 Hz
 * gets each answer a frame later, not 32 frames later). The session is held only while a
 * `next()` runs, so an iterator dropped without `return()` blocks nobody; an abort ends the
 * run even while the source is waiting for its next frame.
 */
export function freeRun(host: FreeRunHost, inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: RunOptions): AsyncIterable<TickResult | OutputFrame> {
  const views = options.views === true;
  return {
    [Symbol.asyncIterator]: () => {
      let release: (() => void) | undefined;
      // A synchronous source (an array, a generator) has its next frame at hand: it is taken
      // directly, without a promise per frame.
      const sync = !(Symbol.asyncIterator in inputs);
      const source = sync ? (inputs as Iterable<InputFrame>)[Symbol.iterator]() : (inputs as AsyncIterable<InputFrame>)[Symbol.asyncIterator]();
      const pending: { f: number; k: number; t0: number }[] = [];
      let exhausted = false;
      let finished = false;
      let current: OutputFrame | undefined;
      /** The source's next item, asked for and not yet taken. */
      let upcoming: Promise<IteratorResult<InputFrame>> | undefined;
      const abortError = (): Error => new RuntimeError('run aborted', { cause: options.signal?.reason });
      /** Settles with the source's next item, or rejects when the run is aborted first. */
      const nextItem = (): Promise<IteratorResult<InputFrame>> => {
        upcoming ??= Promise.resolve(source.next());
        const item = upcoming;
        const signal = options.signal;
        if (signal === undefined) return item;
        return new Promise((resolve, reject) => {
          const onAbort = (): void => reject(abortError());
          if (signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
          item.then(
            (v) => {
              signal.removeEventListener('abort', onAbort);
              resolve(v);
            },
            (e: unknown) => {
              signal.removeEventListener('abort', onAbort);
              reject(e);
            },
          );
        });
      };
      const finish = async (): Promise<IteratorResult<TickResult | OutputFrame>> => {
        current?.release();
        current = undefined;
        if (!finished) {
          finished = true;
          // Let in-flight frames finish so the next call starts from a settled engine.
          const last = pending[pending.length - 1];
          if (last !== undefined && !host.failed()) await host.frameDone(last.k).catch(() => undefined);
          for (const p of pending) host.held.release(p.f);
          pending.length = 0;
          release?.();
          release = undefined;
          if (!exhausted) {
            // A source still producing its next item (an async generator awaiting) would only
            // return after it: tell it to, but do not wait.
            const closing = Promise.resolve(source.return?.()).catch(() => undefined);
            if (upcoming === undefined) await closing;
          }
        }
        return { done: true, value: undefined };
      };
      return {
        async next(): Promise<IteratorResult<TickResult | OutputFrame>> {
          if (finished) return { done: true, value: undefined };
          current?.release();
          current = undefined;
          const acquired = host.acquire();
          release = typeof acquired === 'function' ? acquired : await acquired;
          try {
            host.assertOpen();
            if (options.signal?.aborted === true) throw abortError();
            while (!exhausted && pending.length < host.queue) {
              // With frames in flight, take more only while the source has them at hand: once
              // the oldest frame's outputs are ready, yield them rather than wait for the source.
              // (A source that has its next frame at once, a generator say, always wins: the
              // outputs only count after a turn of the event loop.)
              const item = sync
                ? (source as Iterator<InputFrame>).next()
                : pending.length === 0
                  ? await nextItem()
                  : await Promise.race([nextItem(), host.outputsOf(pending[0].k, options.signal).then(() => new Promise<null>((resolve) => setImmediate(() => resolve(null))))]);
              if (item === null) break;
              upcoming = undefined;
              if (item.done === true) {
                exhausted = true;
                break;
              }
              const next = host.nextFrame(options.signal);
              const f = typeof next === 'number' ? next : await next;
              const arrays = checkInputFrame(host.network, item.value, host.tickOf(f), 'reject', false);
              host.write(arrays, f);
              host.held.hold(f);
              const t0 = performance.now();
              const submitted = host.submit();
              const k = typeof submitted === 'number' ? submitted : await submitted;
              pending.push({ f, k, t0 });
            }
            const head = pending[0];
            if (head === undefined) return await finish();
            // Sleep until half the queue is done, not just the head: one wake-up of this
            // thread per queue/2 frames instead of one per frame, while the workers always
            // have frames left to run.
            if (!host.outputsReady(head.k)) await host.outputsOf(pending[Math.min(pending.length - 1, host.queue >> 1)].k, options.signal);
            pending.shift();
            const latencyUs = (performance.now() - head.t0) * 1000;
            host.recordLatency(latencyUs);
            // The session is free between next() calls (frames in flight are held, not lost).
            release();
            release = undefined;
            if (views) {
              current = host.viewsOf(head.f, latencyUs);
              return { done: false, value: current };
            }
            const outputs = host.copyOutputs(head.f);
            host.held.release(head.f);
            return { done: false, value: { tick: host.tickOf(head.f), outputs, latencyUs } };
          } catch (err) {
            await finish();
            throw err;
          }
        },
        async return(): Promise<IteratorResult<TickResult | OutputFrame>> {
          return finish();
        },
      };
    },
  };
}
