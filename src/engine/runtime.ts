import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import type { Network } from '../graph/network.js';
import { getBackend } from '../kernels/registry.js';
import { defaultBackend } from '../kernels/backends.js';
import type { BoundKernels, KernelBackend } from '../kernels/kernel.js';
import { fromInternal, toInternal } from '../kernels/layout.js';
import type { Rollout, RolloutSpec } from '../rollout/pattern.js';
import { assertValidRollout, frameOrder } from '../rollout/validity.js';
import type { FrameLoopResult, FrameLoopTask } from '../../workers/frame-loop.js';
import { Arena, createArena, planArena } from './arena.js';
import { MAIN_WAKE, OUTPUTS_FROM, PUBLISHED, READY, STOP, STOP_FAILED, STOP_REQUESTED, TICK_BASE, WAKE_AT, WAKE_NODE, controlLines, nodeTick, workerLine } from './control.js';
import { checkInputFrame, nonFiniteError, type InputFrame, type NonFinitePolicy } from './inputs.js';
import { loadSource, type ModelSource } from './model-source.js';
import { NodeComputer } from './node-compute.js';
import type { Parameters } from './parameters.js';
import { RING_SLACK, chooseWorkerCount, choosePlacement, nodeFlops, type Placement, type PlacementOption } from './placement.js';
import { checkParameters } from './reference-executor.js';
import { SLEEP_MS, waitAtLeastAsync } from './sync.js';

/** The subset of a pino logger the runtime uses; a pino logger fits as is. */
export interface RuntimeLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Options of {@link Runtime.create}. */
export interface RuntimeOptions {
  /** `streaming` (default; a model file's own rollout for models), `sequential`, a pattern object, or a resolved rollout. */
  readonly rollout?: RolloutSpec | Rollout;
  /**
   * Worker threads. Default: up to one per computed node and usable core, as many as the
   * measured node costs say pay off (a network of a few microseconds per frame stays on one).
   */
  readonly workers?: number;
  /** `auto` (default), `one-per-layer`, or an explicit mapping node -> worker. */
  readonly placement?: PlacementOption;
  /** Seed of the random weights when the source has none; default 0. */
  readonly seed?: number;
  /** Weights to use instead of the source's. */
  readonly params?: Parameters;
  /** Kernel backend: `native` (default where its addon was built on install), `wasm` (default elsewhere) or `reference`. */
  readonly backend?: string;
  /** A module every worker imports first (one that registers a custom backend). */
  readonly backendModule?: string | URL;
  /** Measure each node's cost on the real kernels to balance groups (default true); else FLOP estimates. */
  readonly calibrate?: boolean;
  /** Input frames `run` and `repeat` may queue ahead of the workers (free-running); default 32. */
  readonly queue?: number;
  /**
   * Ring slots per computed node beyond what its delays need (default 2): how far a worker
   * may run ahead of the consumers of its states on other workers, which absorbs their
   * jitter, at the cost of one state's memory per slot.
   */
  readonly slack?: number;
  /** How workers wait: `spin` then sleep, or `wait` (sleep at once); `auto` spins while workers <= cores. */
  readonly sync?: 'auto' | 'spin' | 'wait';
  /** NaN / infinite inputs: `reject` (default) or `zero`. */
  readonly nonFinite?: NonFinitePolicy;
  /** Warm-up ticks of zeros before the first real one (kernels reach V8's optimising tier); default 8. */
  readonly warmUp?: number;
  /** A pino logger (or anything with its methods). */
  readonly logger?: RuntimeLogger;
  /** Aborting closes the runtime. */
  readonly signal?: AbortSignal;
}

/** One tick's result from {@link Runtime.run}. */
export interface TickResult {
  readonly tick: number;
  /** Output node states, row-major, keyed by node name. */
  readonly outputs: Record<string, Float32Array>;
  /** From the input being handed to the engine to its outputs being read back. */
  readonly latencyUs: number;
}

