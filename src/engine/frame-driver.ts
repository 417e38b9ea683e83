// The driver's side of the frame protocol, the counterpart of workers/frame-loop.ts: it
// writes input frames into the arena's row-major staging rings, publishes them, waits for
// nodes to finish frames and reads outputs. Exactly one thread drives an engine at a time:
// the Runtime's (main) thread, or a thread it hands the engine to (the real-time loop, the
// TCP server) with {@link DriverState}. It knows nothing of promises' owners, pools or
// options: that is the Runtime's business.
import type { Network } from '../graph/network.js';
import type { BoundKernels } from '../kernels/kernel.js';
import type { Arena } from './arena.js';
import { OUTPUTS_FROM, PUBLISHED, STOP, TICK_BASE, askWake, clearWake, DRIVER_WAKE, nodeTick } from './control.js';
import { nonFiniteError, type NonFinitePolicy } from './inputs.js';
import { SLEEP_MS } from './sync.js';

/** Where the engine's frames stand: handed between driving threads. */
export interface DriverState {
  /** The latest published engine frame. */
  readonly engineFrame: number;
  /** The engine frame that counts as tick 0 (ticks restart at reset). */
  readonly base: number;
}

/** The engine stopped (closed or failed) while a driver waited on it. */
export class EngineStopped extends Error {
  constructor() {
    super('the engine stopped');
    this.name = 'EngineStopped';
  }
}

export class FrameDriver {
  readonly net: Network;
  readonly arena: Arena;
  readonly ctrl: Int32Array;
  /** Input frames that may be published ahead of the slowest node. */
  readonly queue: number;
  readonly #kernels: BoundKernels;
  readonly #nonFinite: NonFinitePolicy;
  /** Indices of the computed (non-input) nodes. */
  readonly #computed: readonly number[];
  /** Per input (by position), its staging ring; per output likewise. */
  readonly #inputSlots: readonly (readonly Float32Array[])[];
  readonly #outputSlots: readonly (readonly Float32Array[])[];
  #engineFrame: number;
  #base: number;

  constructor(init: { net: Network; arena: Arena; kernels: BoundKernels; queue: number; nonFinite: NonFinitePolicy; state?: DriverState }) {
    this.net = init.net;
    this.arena = init.arena;
    this.ctrl = init.arena.control;
    this.queue = init.queue;
    this.#kernels = init.kernels;
    this.#nonFinite = init.nonFinite;
    this.#computed = init.net.nodes.filter((n) => !n.isInput).map((n) => n.index);
    const ring = (v: number): Float32Array[] => {
      const block = init.arena.plan.staging[v];
      if (block === null) throw new Error(`node "${init.net.nodes[v].name}" has no staging ring: plan the arena with staging`);
      return Array.from({ length: block.depth }, (_, k) => init.arena.staged(v, k) as Float32Array);
    };
    this.#inputSlots = init.net.inputs.map(ring);
    this.#outputSlots = init.net.outputs.map(ring);
    this.#engineFrame = init.state?.engineFrame ?? 0;
    this.#base = init.state?.base ?? 0;
  }

