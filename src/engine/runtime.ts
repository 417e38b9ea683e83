import { availableParallelism } from 'node:os';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { Piscina } from 'piscina';
import type { Network } from '../graph/network.js';
import { getBackend } from '../kernels/registry.js';
import { defaultBackend } from '../kernels/backends.js';
import { NATIVE_BACKEND, NATIVE_BF16_BACKEND, NATIVE_FP16_BACKEND, nativeAvailable, nativeMissingReason } from '../kernels/native/index.js';
import { StreamrollError } from '../util/errors.js';
import type { KernelBackend } from '../kernels/kernel.js';
import type { Rollout } from '../rollout/pattern.js';
import { assertValidRollout } from '../rollout/validity.js';
import { Arena, type ArenaOptions, copyArena, createArena, planArena } from './arena.js';
import { nodeCosts } from './calibrate.js';
import { FAILED_NODE, PARK, PARKED, READY, STOP, STOP_FAILED, STOP_REQUESTED, WAKE_NODE, controlLines, notifyAll, workerLine, workerTiming } from './control.js';
import { Batcher } from './batcher.js';
import { FrameDriver, type DriverState } from './frame-driver.js';
import type { FrameLoopEnd, FrameLoopTask } from './frame-loop-task.js';
import { type InputSlot, type OutputFrame, ViewError } from './frame-views.js';
import { FrameWatch } from './frame-watch.js';
import { Session, type SessionHost, type SessionOptions } from './session.js';
import { StopGuard } from './stop-guard.js';
import { RuntimeError, type RunOptions, type TickResult } from './runtime-types.js';
import { zeroFrame, type InputFrame, type NonFinitePolicy } from '../io/inputs.js';
import { loadSource, type LoadedModel, type ModelSource } from './model-source.js';
import { chooseWorkerCount, choosePlacement, type Placement } from './placement.js';
import { checkParameters } from './reference-executor.js';
import { checkOptions, type RuntimeLogger, type RuntimeOptions } from './runtime-options.js';
import { waitAtLeastAsync } from './sync.js';
import { type LoopSetup, loopThreads, startLoops, startWorkers } from './worker-start.js';

export type { RuntimeLogger, RuntimeOptions } from './runtime-options.js';
export { Session, type SessionOptions } from './session.js';
export { RuntimeError, type RunOptions, type TickResult } from './runtime-types.js';

/** Counters of a runtime, see {@link Runtime.stats}. */
export interface RuntimeStats {
  readonly ticks: number;
  /** Engine frames published: each computes one frame of every stream in its batch. */
  readonly engineFrames: number;
  readonly backend: string;
  readonly workers: number;
  readonly sync: 'spin' | 'wait';
  readonly placement: Placement;
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number };
  /**
   * Per worker: its nodes and mean compute / wait time per frame since start (µs). With a
   * stream helper, the worker's `frames` count the streams' frames it computed (entries of
   * engine frames), and its times are per such frame.
   */
  readonly perWorker: readonly { readonly nodes: readonly string[]; readonly frames: number; readonly computeUs: number; readonly waitUs: number }[];
  /**
   * The stream helper (see RuntimeOptions.streamHelper), or null when the runtime has none:
   * the streams' frames it computed, and its mean compute / wait time per such frame (µs).
   */
  readonly streamHelper: { readonly frames: number; readonly computeUs: number; readonly waitUs: number } | null;
  /**
   * Sessions: how many `open()` may hand out (the `streams` option), how many are open, and
   * the memory one takes (its state rings and staging rings, bytes).
   */
  readonly streams: { readonly capacity: number; readonly open: number; readonly bytesPerStream: number };
}

/** What `lend`'s driving thread is given. */
export interface LentState {
  readonly state: DriverState;
  /** What each worker was given (to take a parked worker's share). */
  readonly loops: readonly FrameLoopTask[];
  /** Streams no session holds (1 and up; stream 0 is the runtime's own), for the driver's own sessions. */
  readonly free: readonly number[];
}

