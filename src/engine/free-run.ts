// Free-running over a stream of input frames (Runtime.run): up to `queue` frames published
// ahead of the workers, outputs yielded in order as copies or as views.
import type { Network } from '../graph/network.js';
import type { FrameDriver } from './frame-driver.js';
import type { HeldFrames, OutputFrame } from './frame-views.js';
import { checkInputFrame, type InputFrame } from './inputs.js';
import { RuntimeError, type RunOptions, type TickResult } from './runtime-types.js';

/** What free-running needs of its runtime. */
export interface FreeRunHost {
  readonly network: Network;
  readonly driver: FrameDriver;
  readonly held: HeldFrames;
  /** Takes the runtime for this run; resolves with the function that lets the next caller in. */
  acquire(): Promise<() => void>;
  assertOpen(): void;
  failed(): boolean;
  /** Waits until frame k may be written (see Runtime); throws when held views block it. */
  room(k: number, signal?: AbortSignal): Promise<void> | undefined;
  outputsOf(k: number, signal?: AbortSignal): Promise<void>;
  guard<T>(p: Promise<T> | undefined): Promise<T | undefined>;
  recordLatency(us: number): void;
  /** An output frame of engine frame k, released by dropping its hold. */
  viewsOf(k: number, latencyUs: number): OutputFrame;
}

/**
 * Feeds frames from `inputs` as fast as the engine takes them and yields each tick's outputs
 * in order; see Runtime.run.
 */
export function freeRun(host: FreeRunHost, inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: RunOptions): AsyncIterable<TickResult | OutputFrame> {
  const driver = host.driver;
  const views = options.views === true;
  return {
    [Symbol.asyncIterator]: () => {
      let release: (() => void) | undefined;
      const source = Symbol.asyncIterator in inputs ? (inputs as AsyncIterable<InputFrame>)[Symbol.asyncIterator]() : (inputs as Iterable<InputFrame>)[Symbol.iterator]();
      const pending: { k: number; t0: number }[] = [];
      let exhausted = false;
      let finished = false;
      let current: OutputFrame | undefined;
      const abortError = (): Error => new RuntimeError('run aborted', { cause: options.signal?.reason });
      const finish = async (): Promise<IteratorResult<TickResult | OutputFrame>> => {
        current?.release();
        current = undefined;
        if (!finished) {
          finished = true;
          // Let in-flight frames finish so the next call starts from a settled engine.
          const last = pending[pending.length - 1];
          if (last !== undefined && !host.failed()) await host.guard(driver.frameDone(last.k)).catch(() => undefined);
          for (const p of pending) host.held.release(p.k);
          pending.length = 0;
          release?.();
          if (!exhausted) await source.return?.();
        }
        return { done: true, value: undefined };
      };
      return {
        async next(): Promise<IteratorResult<TickResult | OutputFrame>> {
          if (finished) return { done: true, value: undefined };
          current?.release();
          current = undefined;
          release ??= await host.acquire();
          try {
            host.assertOpen();
            if (options.signal?.aborted === true) throw abortError();
            while (!exhausted && pending.length < driver.queue) {
              const k = driver.engineFrame + 1;
              const room = host.room(k, options.signal);
              if (room !== undefined) await room;
              const item = await source.next();
              if (item.done === true) {
                exhausted = true;
                break;
              }
              const arrays = checkInputFrame(host.network, item.value, driver.tickOf(k), 'reject', false);
              driver.writeInputs(arrays, k);
              host.held.hold(k);
              pending.push({ k, t0: performance.now() });
              driver.publish(k);
            }
            const head = pending[0];
            if (head === undefined) return await finish();
            // Sleep until half the queue is done, not just the head: one wake-up of this
            // thread per queue/2 frames instead of one per frame, while the workers always
            // have frames left to run.
            if (driver.firstBehind(host.network.outputs, head.k) >= 0) await host.outputsOf(pending[Math.min(pending.length - 1, driver.queue >> 1)].k, options.signal);
            pending.shift();
            const latencyUs = (performance.now() - head.t0) * 1000;
            host.recordLatency(latencyUs);
            if (views) {
              current = host.viewsOf(head.k, latencyUs);
              return { done: false, value: current };
            }
            const outputs = driver.copyOutputs(head.k);
            host.held.release(head.k);
            return { done: false, value: { tick: driver.tickOf(head.k), outputs, latencyUs } };
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