  get state(): DriverState {
    return { engineFrame: this.#engineFrame, base: this.#base };
  }

  /** Takes over where another driver of the same engine left off. */
  adopt(state: DriverState): void {
    this.#engineFrame = state.engineFrame;
    this.#base = state.base;
  }

  /** The latest published engine frame. */
  get engineFrame(): number {
    return this.#engineFrame;
  }

  /** Ticks published since the start (or the last reset). */
  get tick(): number {
    return this.#engineFrame - this.#base;
  }

  /** The tick engine frame k is. */
  tickOf(k: number): number {
    return k - this.#base;
  }

  /** Row-major staging slots of engine frame k's inputs, by position in `net.inputs`. */
  inputViews(k: number): readonly Float32Array[] {
    return this.#inputSlots.map((ring) => ring[k % ring.length]);
  }

  /** Row-major staging slot of frame k of the j-th output (by position in `net.outputs`). */
  outputView(j: number, k: number): Float32Array {
    const ring = this.#outputSlots[j];
    return ring[k % ring.length];
  }

  /** Zeroes frame k's input slots (a slot handed out for writing starts from zeros, not an old frame). */
  clearInputs(k: number): void {
    for (const ring of this.#inputSlots) this.#kernels.zero(ring[k % ring.length]);
  }

  /**
   * Copies one array per input (already checked for names and lengths) into frame k's slots
   * and scans them on the way in, as {@link checkInputs} does.
   */
  writeInputs(arrays: readonly ArrayLike<number>[], k: number): void {
    for (let j = 0; j < arrays.length; j++) {
      const slot = this.#inputSlots[j][k % this.#inputSlots[j].length];
      const bad = this.#kernels.copyIn(arrays[j], slot);
      if (bad >= 0) this.#nonFiniteAt(j, slot, bad, k);
    }
  }

  /**
   * Scans frame k's input slots where they landed, with the backend's (SIMD) scan: under
   * `reject` a non-finite value throws an InputError naming it (nothing is published, so the
   * frame leaves no trace); under `zero` it is replaced in place.
   */
  checkInputs(k: number): void {
    for (let j = 0; j < this.#inputSlots.length; j++) {
      const slot = this.#inputSlots[j][k % this.#inputSlots[j].length];
      const bad = this.#kernels.firstNonFinite(slot);
      if (bad >= 0) this.#nonFiniteAt(j, slot, bad, k);
    }
  }

  #nonFiniteAt(j: number, slot: Float32Array, bad: number, k: number): void {
    if (this.#nonFinite === 'reject') throw nonFiniteError(this.net.nodes[this.net.inputs[j]].name, k - this.#base, slot[bad], bad);
    for (let i = bad; i < slot.length; i++) if (!Number.isFinite(slot[i])) slot[i] = 0;
  }

  /** Hands frame k (the next one) to the workers. */
  publish(k: number): void {
    if (k !== this.#engineFrame + 1) throw new Error(`frame ${k} published after ${this.#engineFrame}`);
    this.#engineFrame = k;
    Atomics.store(this.ctrl, PUBLISHED, k);
    Atomics.notify(this.ctrl, PUBLISHED);
  }

  /** Asks workers to make row-major output copies from engine frame k on (0: every frame). */
  outputsFrom(k: number): void {
    Atomics.store(this.ctrl, OUTPUTS_FROM, k);
  }

  /** Copies frame k's outputs out, row-major, keyed by node name. */
  copyOutputs(k: number): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    this.net.outputs.forEach((o, j) => (out[this.net.nodes[o].name] = this.outputView(j, k).slice()));
    return out;
  }

  /** The first of `nodes` that has not finished frame k, or -1 (no allocation: called per frame). */
  firstBehind(nodes: readonly number[], k: number): number {
    for (const v of nodes) if (Atomics.load(this.ctrl, nodeTick(v)) < k) return v;
    return -1;
  }

  /** The latest engine frame every computed node has finished. */
  completed(): number {
    let min = Infinity;
    for (const v of this.#computed) min = Math.min(min, Atomics.load(this.ctrl, nodeTick(v)));
    return min;
  }

  /** Whether the engine was asked to stop or failed. */
  stopped(): boolean {
    return Atomics.load(this.ctrl, STOP) !== 0;
  }

  /** Resolves when every computed node has finished engine frame k; undefined (no promise at all) when they have. */
  frameDone(k: number): Promise<void> | undefined {
    return this.nodesDone(this.#computed, k);
  }

  /** Resolves when the output nodes have finished engine frame k (their outputs are readable). */
  outputsDone(k: number): Promise<void> | undefined {
    return this.nodesDone(this.net.outputs, k);
  }

  /** Waits until input frame k may be written: every node is done with frame k - queue. */
  room(k: number): Promise<void> | undefined {
    return this.frameDone(k - this.queue);
  }

  /** Resolves when `nodes` have finished frame k, sleeping without blocking the event loop; rejects with {@link EngineStopped}. */
  nodesDone(nodes: readonly number[], k: number): Promise<void> | undefined {
    if (this.firstBehind(nodes, k) < 0) return undefined;
    return (async () => {
      for (let v = this.firstBehind(nodes, k); v >= 0; v = this.firstBehind(nodes, k)) await this.#wakeWhen(v, k);
    })();
  }

  /**
   * Blocks (not on a thread with an event loop to keep) until `nodes` have finished frame k:
   * spins up to `spinMs`, then sleeps until the worker of the lagging node wakes it. False
   * when the engine stopped first.
   */
  nodesDoneSync(nodes: readonly number[], k: number, spinMs: number): boolean {
    const ctrl = this.ctrl;
    const until = performance.now() + spinMs;
    for (let i = 0; this.firstBehind(nodes, k) >= 0; i++) {
      if ((i & 31) === 31 && (this.stopped() || performance.now() >= until)) break;
    }
    for (let v = this.firstBehind(nodes, k); v >= 0; v = this.firstBehind(nodes, k)) {
      if (this.stopped()) return false;
      const seen = askWake(ctrl, v, k);
      if (Atomics.load(ctrl, nodeTick(v)) < k) Atomics.wait(ctrl, DRIVER_WAKE, seen, SLEEP_MS);
    }
    clearWake(ctrl);
    return true;
  }

  /** Sleeps (without blocking the event loop) until node v has finished frame k. */
  async #wakeWhen(v: number, k: number): Promise<void> {
    const ctrl = this.ctrl;
    try {
      for (;;) {
        if (this.stopped()) throw new EngineStopped();
        const seen = askWake(ctrl, v, k);
        if (Atomics.load(ctrl, nodeTick(v)) >= k) return;
        const result = Atomics.waitAsync(ctrl, DRIVER_WAKE, seen, SLEEP_MS);
        if (result.async) await result.value;
        if (Atomics.load(ctrl, nodeTick(v)) >= k) return;
      }
    } finally {
      clearWake(ctrl);
    }
  }

  /** Zeroes every state while the workers wait for the next input; ticks count from here. */
  resetStates(): void {
    this.arena.clearStates();
    this.#base = this.#engineFrame;
    Atomics.store(this.ctrl, TICK_BASE, this.#base);
  }
}
