// A stream of frames with a state set of its own (a session): its own frame count and tick,
// starting from zeros, on a stream slot of the runtime's arena. The runtime's own frame API
// (Runtime.step, nextInput, run, repeat, reset) is its first session; Runtime.open() hands
// out more. Sessions share the workers: each engine frame computes every session that has a
// frame ready (see Batcher), and each session's outputs equal a runtime serving it alone.
import type { Network } from '../graph/network.js';
import type { Batcher } from './batcher.js';
import type { FrameDriver } from './frame-driver.js';
import { freeRun, type FreeRunHost } from './free-run.js';
import { HeldFrames, InputSlot, OutputFrame, ViewError } from './frame-views.js';
import type { FrameWatch } from './frame-watch.js';
import { checkInputFrame, type InputFrame } from '../io/inputs.js';
import { RuntimeError, type RunOptions, type TickResult } from './runtime-types.js';

/** What a session needs of its runtime. */
export interface SessionHost {
  readonly network: Network;
  readonly driver: FrameDriver;
  readonly watch: FrameWatch;
  readonly batcher: Batcher;
  /** Throws when the runtime was closed or failed. */
  assertOpen(): void;
  failed(): boolean;
  /** Waits for `p`, but rejects as soon as the runtime fails or closes, or `signal` aborts. */
  guard<T>(p: Promise<T> | undefined, signal?: AbortSignal): Promise<T | undefined>;
  recordLatency(us: number): void;
  /** Takes the stream slot back once the session closed and its frames are done. */
  release(stream: number): void;
}

/** Options of `Runtime.open`. */
export interface SessionOptions {
  /** When every stream is taken: wait for one to be closed (true) or throw (false, default). */
  readonly wait?: boolean;
  /** Ends a wait for a free stream. */
  readonly signal?: AbortSignal;
  /** Close the session after this long without a call (ms); default: never. */
  readonly idleTimeoutMs?: number;
}

/**
 * One stream of frames with its own states, served by a runtime's workers together with its
 * other sessions. The frame API is the runtime's: `step()` (copies), `nextInput()`/`commit()`
 * (zero-copy views), `run()` (free-running), `repeat()`, `reset()`. Calls on one session are
 * served in order; different sessions run concurrently, batched into shared engine frames.
 * `close()` gives its stream back (states are zeroed for the next session).
 *
 * @example
 * const rt = await Runtime.create('examples/mnist-sr.json', { streams: 8 });
 * const a = await rt.open();
 * const b = await rt.open();
 * const [ya, yb] = await Promise.all([a.step(frameA), b.step(frameB)]); // one engine frame
 * await a.close();
 */
export class Session implements AsyncDisposable {
  /** The stream slot this session computes in (0 is the runtime's own). */
  readonly stream: number;
  readonly #host: SessionHost;
  readonly #held = new HeldFrames();
  /** Output frames handed out and not released, input slots not committed: a closing session ends them. */
  readonly #frames = new Set<OutputFrame>();
  readonly #slots = new Set<InputSlot>();
  /** Whether a call holds the session; the callers waiting for it, first in line first. */
  #locked = false;
  readonly #waiting: (() => void)[] = [];
  /** The last frame handed to the batcher (published once the driver counts it). */
  #submitted: Promise<number> | undefined;
  #closing: Promise<void> | undefined;
  #idle: { readonly ms: number; timer: NodeJS.Timeout | undefined } | undefined;
  /** The last frame written (published or about to be). */
  #written: number;

  /** @internal made by Runtime.open (and the runtime for its own stream) */
  constructor(host: SessionHost, stream: number, options: { idleTimeoutMs?: number } = {}) {
    this.#host = host;
    this.stream = stream;
    this.#written = host.driver.frameOf(stream);
    if (options.idleTimeoutMs !== undefined) {
      if (!(options.idleTimeoutMs > 0)) throw new RangeError(`idleTimeoutMs must be > 0, got ${options.idleTimeoutMs}`);
      this.#idle = { ms: options.idleTimeoutMs, timer: undefined };
      this.#touch();
    }
  }