/**
 * Runs a network in a rollout on worker threads, every computed node on a worker (or cost-
 * balanced groups when there are fewer cores than nodes), all nodes of a frame at once.
 * Node states live in one shared arena; each tick an input frame is written into it, the
 * workers compute from the previous frames' states, and the outputs are read from it.
 * Outputs equal the single-threaded executor's bit for bit.
 *
 * Three ways to feed it: `step()` (one frame, copies in and out), `nextInput()`/`commit()`
 * (write into the arena, read views of the outputs: no copies on this thread), and `run()`
 * (free-running over a stream of frames).
 *
 * @example
 * const rt = await Runtime.create('examples/mnist-sr.json', { rollout: 'streaming' });
 * const { prediction } = await rt.step(new Float32Array(784));
 * const slot = await rt.nextInput();
 * slot.input('image').set(pixels);
 * const frame = await slot.commit();
 * console.log(frame.output('prediction'));
 * frame.release();
 * await rt.close();
 */
/** The backend a runtime's options ask for, 16-bit weights being the native backend's variants. */
function backendFor(options: RuntimeOptions): string {
  const name = options.backend ?? defaultBackend();
  const precision = options.precision;
  if (precision === undefined || precision === 'fp32') return name;
  if (precision !== 'bf16' && precision !== 'fp16') throw new StreamrollError('OPTION_INVALID', `precision must be "fp32", "bf16" or "fp16", got ${JSON.stringify(precision)}`);
  const variant = precision === 'bf16' ? NATIVE_BF16_BACKEND : NATIVE_FP16_BACKEND;
  if (name === variant) return name;
  if (name !== NATIVE_BACKEND || !nativeAvailable())
    throw new StreamrollError('OPTION_INVALID', `precision "${precision}" needs the native kernels (backend "native"${nativeAvailable() ? `, not "${name}"` : ', which are not built here'})`);
  return variant;
}

let warned = false;
/** The fallback notice, once a process: through the logger when there is one, else on stderr. */
function warnOnce(logger: RuntimeLogger | undefined, message: string): void {
  if (warned) return;
  warned = true;
  if (logger !== undefined) logger.warn({}, message);
  else process.emitWarning(message, { code: 'STREAMROLL_NO_NATIVE' });
}

export class Runtime implements AsyncDisposable {
  readonly network: Network;
  readonly rollout: Rollout;
  readonly backend: KernelBackend;
  readonly placement: Placement;
  /** Where the weights came from. */
  readonly weights: LoadedModel['weights'];
  /** The module every worker imports first (the `backendModule` option), if any. */
  readonly backendModule: string | undefined;
  /** What happens to NaN and infinite inputs. */
  readonly nonFinite: NonFinitePolicy;
  readonly #pool: Piscina;
  /** The arena, the workers' tasks and ends, and the driver: replaced when the runtime grows (see {@link grow}). */
  #arena: Arena;
  #loops: readonly FrameLoopTask[];
  #ended: Promise<FrameLoopEnd>[];
  #driver: FrameDriver;
  /** How the arena was planned, but for its streams: what a larger one is planned with. */
  readonly #planOptions: Omit<ArenaOptions, 'streams'>;
  /** Set while the runtime grows: open() waits for it. */
  #growing: Promise<void> | undefined;
  readonly #watch: FrameWatch;
  readonly #batcher: Batcher;
  /** How the loops were started (and are again when the runtime grows). */
  readonly #setup: LoopSetup;
  readonly #logger: RuntimeLogger | undefined;
  readonly #latency: RecordableHistogram;
  #failed: Error | undefined;
  /** The runtime's own stream (0): what step, nextInput, run, repeat and reset serve. */
  readonly #own: Session;
  /** Streams open() may hand out that no session holds, and who waits for one. */
  readonly #free: number[];
  readonly #waitingForStream: ((stream: number) => void)[] = [];
  readonly #sessions = new Set<Session>();
  readonly #sessionHost: SessionHost;
  readonly #stops = new StopGuard(
    () => (this.#closing === undefined ? undefined : (this.#failed ?? new RuntimeError('the runtime was closed'))),
    (reason) => new RuntimeError('run aborted', { cause: reason }),
  );
  #onClose: (() => void) | undefined;
  /** Calls waiting on the engine or for a stream, and lends in progress: while > 0 the threads are ref'd. */
  #busy = 0;
  #closing: Promise<void> | undefined;

