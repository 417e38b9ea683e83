// Free-running over a stream of input frames (Session.run, Runtime.run): up to `queue` frames
// published ahead of the workers, outputs yielded in order as copies or as views.
import type { Network } from '../graph/network.js';
import type { HeldFrames, OutputFrame } from './frame-views.js';
import { checkInputFrame, type InputFrame } from './inputs.js';
import { RuntimeError, type RunOptions, type TickResult } from './runtime-types.js';

/** What free-running needs of its session. */
export interface FreeRunHost {
  readonly network: Network;
  readonly queue: number;
  readonly held: HeldFrames;
  /** Takes the session for this run; resolves with the function that lets the next caller in. */
  acquire(): Promise<() => void>;
  assertOpen(): void;
  failed(): boolean;
  /** Waits until the next frame may be written and returns its number; throws when held views block it. */
  nextFrame(signal?: AbortSignal): Promise<number>;
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
 * in order; see Session.run.
 */
export function freeRun(host: FreeRunHost, inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: RunOptions): AsyncIterable<TickResult | OutputFrame> {
  const views = options.views === true;
  return {
    [Symbol.asyncIterator]: () => {
      let release: (() => void) | undefined;
      const source = Symbol.asyncIterator in inputs ? (inputs as AsyncIterable<InputFrame>)[Symbol.asyncIterator]() : (inputs as Iterable<InputFrame>)[Symbol.iterator]();
      const pending: { f: number; k: number; t0: number }[] = [];
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
          if (last !== undefined && !host.failed()) await host.frameDone(last.k).catch(() => undefined);
          for (const p of pending) host.held.release(p.f);
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
            while (!exhausted && pending.length < host.queue) {
              const f = await host.nextFrame(options.signal);
              const item = await source.next();
              if (item.done === true) {
                exhausted = true;
                break;
              }
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