  /**
   * Goes on from the stream's latest frame after another thread drove it (a real-time loop
   * runs the runtime's own stream while the engine is lent): the next frame is written after
   * those, not over one of them.
   * @internal called by the runtime when a lend ends
   */
  followDriver(): void {
    this.#written = this.#host.driver.frameOf(this.stream);
  }

  /** Ticks computed since the session opened (or its last reset). */
  get tick(): number {
    return this.#host.driver.tickOf(this.stream, this.#host.driver.frameOf(this.stream));
  }

  /** Whether `close()` was called (or the idle timeout closed it). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Input frames that may be in flight, and the most output frames that may be held: the
   * runtime's `queue` for its own stream, `sessionQueue` for a session of `open()`.
   */
  get queue(): number {
    return this.#host.driver.queueOf(this.stream);
  }

  /**
   * Presents the session's next input frame and resolves with that tick's outputs (row-major
   * copies). Calls are served one at a time, in order.
   * @throws InputError for a bad input (the session stays usable); RuntimeError once closed
   */
  step(input: InputFrame): Promise<Record<string, Float32Array>> {
    return this.#exclusive(async () => {
      this.#assertOpen();
      const driver = this.#host.driver;
      const f = this.#written + 1;
      const arrays = checkInputFrame(this.#host.network, input, driver.tickOf(this.stream, f), 'reject', false);
      await this.#room();
      // Closing stops writes: nothing lands in the stream once close() began.
      this.#assertOpen();
      driver.writeInputs(arrays, this.stream, f);
      const t0 = performance.now();
      const k = await this.#submit(f);
      await this.#outputsOf(k);
      const outputs = driver.copyOutputs(this.stream, f);
      this.#host.recordLatency((performance.now() - t0) * 1000);
      return outputs;
    });
  }

  /**
   * The zero-copy way in: resolves with the session's next input frame slot in the arena
   * (zeroed) once there is room for it; `slot.commit()` resolves with its {@link OutputFrame}.
   * See Runtime.nextInput.
   * @throws ViewError when `queue` output frames are still held; RuntimeError once closed
   */
  async nextInput(options: { signal?: AbortSignal } = {}): Promise<InputSlot> {
    const release = await this.#acquire();
    try {
      this.#assertOpen();
      const driver = this.#host.driver;
      await this.#room(options.signal);
      this.#assertOpen();
      const f = this.#written + 1;
      driver.clearInputs(this.stream, f);
      const slots = driver.inputViews(this.stream, f);
      const views: Record<string, Float32Array> = {};
      this.#host.network.inputs.forEach((v, j) => (views[this.#host.network.nodes[v].name] = slots[j]));
      const slot: InputSlot = new InputSlot(driver.tickOf(this.stream, f), views, {
        commit: () => {
          this.#assertOpen();
          driver.checkInputs(this.stream, f);
          this.#held.hold(f);
          const t0 = performance.now();
          const k = this.#submit(f);
          this.#slots.delete(slot);
          release();
          return this.#outputFrame(f, k, t0);
        },
        cancel: () => {
          this.#slots.delete(slot);
          release();
        },
      });
      this.#slots.add(slot);
      return slot;
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * Free-running over a stream of frames: see Runtime.run. Other sessions keep being served
   * meanwhile (their frames share the engine frames).
   */
  run(inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options?: RunOptions & { views?: false }): AsyncIterable<TickResult>;
  run(inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: RunOptions & { views: true }): AsyncIterable<OutputFrame>;
  run(inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: RunOptions = {}): AsyncIterable<TickResult | OutputFrame> {
    const host = this.#host;
    const driver = host.driver;
    const run: FreeRunHost = {
      network: host.network,
      queue: driver.queueOf(this.stream),
      held: this.#held,
      acquire: () => this.#acquire(),
      assertOpen: () => this.#assertOpen(),
      failed: () => host.failed(),
      nextFrame: (signal) => {
        const room = this.#room(signal);
        return room === undefined ? this.#written + 1 : room.then(() => this.#written + 1);
      },
      tickOf: (f) => driver.tickOf(this.stream, f),
      write: (arrays, f) => {
        this.#assertOpen();
        driver.writeInputs(arrays, this.stream, f);
      },
      submit: () => this.#submit(this.#written + 1),
      outputsReady: (k) => driver.firstBehind(host.network.outputs, k) < 0,
      outputsOf: (k, signal) => this.#outputsOf(k, signal),
      frameDone: (k) => host.guard(host.watch.frameDone(k)),
      recordLatency: (us) => host.recordLatency(us),
      viewsOf: (f, us) => this.#viewsOf(f, us),
      copyOutputs: (f) => driver.copyOutputs(this.stream, f),
    };
    return freeRun(run, inputs, options);
  }

  /**
   * Runs `ticks` ticks with the same input frame and resolves with the last tick's outputs;
   * see Runtime.repeat.
   * @throws ViewError while output frames are held
   */
  repeat(input: InputFrame, ticks: number): Promise<Record<string, Float32Array>> {
    return this.#exclusive(async () => {
      this.#assertOpen();
      if (!Number.isInteger(ticks) || ticks < 1) throw new RangeError(`ticks must be an integer >= 1, got ${ticks}`);
      const held = this.#held.oldest();
      const host = this.#host;
      const driver = host.driver;
      if (held !== undefined) throw new ViewError(`repeat() would overwrite the held outputs of tick ${driver.tickOf(this.stream, held)}: release() them first`);
      const arrays = checkInputFrame(host.network, input, driver.tickOf(this.stream, this.#written + 1), 'reject', false);
      return host.batcher.exclusive(async () => {
        // Every frame of this stream in flight must be done before its input ring is refilled.
        await this.#settled();
        this.#assertOpen();
        const first = this.#written + 1;
        const depth = driver.inputRing(this.stream);
        for (let f = first; f < first + depth; f++) driver.writeInputs(arrays, this.stream, f);
        const last = this.#written + ticks;
        const t0 = performance.now();
        let k = 0;
        while (this.#written < last) {
          const room = driver.completed() + driver.queue - driver.engineFrame;
          if (room <= 0) {
            // Sleep until half the queue has drained, then top it up in one burst.
            await host.guard(host.watch.frameDone(driver.engineFrame - (driver.queue >> 1)));
            this.#assertOpen();
            continue;
          }
          for (let i = 0; i < room && this.#written < last; i++) {
            this.#written++;
            k = driver.publishOne(this.stream, this.#written !== last);
          }
        }
        await host.guard(host.watch.frameDone(k));
        host.recordLatency(((performance.now() - t0) * 1000) / ticks);
        return driver.copyOutputs(this.stream, last);
      });
    });
  }

  /** Back to all states zero; waits for the session's frames in flight first. Held output frames stay readable. */
  reset(): Promise<void> {
    return this.#exclusive(async () => {
      this.#assertOpen();
      await this.#settled();
      this.#host.driver.resetStream(this.stream);
    });
  }

  /**
   * Ends the session: calls in progress fail at their next step (a free-running loop ends),
   * frames already handed in finish, open input slots are cancelled and held output frames
   * released (their views throw from then on), and the stream goes back to the runtime.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#idle?.timer !== undefined) clearTimeout(this.#idle.timer);
      for (const slot of [...this.#slots]) slot.cancel();
      if (!this.#host.failed()) await this.#settled().catch(() => undefined);
      for (const frame of [...this.#frames]) frame.release();
      this.#host.release(this.stream);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Runs `fn` as one call on this session (behind the calls before it, ahead of those after).
   * @internal the runtime lends its engine inside its own stream's turn
   */
  hold<T>(fn: () => Promise<T>): Promise<T> {
    return this.#exclusive(fn);
  }

  /**
   * Takes this session until the returned function is called: no call on it runs meanwhile.
   * @internal the runtime holds every session while it grows
   */
  take(): Promise<() => void> {
    return Promise.resolve(this.#acquire());
  }

  /**
   * How many output frames of this session are held.
   * @internal
   */
  get heldFrames(): number {
    return this.#held.size;
  }

  #assertOpen(): void {
    this.#host.assertOpen();
    if (this.#closing !== undefined) throw new RuntimeError(`session ${this.stream} is closed`);
    this.#touch();
  }

  #touch(): void {
    const idle = this.#idle;
    if (idle === undefined) return;
    if (idle.timer !== undefined) clearTimeout(idle.timer);
    idle.timer = setTimeout(() => void this.close(), idle.ms).unref();
  }

  /**
   * Takes this session for one caller: the function that lets the next one in, at once when
   * nobody holds it (a free-running loop takes it every frame: no promise then), else once
   * the callers before it are done.
   */
  #acquire(): (() => void) | Promise<() => void> {
    if (!this.#locked) {
      this.#locked = true;
      return this.#releaser();
    }
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#releaser())));
  }

  /** Lets the next caller in (the session stays taken on the way), once. */
  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next === undefined) this.#locked = false;
      else next();
    };
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.#acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Hands frame f (its inputs written) to the batcher; resolves with its engine frame. */
  #submit(f: number): number | Promise<number> {
    this.#written = f;
    const k = this.#host.batcher.submit(this.stream);
    if (typeof k !== 'number') this.#submitted = k;
    return k;
  }

  /** The batcher's promise for the last frame handed in while it is not published yet. */
  #unpublished(): Promise<number> | undefined {
    if (this.#submitted !== undefined && this.#host.driver.frameOf(this.stream) >= this.#written) this.#submitted = undefined;
    return this.#submitted;
  }

  /**
   * Waits until the next frame may be written: the previous one is published (one per stream
   * waits in the batcher), the frame `queue` back is complete, and no held output frame is
   * old enough for the next frame's outputs to overwrite.
   */
  #room(signal?: AbortSignal): Promise<void> | undefined {
    // Nothing to wait for (the usual case of a free-running loop): no promise at all.
    if (signal === undefined && this.#unpublished() === undefined) {
      const driver = this.#host.driver;
      this.#held.assertRoom(this.#written + 1, driver.queueOf(this.stream), (f) => driver.tickOf(this.stream, f));
      if (driver.completed() >= driver.streamRoom(this.stream)) return undefined;
    }
    return this.#roomAsync(signal);
  }

  async #roomAsync(signal?: AbortSignal): Promise<void> {
    const host = this.#host;
    const submitted = this.#unpublished();
    if (submitted !== undefined) await host.guard(submitted, signal);
    const driver = host.driver;
    this.#held.assertRoom(this.#written + 1, driver.queueOf(this.stream), (f) => driver.tickOf(this.stream, f));
    const k = driver.streamRoom(this.stream);
    if (driver.completed() < k || signal !== undefined) await host.guard(host.watch.frameDone(k), signal);
  }

  /** Waits until every frame of this session handed in so far is complete. */
  async #settled(): Promise<void> {
    const host = this.#host;
    const submitted = this.#unpublished();
    if (submitted !== undefined) await host.guard(submitted);
    const f = host.driver.frameOf(this.stream);
    if (f > 0) await host.guard(host.watch.frameDone(host.driver.engineOf(this.stream, f)));
  }

  /** Waits until the outputs of engine frame k are readable. */
  async #outputsOf(k: number, signal?: AbortSignal): Promise<void> {
    const wait = this.#host.watch.outputsDone(k);
    if (wait !== undefined || signal !== undefined) await this.#host.guard(wait, signal);
  }

  /** An output frame of frame f (held since its commit) that drops its hold on release. */
  #viewsOf(f: number, latencyUs: number): OutputFrame {
    const host = this.#host;
    const views: Record<string, Float32Array> = {};
    host.network.outputs.forEach((o, j) => (views[host.network.nodes[o].name] = host.driver.outputView(j, this.stream, f)));
    const frame = new OutputFrame(host.driver.tickOf(this.stream, f), latencyUs, views, () => {
      this.#frames.delete(frame);
      this.#held.release(f);
    });
    this.#frames.add(frame);
    return frame;
  }

  async #outputFrame(f: number, submitted: number | Promise<number>, t0: number): Promise<OutputFrame> {
    try {
      const k = typeof submitted === 'number' ? submitted : await submitted;
      await this.#outputsOf(k);
    } catch (err) {
      this.#held.release(f);
      throw err;
    }
    const latencyUs = (performance.now() - t0) * 1000;
    this.#host.recordLatency(latencyUs);
    return this.#viewsOf(f, latencyUs);
  }
}