/** Counters of a runtime, see {@link Runtime.stats}. */
export interface RuntimeStats {
  readonly ticks: number;
  readonly backend: string;
  readonly workers: number;
  readonly sync: 'spin' | 'wait';
  readonly placement: Placement;
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** Per worker: its nodes and mean compute / wait time per frame since start (µs). */
  readonly perWorker: readonly { readonly nodes: readonly string[]; readonly frames: number; readonly computeUs: number; readonly waitUs: number }[];
}

/** The runtime was closed, or a worker failed; carries the cause. */
export class RuntimeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeError';
  }
}

const WORKER_FILE = fileURLToPath(new URL('../../workers/frame-loop.js', import.meta.url));

/**
 * Node costs for placement: measured by running each node's kernels a few times on the real
 * arena (then clearing it), or estimated from FLOPs at a nominal speed.
 */
async function nodeCosts(net: Network, delays: readonly number[], arena: Arena, backend: KernelBackend, kernels: BoundKernels, calibrate: boolean): Promise<number[]> {
  if (!calibrate) {
    const gflops = backend.name === 'reference' ? 1.5 : 20;
    return net.nodes.map((n) => nodeFlops(net, n.index) / (gflops * 1000));
  }
  const computer = new NodeComputer(net, delays, arena, kernels);
  // Untimed passes first: V8 runs a fresh wasm function in its baseline tier, ~4x slower,
  // which would make whichever node is measured first look expensive.
  for (let pass = 0; pass < 10; pass++) {
    for (const n of net.nodes) if (!n.isInput) computer.compute(n.index, 1);
    // Measuring runs on the main thread: let the event loop breathe between passes.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // Round-robin passes, each timing every node once, and the median per node: a burst of
  // machine noise then touches one sample of many nodes instead of all samples of one node
  // (measuring node after node let one noisy moment make a node look 1.5x its cost and
  // unbalance the groups). At least 5 passes, then until ~100 ms, at most 31.
  const computed = net.nodes.filter((n) => !n.isInput).map((n) => n.index);
  const samples = computed.map(() => [] as number[]);
  const start = performance.now();
  for (let pass = 0; pass < 31 && (pass < 5 || performance.now() - start < 100); pass++) {
    computed.forEach((v, i) => {
      const t0 = performance.now();
      computer.compute(v, 1);
      samples[i].push((performance.now() - t0) * 1000);
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const costs = net.nodes.map(() => 0);
  computed.forEach((v, i) => {
    const s = samples[i].sort((a, b) => a - b);
    costs[v] = s[s.length >> 1];
  });
  arena.clearStates();
  return costs;
}

/**
 * Runs a network in a rollout on worker threads, every computed node on a worker (or cost-
 * balanced groups when there are fewer cores than nodes), all nodes of a frame at once.
 * Node states live in one shared arena; each tick the main thread writes the input frame,
 * workers compute from the previous frames' states and meet at a barrier, and the outputs
 * are copied out. Outputs equal the single-threaded executor's bit for bit.
 *
 * @example
 * await using rt = await Runtime.create('examples/mnist-sr.json', { rollout: 'streaming' });
 * const { prediction } = await rt.step(new Float32Array(784));
 */
export class Runtime implements AsyncDisposable {
  readonly network: Network;
  readonly rollout: Rollout;
  readonly backend: KernelBackend;
  readonly placement: Placement;
  readonly arena: Arena;
  /** Where the weights came from. */
  readonly weights: 'model file' | 'given' | 'seeded random';
  readonly #pool: Piscina;
  readonly #tasks: Promise<FrameLoopResult>[];
  readonly #ctrl: Int32Array;
  readonly #kernels: BoundKernels;
  /** Indices of the computed (non-input) nodes. */
  readonly #computed: readonly number[];
  readonly #queue: number;
  readonly #spin: boolean;
  readonly #nonFinite: NonFinitePolicy;
  readonly #logger: RuntimeLogger | undefined;
  readonly #latency: RecordableHistogram;
  #failed: Error | undefined;
  #engineFrame = 0;
  #base = 0;
  #busy: Promise<unknown> = Promise.resolve();
  /** Rejecters of everything waiting on the engine, called when it fails or closes. */
  readonly #waiters = new Set<(error: Error) => void>();
  #onClose: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  private constructor(init: {
    network: Network;
    rollout: Rollout;
    backend: KernelBackend;
    placement: Placement;
    arena: Arena;
    kernels: BoundKernels;
    weights: Runtime['weights'];
    pool: Piscina;
    tasks: Promise<FrameLoopResult>[];
    queue: number;
    spin: boolean;
    nonFinite: NonFinitePolicy;
    logger: RuntimeLogger | undefined;
  }) {
    this.network = init.network;
    this.rollout = init.rollout;
    this.backend = init.backend;
    this.placement = init.placement;
    this.arena = init.arena;
    this.#kernels = init.kernels;
    this.#computed = init.network.nodes.filter((n) => !n.isInput).map((n) => n.index);
    this.weights = init.weights;
    this.#pool = init.pool;
    this.#tasks = init.tasks;
    this.#ctrl = init.arena.control;
    this.#queue = init.queue;
    this.#spin = init.spin;
    this.#nonFinite = init.nonFinite;
    this.#logger = init.logger;
    this.#latency = createHistogram();
    for (const [w, task] of init.tasks.entries()) {
      task.catch((err: unknown) => {
        const nodes = init.placement.nodesOf[w].map((v) => init.network.nodes[v].name).join(', ');
        const why = err instanceof Error ? err.message : String(err);
        // A node failure names node and tick itself; a dead thread is named by its nodes.
        const message = /^node "/.test(why) ? why : `worker ${w} (nodes ${nodes}) stopped at tick ${this.#engineFrame - this.#base}: ${why}`;
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
    const backend = getBackend(options.backend ?? defaultBackend());
    const computed = network.nodes.filter((n) => !n.isInput).length;
    const cores = availableParallelism();
    const limit = options.workers ?? Math.min(cores, computed);
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`workers must be an integer >= 1, got ${String(options.workers)}`);
    const queue = options.queue ?? 32;
    if (!Number.isInteger(queue) || queue < 1) throw new RangeError(`queue must be an integer >= 1, got ${String(options.queue)}`);
    const slack = options.slack ?? RING_SLACK;
    if (!Number.isInteger(slack) || slack < 0 || slack > 64) throw new RangeError(`slack must be an integer from 0 to 64, got ${String(options.slack)}`);
    // Enough control lines for the most workers any placement could use.
    const maxWorkers = Math.max(limit, computed);
    const plan = planArena(network, rollout.delays, backend, { controlLines: controlLines(network.nodes.length, maxWorkers), queue, staging: true, slack });
    const arena = createArena(network, plan, backend, params);
    // Control memory starts zeroed, which would name node 0 as the one the main thread awaits.
    Atomics.store(arena.control, WAKE_NODE, -1);
    // The main thread's own binding: calibration, and scanning inputs where they land.
    const kernels = backend.bind(arena.memory);
    const costs = await nodeCosts(network, rollout.delays, arena, backend, kernels, options.calibrate ?? true);
    // Without an explicit count, as many workers as pay off (see chooseWorkerCount).
    const requested = options.workers ?? (options.placement === undefined || options.placement === 'auto' ? chooseWorkerCount(network, rollout.delays, limit, costs) : limit);
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
    const pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: placement.workers,
      maxThreads: placement.workers,
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
    });
    const backendModule = options.backendModule === undefined ? undefined : String(options.backendModule);
    const order = frameOrder(network, rollout.delays);
    // Staged inputs are converted by the worker of their first consumer (an R=0 one if any),
    // which then owns the input's ready counter.
    const owner = [...placement.owner];
    for (const v of network.inputs) {
      if (plan.staging[v] === null) continue;
      const outs = network.nodes[v].outEdges;
      const first = (es: readonly number[]): number => es.map((e) => network.edges[e].to).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
      const immediate = outs.filter((e) => rollout.delays[e] === 0);
      owner[v] = placement.owner[first(immediate.length > 0 ? immediate : outs)];
    }
    const tasks = placement.nodesOf.map((nodes, w) => {
      // nodesOf is already in frame order.
      const task: FrameLoopTask = {
        spec: network.spec,
        delays: rollout.delays,
        plan,
        memory: arena.memory,
        backend: backend.name,
        ...(backendModule === undefined ? {} : { backendModule }),
        worker: w,
        nodes,
        owner,
        converts: network.inputs.filter((v) => owner[v] === w),
        spin,
      };
      return pool.run(task) as Promise<FrameLoopResult>;
    });
    const rt = new Runtime({
      network,
      rollout,
      backend,
      placement,
      arena,
      kernels,
      weights: loaded.weights,
      pool,
      tasks,
      queue,
      spin,
      nonFinite: options.nonFinite ?? 'reject',
      logger: options.logger,
    });
    try {
      await rt.#untilFailure(waitAtLeastAsync(arena.control, READY, placement.workers));
      await rt.#warmUp(options.warmUp ?? 8);
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
    return rt;
  }

  /** Ticks computed since the start (or the last reset). */
  get tick(): number {
    return this.#engineFrame - this.#base;
  }

  /**
   * Presents the next input frame and resolves with that tick's outputs (row-major copies).
   * Calls are served one at a time, in order.
   * @throws InputError for a bad input (the runtime stays usable); RuntimeError once closed or failed
   */
  step(input: InputFrame): Promise<Record<string, Float32Array>> {
    return this.#exclusive(async () => {
      this.#assertOpen();
      const room = this.#room(this.#engineFrame + 1);
      if (room !== undefined) await room;
      const k = this.#publish(input);
      const t0 = performance.now();
      const wait = this.#outputsDone(k);
      if (wait !== undefined) await wait;
      const outputs = this.#readOutputs(k);
      this.#latency.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      return outputs;
    });
  }

  /**
   * Free-running: feeds input frames from `inputs` as fast as the engine takes them (up to
   * `queue` frames ahead, so workers run frames back to back) and yields each tick's outputs
   * in order. Ends when the inputs end or `signal` aborts; holds the runtime meanwhile.
   */
  run(inputs: AsyncIterable<InputFrame> | Iterable<InputFrame>, options: { signal?: AbortSignal } = {}): AsyncIterable<TickResult> {
    const self = this;
    return {
      [Symbol.asyncIterator]: () => {
        let release: () => void = () => undefined;
        let acquired = false;
        const source = Symbol.asyncIterator in inputs ? (inputs as AsyncIterable<InputFrame>)[Symbol.asyncIterator]() : (inputs as Iterable<InputFrame>)[Symbol.iterator]();
        const pending: { k: number; t0: number }[] = [];
        let exhausted = false;
        const abortError = (): Error => new RuntimeError('run aborted', { cause: options.signal?.reason });
        const finish = async (): Promise<IteratorResult<TickResult>> => {
          release();
          // Let in-flight frames finish so the next step starts from a settled engine.
          if (pending.length > 0 && self.#failed === undefined) await self.#frameDone(pending[pending.length - 1].k)?.catch(() => undefined);
          pending.length = 0;
          if (!exhausted) await source.return?.();
          return { done: true, value: undefined };
        };
        return {
          async next(): Promise<IteratorResult<TickResult>> {
            if (!acquired) {
              acquired = true;
              let done!: () => void;
              const mine = new Promise<void>((r) => (done = r));
              const previous = self.#busy;
              self.#busy = previous.then(() => mine);
              await previous.catch(() => undefined);
              release = done;
            }
            try {
              self.#assertOpen();
              if (options.signal?.aborted === true) throw abortError();
              while (!exhausted && pending.length < self.#queue) {
                const room = self.#room(self.#engineFrame + 1, options.signal);
                if (room !== undefined) await room;
                const item = await source.next();
                if (item.done === true) {
                  exhausted = true;
                  break;
                }
                pending.push({ k: self.#publish(item.value), t0: performance.now() });
              }
              const head = pending[0];
              if (head === undefined) return await finish();
              // Sleep until half the queue is done, not just the head: one wake-up of this
              // thread per queue/2 frames instead of one per frame, while the workers always
              // have frames left to run.
              const target = pending[Math.min(pending.length - 1, self.#queue >> 1)].k;
              const wait = self.#firstBehind(self.network.outputs, head.k) < 0 ? undefined : self.#outputsDone(target, options.signal);
              if (wait !== undefined) await wait;
              pending.shift();
              const latencyUs = (performance.now() - head.t0) * 1000;
              self.#latency.record(Math.max(1, Math.round(latencyUs)));
              return { done: false, value: { tick: head.k - self.#base, outputs: self.#readOutputs(head.k), latencyUs } };
            } catch (err) {
              await finish();
              throw err;
            }
          },
          async return(): Promise<IteratorResult<TickResult>> {
            return finish();
          },
        };
      },
    };
  }

  /**
   * Runs `ticks` ticks with the same input frame (a static scene, like the paper's repeated
   * digit) and resolves with the last tick's outputs. Free-running: the main thread only
   * copies the frame into the input ring ahead of the workers, `queue` frames at a time, and
   * reads nothing back until the end, so workers run frames back to back.
   */
  repeat(input: InputFrame, ticks: number): Promise<Record<string, Float32Array>> {
    return this.#exclusive(async () => {
      this.#assertOpen();
      if (!Number.isInteger(ticks) || ticks < 1) throw new RangeError(`ticks must be an integer >= 1, got ${ticks}`);
      // Every frame in flight must be done before the staging ring is refilled.
      const settled = this.#frameDone(this.#engineFrame);
      if (settled !== undefined) await settled;
      // Copied once: the caller may reuse its arrays while the ticks run.
      const held = checkInputFrame(this.network, input, this.tick + 1, this.#nonFinite).map((a) => Float32Array.from(a));
      const last = this.#engineFrame + ticks;
      const t0 = performance.now();
      // Every staging slot is free now (no frame in flight): fill them all with the held frame
      // once, so per tick only unstaged inputs are copied. Only the last tick's outputs are read.
      const unstaged = this.network.inputs.flatMap((v, j) => {
        const ring = this.arena.plan.staging[v];
        if (ring === null) return [j];
        for (let slot = 0; slot < ring.depth; slot++) (this.arena.staged(v, slot) as Float32Array).set(held[j]);
        return [];
      });
      Atomics.store(this.#ctrl, OUTPUTS_FROM, last);
      try {
        while (this.#engineFrame < last) {
          const room = this.#completed() + this.#queue - this.#engineFrame;
          if (room <= 0) {
            // Sleep until half the queue has drained, then top it up in one burst.
            await this.#frameDone(this.#engineFrame - (this.#queue >> 1));
            continue;
          }
          for (let i = 0; i < room && this.#engineFrame < last; i++) {
            const k = this.#engineFrame + 1;
            for (const j of unstaged) {
              const v = this.network.inputs[j];
              toInternal(held[j], this.arena.state(v, k), this.network.nodes[v].shape, this.backend.layout);
            }
            this.#publishFrame(k);
          }
        }
        await this.#frameDone(last);
      } finally {
        Atomics.store(this.#ctrl, OUTPUTS_FROM, 0);
      }
      this.#latency.record(Math.max(1, Math.round(((performance.now() - t0) * 1000) / ticks)));
      return this.#readOutputs(last);
    });
  }

  /** Back to frame 0 (all states zero); waits for in-flight work first. */
  reset(): Promise<void> {
    return this.#exclusive(async () => {
      this.#assertOpen();
      // A step returns once its outputs are done; other nodes may still be finishing.
      const settled = this.#frameDone(this.#engineFrame);
      if (settled !== undefined) await settled;
      this.#resetStates();
    });
  }

  /** Tick count, latency percentiles, placement and per-worker timing. */
  stats(): RuntimeStats {
    const h = this.#latency;
    const count = h.count;
    const ctrl = this.#ctrl;
    const nodes = this.network.nodes.length;
    return {
      ticks: this.tick,
      backend: this.backend.describe(),
      workers: this.placement.workers,
      sync: this.#spin ? 'spin' : 'wait',
      placement: this.placement,
      latencyUs: {
        p50: count === 0 ? 0 : h.percentile(50),
        p99: count === 0 ? 0 : h.percentile(99),
        max: count === 0 ? 0 : h.max,
        mean: count === 0 ? 0 : h.mean,
      },
      perWorker: this.placement.nodesOf.map((vs, w) => {
        const line = workerLine(nodes, w);
        const frames = Atomics.load(ctrl, line);
        const timing = new Float64Array(ctrl.buffer, ctrl.byteOffset + line * 4 + 8, 2);
        return {
          nodes: vs.map((v) => this.network.nodes[v].name),
          frames,
          computeUs: frames === 0 ? 0 : timing[0] / frames,
          waitUs: frames === 0 ? 0 : timing[1] / frames,
        };
      }),
    };
  }

  /** Stops every worker (within about a second) and frees the pool. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#onClose?.();
      const error = this.#failed ?? new RuntimeError('the runtime was closed');
      for (const stop of [...this.#waiters]) stop(error);
      if (Atomics.load(this.#ctrl, STOP) === 0) Atomics.store(this.#ctrl, STOP, STOP_REQUESTED);
      this.#notifyAll();
      const settled = Promise.allSettled(this.#tasks);
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

  #assertOpen(): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#closing !== undefined) throw new RuntimeError('the runtime is closed');
  }

  #fail(error: Error): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    Atomics.store(this.#ctrl, STOP, STOP_FAILED);
    this.#notifyAll();
    this.#logger?.error({ err: error.message }, 'worker failed');
    void this.close();
  }

  #notifyAll(): void {
    for (let i = 0; i < this.#ctrl.length; i += 16) Atomics.notify(this.#ctrl, i);
  }

  /** Runs `fn` after every earlier step / run / reset has finished. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#busy.catch(() => undefined).then(fn);
    this.#busy = result.catch(() => undefined);
    return result;
  }

  /** Waits for `p`, but rejects as soon as a worker fails, the runtime closes, or `signal` aborts. */
  #untilFailure<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      const settle = (f: () => void): void => {
        this.#waiters.delete(stop);
        if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
        f();
      };
      const stop = (error: Error): void => settle(() => reject(error));
      if (this.#closing !== undefined) return stop(this.#failed ?? new RuntimeError('the runtime was closed'));
      this.#waiters.add(stop);
      p.then((v) => settle(() => resolve(v)), (e: unknown) => settle(() => reject(e)));
      if (signal !== undefined) {
        onAbort = (): void => stop(new RuntimeError('run aborted', { cause: signal.reason }));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Resolves when every computed node has finished engine frame k; undefined (no promise at all) when they have. */
  #frameDone(k: number, signal?: AbortSignal): Promise<void> | undefined {
    return this.#nodesDone(this.#computed, k, signal);
  }

  /** Resolves when the output nodes have finished engine frame k (their states are readable). */
  #outputsDone(k: number, signal?: AbortSignal): Promise<void> | undefined {
    return this.#nodesDone(this.network.outputs, k, signal);
  }

  /** The first of `nodes` that has not finished frame k, or -1 (no allocation: called per frame). */
  #firstBehind(nodes: readonly number[], k: number): number {
    for (const v of nodes) if (Atomics.load(this.#ctrl, nodeTick(v)) < k) return v;
    return -1;
  }

  #nodesDone(nodes: readonly number[], k: number, signal?: AbortSignal): Promise<void> | undefined {
    if (this.#firstBehind(nodes, k) < 0) return undefined;
    return this.#untilFailure(
      (async () => {
        for (let v = this.#firstBehind(nodes, k); v >= 0; v = this.#firstBehind(nodes, k)) await this.#wakeWhen(v, k);
      })(),
      signal,
    );
  }

  /** Sleeps (without blocking the event loop) until node v has finished frame k. */
  async #wakeWhen(v: number, k: number): Promise<void> {
    const ctrl = this.#ctrl;
    for (;;) {
      // Ask first, then look: either this check sees the worker's progress, or the worker
      // sees the request after publishing it (all operations sequentially consistent).
      Atomics.store(ctrl, WAKE_AT, k);
      Atomics.store(ctrl, WAKE_NODE, v);
      const seen = Atomics.load(ctrl, MAIN_WAKE);
      if (Atomics.load(ctrl, nodeTick(v)) >= k) break;
      const result = Atomics.waitAsync(ctrl, MAIN_WAKE, seen, SLEEP_MS);
      if (result.async) await result.value;
      if (Atomics.load(ctrl, nodeTick(v)) >= k) break;
    }
    Atomics.store(ctrl, WAKE_NODE, -1);
  }

  /** The latest engine frame every computed node has finished. */
  #completed(): number {
    let min = Infinity;
    for (const v of this.#computed) min = Math.min(min, Atomics.load(this.#ctrl, nodeTick(v)));
    return min;
  }

  /** Waits until input frame k may be written: every node is done with frame k - queue. */
  #room(k: number, signal?: AbortSignal): Promise<void> | undefined {
    return this.#frameDone(k - this.#queue, signal);
  }

  /** Validates and writes the next input frame, then hands it to the workers; returns its engine frame. */
  #publish(input: InputFrame): number {
    const tick = this.#engineFrame + 1 - this.#base;
    const arrays = checkInputFrame(this.network, input, tick, this.#nonFinite, false);
    const k = this.#engineFrame + 1;
    this.#writeInputs(arrays, k);
    // Values are scanned where they landed, with the backend's (SIMD) scan; an unpublished
    // frame's slots may hold anything, so a rejected frame leaves no trace.
    for (const [j, v] of this.network.inputs.entries()) {
      const slot = this.arena.staged(v, k) ?? this.arena.state(v, k);
      const bad = this.#kernels.firstNonFinite(slot);
      if (bad < 0) continue;
      if (this.#nonFinite === 'reject') throw nonFiniteError(this.network.nodes[v].name, tick, arrays[j][bad], bad);
      for (let i = bad; i < slot.length; i++) if (!Number.isFinite(slot[i])) slot[i] = 0;
    }
    return this.#publishFrame(k);
  }

  /** Copies input arrays into frame k's slots: staged inputs as they are (their worker converts them), others converted here. */
  #writeInputs(arrays: readonly ArrayLike<number>[], k: number): void {
    const { inputs, nodes } = this.network;
    for (let j = 0; j < inputs.length; j++) {
      const v = inputs[j];
      const staged = this.arena.staged(v, k);
      if (staged !== null) staged.set(arrays[j]);
      else toInternal(arrays[j], this.arena.state(v, k), nodes[v].shape, this.backend.layout);
    }
  }

  #publishFrame(k: number): number {
    this.#engineFrame = k;
    Atomics.store(this.#ctrl, PUBLISHED, k);
    Atomics.notify(this.#ctrl, PUBLISHED);
    return k;
  }

  #readOutputs(k: number): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const o of this.network.outputs) {
      const node = this.network.nodes[o];
      const staged = this.arena.staged(o, k);
      if (staged !== null) {
        out[node.name] = staged.slice();
      } else {
        const copy = new Float32Array(node.size);
        fromInternal(this.arena.state(o, k), copy, node.shape, this.backend.layout);
        out[node.name] = copy;
      }
    }
    return out;
  }

  /** Zeroes every state while the workers wait for the next input; ticks count from here. */
  #resetStates(): void {
    this.arena.clearStates();
    this.#base = this.#engineFrame;
    Atomics.store(this.#ctrl, TICK_BASE, this.#base);
  }

  async #warmUp(ticks: number): Promise<void> {
    if (ticks <= 0) return;
    const zeros: Record<string, Float32Array> = {};
    for (const i of this.network.inputs) zeros[this.network.nodes[i].name] = new Float32Array(this.network.nodes[i].size);
    for (let t = 0; t < ticks; t++) {
      await this.#frameDone(this.#publish(zeros));
    }
    this.#resetStates();
  }
}