  private constructor(init: {
    network: Network;
    rollout: Rollout;
    backend: KernelBackend;
    placement: Placement;
    arena: Arena;
    planOptions: Omit<ArenaOptions, 'streams'>;
    driver: FrameDriver;
    weights: Runtime['weights'];
    backendModule: string | undefined;
    nonFinite: NonFinitePolicy;
    pool: Piscina;
    loops: readonly FrameLoopTask[];
    ended: Promise<FrameLoopEnd>[];
    setup: LoopSetup;
    logger: RuntimeLogger | undefined;
  }) {
    this.network = init.network;
    this.rollout = init.rollout;
    this.backend = init.backend;
    this.placement = init.placement;
    this.#arena = init.arena;
    this.#planOptions = init.planOptions;
    this.#driver = init.driver;
    this.weights = init.weights;
    this.backendModule = init.backendModule;
    this.nonFinite = init.nonFinite;
    this.#pool = init.pool;
    this.#loops = init.loops;
    this.#ended = init.ended;
    this.#setup = init.setup;
    this.#logger = init.logger;
    this.#latency = createHistogram();
    this.#watch = new FrameWatch(init.driver, (active) => this.#keepAlive(active));
    this.#batcher = new Batcher(init.driver, this.#watch, (p) => this.#guard(p));
    const rt = this;
    this.#sessionHost = {
      network: init.network,
      get driver(): FrameDriver {
        return rt.#driver;
      },
      watch: this.#watch,
      batcher: this.#batcher,
      assertOpen: () => this.#assertOpen(),
      failed: () => this.#failed !== undefined,
      guard: (p, signal) => this.#guard(p, signal),
      recordLatency: (us) => this.#latency.record(Math.max(1, Math.round(us))),
      release: (stream) => this.#releaseStream(stream),
    };
    this.#own = new Session(this.#sessionHost, 0);
    this.#free = Array.from({ length: init.arena.plan.streams - 1 }, (_, i) => i + 1);
    this.#watchLoops(init.ended);
  }
  /** A loop that ends with an error fails the runtime, naming the node or the worker. */
  #watchLoops(endings: readonly Promise<FrameLoopEnd>[]): void {
    for (const [w, ended] of endings.entries()) {
      void ended.then((end) => {
        if (end.error === undefined) return;
        const err = Object.assign(new Error(end.error.message), { name: end.error.name, ...(end.error.stack === undefined ? {} : { stack: end.error.stack }) });
        const why = err.message;
        // A node failure names node and tick itself (its worker says so in control memory);
        // a dead thread is named by its nodes.
        const failed = Atomics.load(this.#ctrl, FAILED_NODE) - 1;
        const helper = w === this.placement.workers;
        const message =
          failed >= 0 && (helper || this.placement.owner[failed] === w)
            ? why
            : `${helper ? 'the stream helper' : `worker ${w}`} (nodes ${this.placement.nodesOf[helper ? 0 : w].map((v) => this.network.nodes[v].name).join(', ')}) stopped at tick ${this.tick}: ${why}`;
        this.#fail(new RuntimeError(message, { cause: err }));
      });
    }
  }

  /**
   * Loads a network, lays out its arena, places its nodes on workers and starts them.
   * @throws SpecError, RolloutCycleError, or an error naming a bad option
   */
  static async create(source: ModelSource, options: RuntimeOptions = {}): Promise<Runtime> {
    const loaded = await loadSource(source, options);
    const { network, rollout, params } = loaded;
    assertValidRollout(network, rollout.delays);
    checkParameters(network, params);
    const backend = getBackend(backendFor(options));
    const nativeMissing = nativeMissingReason();
    if (options.backend === undefined && nativeMissing !== undefined) {
      warnOnce(options.logger, `native kernels unavailable: ${nativeMissing}; running on the WebAssembly kernels (about half their speed on convolutions)`);
    }
    const computed = network.nodes.filter((n) => !n.isInput).length;
    const cores = availableParallelism();
    const outputs = new Set(network.outputs);
    const frameBytes = {
      queued: network.nodes.reduce((sum, n) => sum + (n.isInput || outputs.has(n.index) ? n.size * 4 : 0), 0),
      states: network.nodes.reduce((sum, n) => sum + n.size * 4, 0),
    };
    const checked = checkOptions(options, computed, cores, frameBytes);
    // Enough control lines for the most workers any placement could use.
    const maxWorkers = Math.max(checked.workerLimit, computed);
    const planOptions = {
      // One more for a stream helper.
      controlLines: controlLines(network.nodes.length, maxWorkers + 1),
      queue: checked.queue,
      sessionQueue: checked.sessionQueue,
      staging: true,
      slack: checked.slack,
    };
    const plan = planArena(network, rollout.delays, backend, { ...planOptions, streams: 1 + checked.streams });
    const arena = createArena(network, plan, backend, params);
    // Control memory starts zeroed, which would name node 0 as the one the driver awaits.
    Atomics.store(arena.control, WAKE_NODE, -1);
    // The main thread's own binding: calibration, and scanning inputs where they land.
    const kernels = backend.bind(arena.memory);
    const costs = await nodeCosts(network, rollout.delays, arena, backend, kernels, options.calibrate ?? true);
    // Without an explicit count, as many workers as pay off (see chooseWorkerCount).
    const requested =
      options.workers ?? (options.placement === undefined || options.placement === 'auto' ? chooseWorkerCount(network, rollout.delays, checked.workerLimit, costs) : checked.workerLimit);
    const placement = choosePlacement(network, rollout.delays, options.placement ?? 'auto', requested, costs);
    const sync = options.sync ?? 'auto';
    // The main thread mostly sleeps while frames run, so spinning pays while workers <= cores.
    const spin = sync === 'spin' || (sync === 'auto' && placement.workers <= cores);
    options.logger?.info(
      {
        network: network.name,
        rollout: rollout.kind,
        backend: backend.describe(),
        weights: loaded.weights,
        placement: placement.nodesOf.map((nodes) => nodes.map((v) => network.nodes[v].name)),
        predictedFrameUs: Number(placement.predictedFrameUs.toFixed(1)),
        sync: spin ? 'spin' : 'wait',
      },
      'runtime starting',
    );
    const backendModule = options.backendModule === undefined ? undefined : String(options.backendModule);
    // A second thread for the streams of a one-worker network, where sessions give it some.
    const helper = checked.streamHelper && placement.workers === 1 && checked.streams >= 2 && cores >= 2 && process.platform === 'linux' && nativeAvailable();
    const setup = { backend: backend.name, spin, backendModule, helper };
    const { pool, loops, ended } = startWorkers(network, rollout, placement, arena, setup);
    const nonFinite = options.nonFinite ?? 'reject';
    const driver = new FrameDriver({ net: network, arena, kernels, queue: checked.queue, nonFinite });
    const rt = new Runtime({ network, rollout, backend, placement, arena, planOptions, driver, weights: loaded.weights, backendModule, nonFinite, pool, loops, ended, setup, logger: options.logger });
    // Starting up is work in progress: the threads keep the process alive until it is done.
    rt.#refThreads(true);
    try {
      await rt.#guard(waitAtLeastAsync(arena.control, READY, loopThreads(placement, helper)));
      await rt.#warmUp(checked.warmUp);
    } catch (err) {
      await rt.close();
      throw err;
    }
    if (options.signal !== undefined) {
      if (options.signal.aborted) {
        await rt.close();
        throw new RuntimeError('aborted while starting', { cause: options.signal.reason });
      }
      const signal = options.signal;
      const onAbort = (): void => void rt.close();
      signal.addEventListener('abort', onAbort, { once: true });
      // A long-lived signal must not keep a closed runtime alive.
      rt.#onClose = () => signal.removeEventListener('abort', onAbort);
    }
    // Started: from now on the threads keep the process alive only while a call waits.
    rt.#refThreads(rt.#busy > 0);
    return rt;
  }

  /** The shared memory the engine computes in (a new one after {@link grow}). */
  get arena(): Arena {
    return this.#arena;
  }

  /** The engine's control words (in the current arena). */
  get #ctrl(): Int32Array {
    return this.#arena.control;
  }

  /** Ticks computed since the start (or the last reset) on the runtime's own stream. */
  get tick(): number {
    return this.#own.tick;
  }

  /** Input frames that may be in flight, and the most output frames that may be held (the `queue` option). */
  get queue(): number {
    return this.#driver.queue;
  }

  /**
   * Presents the next input frame and resolves with that tick's outputs (row-major copies).
   * Calls are served one at a time, in order.
   * @throws InputError for a bad input (the runtime stays usable); RuntimeError once closed or failed
   */
  step(input: InputFrame): Promise<Record<string, Float32Array>> {
    return this.#own.step(input);
  }

  /**
   * The zero-copy way in: resolves with the next input frame's slot in the arena (zeroed)
   * once there is room for it. Write into `slot.input(name)` (row-major `[C,H,W]`), then
   * `slot.commit()` resolves with the tick's {@link OutputFrame}: views of the outputs, valid
   * until released. Nothing is copied on this thread; layouts are converted by the worker
   * that owns each input and output. The next slot can be taken as soon as one is committed.
   * @throws ViewError when `queue` output frames are still held (release them first); RuntimeError once closed or failed
   */
  nextInput(options: { signal?: AbortSignal } = {}): Promise<InputSlot> {
    return this.#own.nextInput(options);
  }

  /**
   * Free-running: feeds input frames from `inputs` as fast as the engine takes them (up to
   * `queue` frames ahead, so workers run frames back to back) and yields each tick's outputs
   * in order: copies, or with `views: true` {@link OutputFrame}s valid until the loop asks for
   * the next tick. Ends when the inputs end or `signal` aborts; holds the runtime meanwhile.
   */
  run(inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options?: RunOptions & { views?: false }): AsyncIterable<TickResult>;
  run(inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: RunOptions & { views: true }): AsyncIterable<OutputFrame>;
  run(inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: RunOptions = {}): AsyncIterable<TickResult | OutputFrame> {
    return this.#own.run(inputs, options as RunOptions & { views: true });
  }

  /**
   * Runs `ticks` ticks with the same input frame (a static scene, like the paper's repeated
   * digit) and resolves with the last tick's outputs. Free-running: the frame is written once
   * into every slot of its input's state ring (converted on the way), nothing is copied per
   * tick, and nothing is read back until the end, so workers run frames back to back.
   * @throws ViewError while output frames are held
   */
  repeat(input: InputFrame, ticks: number): Promise<Record<string, Float32Array>> {
    return this.#own.repeat(input, ticks);
  }

  /** Back to frame 0 (all states zero); waits for in-flight work first. Held output frames stay readable. */
  reset(): Promise<void> {
    return this.#own.reset();
  }

  /**
   * Opens a session: a stream of frames with states of its own (zeros to start), its own
   * tick count and the same frame API as the runtime (`step`, `nextInput`, `run`, `repeat`,
   * `reset`, `close`). The runtime's workers serve all sessions at once: each engine frame
   * computes every session with a frame ready, and each session's outputs are exactly those
   * of a runtime serving it alone. At most `streams` (a create option) are open at a time.
   * @throws RuntimeError when all streams are open (unless `wait`), or once closed
   */
  async open(options: SessionOptions = {}): Promise<Session> {
    this.#assertOpen();
    while (this.#growing !== undefined) await this.#growing;
    this.#assertOpen();
    const capacity = this.arena.plan.streams - 1;
    let stream = this.#free.shift();
    if (stream === undefined) {
      if (capacity === 0) throw new RuntimeError('this runtime has no streams for sessions: create it with { streams: N }');
      if (options.wait !== true) throw new RuntimeError(`all ${capacity} streams are open: close a session, pass { wait: true }, or create the runtime with more streams`);
      let take!: (stream: number) => void;
      const given = new Promise<number>((resolve) => (take = resolve));
      this.#waitingForStream.push(take);
      try {
        stream = (await this.#busyWhile(() => this.#guard(given, options.signal))) as number;
      } catch (err) {
        const i = this.#waitingForStream.indexOf(take);
        if (i >= 0) this.#waitingForStream.splice(i, 1);
        // A stream handed over while the wait was abandoned goes back.
        void given.then((s) => this.#releaseStream(s));
        throw err;
      }
    }
    // Its frames are all done (a session gives its stream back only then): start from zeros.
    this.#driver.resetStream(stream);
    const session = new Session(this.#sessionHost, stream, options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs });
    this.#sessions.add(session);
    return session;
  }

  /**
   * Raises the number of sessions `open()` may hand out to `streams` by re-planning the
   * arena: every call on every session finishes its current step first (an open input slot
   * is committed or cancelled first), frames in flight complete, the workers stop, the arena
   * is copied into a larger one (weights, every stream's states and queued frames, the frame
   * counters), and the workers start again on it. Open sessions go on where they were, bit for
   * bit; output frames held across it stay readable (their views keep the old memory, which
   * nothing writes any more); waiters for a stream get the new ones. A real-time loop or the
   * TCP server driving the engine (see lend) finishes first. Costs a pause of milliseconds and
   * the new arena's memory.
   * @throws RangeError unless `streams` is a whole number above the capacity (and at most 4096)
   */
  async grow(streams: number): Promise<void> {
    this.#assertOpen();
    while (this.#growing !== undefined) await this.#growing;
    this.#assertOpen();
    const capacity = this.#arena.plan.streams - 1;
    if (!Number.isInteger(streams) || streams <= capacity || streams > 4096) {
      throw new RangeError(`grow: streams must be a whole number above the capacity (${capacity}) and at most 4096, got ${streams}`);
    }
    let done!: () => void;
    this.#growing = new Promise<void>((resolve) => (done = resolve));
    try {
      await this.#busyWhile(() => this.#regrow(streams));
    } finally {
      this.#growing = undefined;
      done();
    }
  }

  async #regrow(streams: number): Promise<void> {
    // Every session between calls, the runtime's own first (a lend holds it throughout).
    const releases: (() => void)[] = [];
    try {
      for (const session of [this.#own, ...this.#sessions]) releases.push(await session.take());
      this.#assertOpen();
      const resume = await this.#batcher.pause();
      try {
        this.#assertOpen();
        const old = this.#arena;
        // Stop the loops: every published frame is complete, so they end between frames.
        Atomics.store(old.control, STOP, STOP_REQUESTED);
        notifyAll(old.control);
        const ends = await Promise.all(this.#ended);
        const failed = ends.find((end) => end.error !== undefined);
        if (failed !== undefined) throw this.#failed ?? new RuntimeError(`a worker failed while the runtime grew: ${failed.error?.message}`);
        const plan = planArena(this.network, this.rollout.delays, this.backend, { ...this.#planOptions, streams: 1 + streams });
        const arena = new Arena(plan, this.backend.createMemory(plan.bytes));
        copyArena(old, arena);
        const ctrl = arena.control;
        for (const word of [STOP, READY, PARK, PARKED, FAILED_NODE]) Atomics.store(ctrl, word, 0);
        Atomics.store(ctrl, WAKE_NODE, -1);
        const driver = new FrameDriver({
          net: this.network,
          arena,
          kernels: this.backend.bind(arena.memory),
          queue: this.#driver.queue,
          nonFinite: this.nonFinite,
          state: this.#driver.state,
        });
        const { loops, ended } = startLoops(this.#pool, this.network, this.rollout, this.placement, arena, this.#setup);
        this.#arena = arena;
        this.#driver = driver;
        this.#loops = loops;
        this.#ended = ended;
        this.#watch.retarget(driver);
        this.#batcher.retarget(driver);
        this.#watchLoops(ended);
        await this.#guard(waitAtLeastAsync(ctrl, READY, loopThreads(this.placement, this.#setup.helper)));
        for (let s = old.plan.streams; s < plan.streams; s++) this.#releaseStream(s);
        this.#logger?.info({ network: this.network.name, streams }, 'runtime grew');
      } finally {
        resume();
      }
    } finally {
      for (const release of releases) release();
    }
  }

  #releaseStream(stream: number): void {
    for (const s of this.#sessions) if (s.stream === stream) this.#sessions.delete(s);
    const next = this.#waitingForStream.shift();
    if (next !== undefined) next(stream);
    else this.#free.push(stream);
  }

  /** Tick count, latency percentiles, placement and per-worker timing. */
  stats(): RuntimeStats {
    const h = this.#latency;
    const count = h.count;
    return {
      ticks: this.tick,
      engineFrames: this.#driver.engineFrame,
      backend: this.backend.describe(),
      workers: this.placement.workers,
      sync: this.#setup.spin ? 'spin' : 'wait',
      placement: this.placement,
      latencyUs: {
        p50: count === 0 ? 0 : h.percentile(50),
        p99: count === 0 ? 0 : h.percentile(99),
        max: count === 0 ? 0 : h.max,
        mean: count === 0 ? 0 : h.mean,
      },
      perWorker: this.placement.nodesOf.map((vs, w) => ({ nodes: vs.map((v) => this.network.nodes[v].name), ...this.#loopStats(w) })),
      streamHelper: this.#setup.helper ? this.#loopStats(this.placement.workers) : null,
      streams: { capacity: this.arena.plan.streams - 1, open: this.#sessions.size, bytesPerStream: this.arena.plan.streamBytes },
    };
  }

  /** Loop w's frames and its mean compute / wait time per frame (the helper's loop is the last). */
  #loopStats(w: number): { frames: number; computeUs: number; waitUs: number } {
    const nodes = this.network.nodes.length;
    const frames = Atomics.load(this.#ctrl, workerLine(nodes, w));
    const timing = workerTiming(this.#ctrl, nodes, w);
    return { frames, computeUs: frames === 0 ? 0 : timing[0] / frames, waitUs: frames === 0 ? 0 : timing[1] / frames };
  }

  /**
   * Hands the engine to another driver (a thread of the real-time loop or the TCP server) for
   * the duration of `drive`: this runtime's own stream and every session wait meanwhile, and
   * the runtime takes the frame counts back from the state `drive` resolves with. `drive` gets
   * what each worker was given, to take a parked worker's share, and the streams no session
   * holds. The runtime's own held output frames must be released first. When the engine stops
   * while lent (a node failed in the driving thread), the runtime fails with `drive`'s error.
   * @internal used by the real-time loop and the frame server
   */
  async lend(drive: (lent: LentState, guard: <T>(p: Promise<T>) => Promise<T>) => Promise<DriverState>): Promise<void> {
    await this.#busyWhile(() => this.#lend(drive));
  }

  async #lend(drive: (lent: LentState, guard: <T>(p: Promise<T>) => Promise<T>) => Promise<DriverState>): Promise<void> {
    await this.#own.hold(async () => {
      this.#assertOpen();
      if (this.#own.heldFrames > 0) throw new ViewError('release() held output frames before handing the engine to a real-time loop');
      const resume = await this.#batcher.pause();
      try {
        // A promise given to the guard settles with its own value (never undefined).
        const after = await drive({ state: this.#driver.state, loops: this.#loops, free: [...this.#free] }, <T>(p: Promise<T>) => this.#guard(p) as Promise<T>);
        this.#driver.adopt(after);
        this.#own.followDriver();
      } catch (err) {
        if (Atomics.load(this.#ctrl, STOP) === STOP_FAILED && this.#failed === undefined) {
          this.#fail(new RuntimeError(err instanceof Error ? err.message : String(err), { cause: err }));
          throw this.#failed;
        }
        throw err;
      } finally {
        resume();
      }
    });
  }

  /** Stops every worker (within about a second) and frees the pool. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#onClose?.();
      const error = this.#failed ?? new RuntimeError('the runtime was closed');
      this.#stops.stopAll(error);
      if (Atomics.load(this.#ctrl, STOP) === 0) Atomics.store(this.#ctrl, STOP, STOP_REQUESTED);
      notifyAll(this.#ctrl);
      // Until the loops have ended, closing is work in progress too.
      this.#refThreads(true);
      const settled = Promise.all(this.#ended);
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
      await Promise.race([settled, timeout]);
      await this.#pool.destroy();
      this.#logger?.info({ network: this.network.name, ticks: this.tick }, 'runtime closed');
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Worker threads keep the process alive only while a call waits on them: an idle runtime is
   * like an unref'd timer, so a script that forgets close() still exits when its work is done.
   */
  #keepAlive(active: boolean): void {
    this.#busy += active ? 1 : -1;
    // A stopped engine (a worker failed and said so in control memory) keeps the threads
    // ref'd until the failure's message has arrived and closed the runtime.
    if (this.#closing === undefined) this.#refThreads(this.#busy > 0 || Atomics.load(this.#ctrl, STOP) !== 0);
  }

  /** Keeps the process alive while `work` runs (for waits that are not on frames). */
  async #busyWhile<T>(work: () => Promise<T>): Promise<T> {
    this.#keepAlive(true);
    try {
      return await work();
    } finally {
      this.#keepAlive(false);
    }
  }

  #refThreads(on: boolean): void {
    for (const thread of this.#pool.threads) {
      if (on) thread.ref();
      else thread.unref();
    }
  }

  #assertOpen(): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#closing !== undefined) throw new RuntimeError('the runtime is closed');
  }

  #fail(error: Error): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    Atomics.store(this.#ctrl, STOP, STOP_FAILED);
    notifyAll(this.#ctrl);
    this.#logger?.error({ err: error.message }, 'worker failed');
    void this.close();
  }

  /** Waits for `p`, but rejects as soon as a worker fails, the runtime closes, or `signal` aborts. */
  #guard<T>(p: Promise<T> | undefined, signal?: AbortSignal): Promise<T | undefined> {
    return this.#stops.guard(p, signal);
  }

  async #warmUp(ticks: number): Promise<void> {
    if (ticks <= 0) return;
    await this.#own.repeat(zeroFrame(this.network), ticks);
    await this.#own.reset();
    this.#latency.reset();
  }
}
