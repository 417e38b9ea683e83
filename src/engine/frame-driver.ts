// The driver's side of the frame protocol, the counterpart of workers/frame-loop.ts: it
// copies input frames into their inputs' state rings (checked, and converted to the arena's
// order on the way), publishes them, waits for nodes to finish frames and reads outputs.
// Each stream (session) has its own state set and frame count; an engine frame computes a
// batch of streams, each at its own next frame. Exactly one thread drives an engine at a
// time: the Runtime's (main) thread, or a thread it hands the engine to (the real-time loop,
// the TCP server) with {@link DriverState}. It knows nothing of promises' owners, pools or
// options: that is the Runtime's business.
import type { Network } from '../graph/network.js';
import type { BoundKernels } from '../kernels/kernel.js';
import { BATCH_WORDS, ENTRY_CLAIM, ENTRY_PREVIOUS, ENTRY_TICK, type Arena } from './arena.js';
import { NO_OUTPUTS, PUBLISHED, STAGED_INPUTS, STOP, askWake, clearWake, DRIVER_WAKE, nodeTick } from './control.js';
import { nonFiniteError, type NonFinitePolicy } from '../io/inputs.js';
import { SLEEP_MS } from './sync.js';
import { StreamrollError } from '../util/errors.js';

/** One stream's frames as a driver hands them on: its latest published frame and the engine frames of its recent ones. */
export interface StreamFrames {
  readonly frame: number;
  /** The frame its ticks count from (its last reset). */
  readonly base: number;
  /** Engine frame of the stream's frame f at index f mod length (the last `length` frames). */
  readonly engine: readonly number[];
}

/** Where the engine's frames stand: handed between driving threads. */
export interface DriverState {
  /** The latest published engine frame. */
  readonly engineFrame: number;
  readonly streams: readonly StreamFrames[];
}

/** The engine stopped (closed or failed) while a driver waited on it. */
export class EngineStopped extends StreamrollError {
  constructor() {
    super('ENGINE_STOPPED', 'the engine stopped');
    this.name = 'EngineStopped';
  }
}

export class FrameDriver {
  readonly net: Network;
  readonly arena: Arena;
  readonly ctrl: Int32Array;
  /** Input frames that may be published ahead of the slowest node: in all, and for stream 0. */
  readonly queue: number;
  /** The same for each stream (stream 0: `queue`; sessions: the arena's `sessionQueue`). */
  readonly #queues: readonly number[];
  /** Streams with a state set of their own (the arena's). */
  readonly streams: number;
  readonly #kernels: BoundKernels;
  readonly #nonFinite: NonFinitePolicy;
  /** Indices of the computed (non-input) nodes. */
  readonly #computed: readonly number[];
  /**
   * Per input (by position), per stream, the row-major ring zero-copy views write into (its
   * staging ring, or its state ring where the orders agree, which copied frames also take).
   */
  readonly #inputSlots: readonly (readonly (readonly Float32Array[])[])[];
  /** Per input with a staging ring (by position; else null), per stream, its state ring. */
  readonly #inputStates: readonly (readonly (readonly Float32Array[])[] | null)[];
  /** Per stream, by frame mod its input ring, whether that frame's inputs wait in their staging slots (zero-copy views). */
  readonly #stagedIn: boolean[][];
  /** Per output (by position), per stream, its staging ring. */
  readonly #outputSlots: readonly (readonly (readonly Float32Array[])[])[];
  #engineFrame: number;
  /** Per stream, its latest published frame (frame 0 is all zeros). */
  readonly #frames: number[];
  /** Per stream, the frame its ticks count from (its last reset). */
  readonly #bases: number[];
  /** Per stream, the engine frames of its recent frames (see {@link StreamFrames}). */
  readonly #engineOf: number[][];

  constructor(init: { net: Network; arena: Arena; kernels: BoundKernels; queue: number; nonFinite: NonFinitePolicy; state?: DriverState }) {
    this.net = init.net;
    this.arena = init.arena;
    this.ctrl = init.arena.control;
    this.queue = init.queue;
    this.streams = init.arena.plan.streams;
    this.#kernels = init.kernels;
    this.#nonFinite = init.nonFinite;
    this.#computed = init.net.nodes.filter((n) => !n.isInput).map((n) => n.index);
    const rings = (v: number): (readonly Float32Array[])[] =>
      Array.from({ length: this.streams }, (_, s) => {
        const ring = init.arena.stagingSlots(v, s);
        if (ring === null) throw new Error(`node "${init.net.nodes[v].name}" has no staging ring: plan the arena with staging`);
        return ring;
      });
    // An input without a staging ring is in the arena's order: its frames go straight into
    // its state ring, which holds its queue (see ArenaOptions.staging).
    const states = (v: number): (readonly Float32Array[])[] => Array.from({ length: this.streams }, (_, s) => init.arena.slots(v, s));
    this.#inputSlots = init.net.inputs.map((v) => (init.arena.plan.staging[v] === null ? states(v) : rings(v)));
    this.#inputStates = init.net.inputs.map((v) => (init.arena.plan.staging[v] === null ? null : states(v)));
    this.#outputSlots = init.net.outputs.map(rings);
    this.#engineFrame = 0;
    this.#frames = new Array<number>(this.streams).fill(0);
    this.#bases = new Array<number>(this.streams).fill(0);
    this.#queues = Array.from({ length: this.streams }, (_, s) => (s === 0 ? this.queue : Math.min(this.queue, init.arena.plan.sessionQueue)));
    this.#engineOf = Array.from({ length: this.streams }, (_, s) => new Array<number>(this.#queues[s] + 2).fill(0));
    this.#stagedIn = Array.from({ length: this.streams }, (_, s) => new Array<boolean>(init.net.inputs.length === 0 ? 1 : this.inputRing(s)).fill(false));
    if (init.state !== undefined) this.adopt(init.state);
  }

  get state(): DriverState {
    return { engineFrame: this.#engineFrame, streams: this.#frames.map((frame, s) => ({ frame, base: this.#bases[s], engine: [...this.#engineOf[s]] })) };
  }

  /** Takes over where another driver of the same engine left off. */
  adopt(state: DriverState): void {
    this.#engineFrame = state.engineFrame;
    state.streams.forEach((s, i) => {
      this.#frames[i] = s.frame;
      this.#bases[i] = s.base;
      this.#engineOf[i] = [...s.engine];
    });
  }

  /** The latest published engine frame. */
  get engineFrame(): number {
    return this.#engineFrame;
  }

  /** Stream s's latest published frame. */
  frameOf(stream: number): number {
    return this.#frames[stream];
  }

  /** The tick stream s's frame f is (ticks count from its last reset). */
  tickOf(stream: number, f: number): number {
    return f - this.#bases[stream];
  }

  /** Frames stream s may have in flight, and the most output frames of it that may be held. */
  queueOf(stream: number): number {
    return this.#queues[stream];
  }

  /** The engine frame that computed (or computes) stream s's frame f, one of its last `queueOf(s) + 2`. */
  engineOf(stream: number, f: number): number {
    if (f <= 0) return 0;
    const ring = this.#engineOf[stream];
    if (f > this.#frames[stream] || f <= this.#frames[stream] - ring.length) throw new RangeError(`frame ${f} of stream ${stream} is not among its recent ones (latest ${this.#frames[stream]})`);
    return ring[f % ring.length];
  }

  /**
   * The engine frame that must be complete before stream s's next frame may be written: its
   * frame `queueOf(s)` back (its staging slot is free then); 0 when there is none.
   */
  streamRoom(stream: number): number {
    return this.engineOf(stream, this.#frames[stream] + 1 - this.#queues[stream]);
  }

  /** Slots in stream s's input rings (the most frames of it with distinct input slots). */
  inputRing(stream: number): number {
    return Math.min(...this.#inputSlots.map((rings) => rings[stream].length), ...this.#inputStates.map((rings) => rings?.[stream].length ?? Infinity));
  }

  /**
   * Row-major slots for stream s's frame f inputs, by position in `net.inputs`, for a
   * zero-copy writer (see #inputSlots); {@link checkInputs} then takes them in.
   */
  inputViews(stream: number, f: number): readonly Float32Array[] {
    return this.#inputSlots.map((rings) => rings[stream][f % rings[stream].length]);
  }

  /**
   * Row-major views of what stream s's frame f was given, by position in `net.inputs`; valid
   * until the stream's input ring comes round again. A frame copied into the state ring of an
   * input whose order differs is converted back into its staging slot for this.
   */
  inputsOf(stream: number, f: number): readonly Float32Array[] {
    const staged = this.#isStaged(stream, f);
    return this.#inputSlots.map((rings, j) => {
      const slot = rings[stream][f % rings[stream].length];
      const states = this.#inputStates[j];
      if (states !== null && !staged) {
        const v = this.net.inputs[j];
        this.#kernels.fromInternal(states[stream][f % states[stream].length], slot, this.net.nodes[v].shape, this.net.nodes[v].order);
      }
      return slot;
    });
  }

  /** Row-major staging slot of stream s's frame f of the j-th output (by position in `net.outputs`). */
  outputView(j: number, stream: number, f: number): Float32Array {
    const ring = this.#outputSlots[j][stream];
    return ring[f % ring.length];
  }

  /** Zeroes stream s's frame f input slots (a slot handed out for writing starts from zeros, not an old frame). */
  clearInputs(stream: number, f: number): void {
    for (const rings of this.#inputSlots) this.#kernels.zero(rings[stream][f % rings[stream].length]);
  }

  /**
   * Copies one array per input (already checked for names and lengths) into stream s's frame
   * f slots and scans them on the way in, as {@link checkInputs} does.
   */
  writeInputs(arrays: readonly ArrayLike<number>[], stream: number, f: number): void {
    for (let j = 0; j < arrays.length; j++) {
      const ring = this.#inputSlots[j][stream];
      const slot = ring[f % ring.length];
      const states = this.#inputStates[j];
      if (states === null) {
        const bad = this.#kernels.copyIn(arrays[j], slot);
        if (bad >= 0) this.#nonFiniteAt(j, stream, slot, bad, f);
        continue;
      }
      // Converted on the way into its state slot, in one pass where the backend can.
      const v = this.net.inputs[j];
      const { shape, order } = this.net.nodes[v];
      const state = states[stream][f % states[stream].length];
      const bad = this.#kernels.copyInInternal(arrays[j], state, slot, shape, order);
      if (bad < 0) continue;
      // Rare: the policy works on the row-major frame (throwing, or zeroing in place).
      this.#kernels.copyIn(arrays[j], slot);
      this.#nonFiniteAt(j, stream, slot, bad, f);
      this.#kernels.toInternal(slot, state, shape, order);
    }
    this.#markStaged(stream, f, false);
  }

  /**
   * Scans stream s's frame f input slots where they landed, with the backend's (SIMD) scan:
   * under `reject` a non-finite value throws an InputError naming it (nothing is published,
   * so the frame leaves no trace); under `zero` it is replaced in place.
   */
  checkInputs(stream: number, f: number): void {
    for (let j = 0; j < this.#inputSlots.length; j++) {
      const ring = this.#inputSlots[j][stream];
      const slot = ring[f % ring.length];
      const bad = this.#kernels.firstNonFinite(slot);
      if (bad >= 0) this.#nonFiniteAt(j, stream, slot, bad, f);
    }
    // Inputs with a staging ring are converted by their workers (nothing is copied here).
    this.#markStaged(stream, f, true);
  }

  /** Whether stream s's frame f came through zero-copy views (see #stagedIn). */
  #isStaged(stream: number, f: number): boolean {
    const ring = this.#stagedIn[stream];
    return ring[f % ring.length];
  }

  #markStaged(stream: number, f: number, staged: boolean): void {
    const ring = this.#stagedIn[stream];
    ring[f % ring.length] = staged;
  }

  #nonFiniteAt(j: number, stream: number, slot: Float32Array, bad: number, f: number): void {
    if (this.#nonFinite === 'reject') throw nonFiniteError(this.net.nodes[this.net.inputs[j]].name, f - this.#bases[stream], slot[bad], bad);
    for (let i = bad; i < slot.length; i++) if (!Number.isFinite(slot[i])) slot[i] = 0;
  }

  /**
   * Publishes the next engine frame for one stream's next frame (its inputs already written)
   * and returns the engine frame. With `noOutputs` the workers skip the row-major output
   * copies (nobody reads them). The engine frame `queue` back must be complete.
   */
  publishOne(stream: number, noOutputs = false): number {
    const k = this.#engineFrame + 1;
    const entry = this.arena.batch(k);
    entry[0] = 1;
    entry[entry.length - 1] = 0;
    this.#enter(entry, 0, stream, noOutputs, k);
    return this.#publish(k);
  }

  /**
   * Publishes the next engine frame for a batch of streams (distinct), each at its next frame
   * (inputs already written), and returns the engine frame.
   */
  publishBatch(streams: readonly number[]): number {
    const k = this.#engineFrame + 1;
    if (streams.length === 0 || streams.length > this.streams) throw new RangeError(`a batch of ${streams.length} streams (1 to ${this.streams})`);
    const entry = this.arena.batch(k);
    entry[0] = streams.length;
    entry[entry.length - 1] = 0;
    streams.forEach((s, b) => this.#enter(entry, b, s, false, k));
    return this.#publish(k);
  }

  #enter(entry: Int32Array, b: number, stream: number, noOutputs: boolean, k: number): void {
    if (!(stream >= 0 && stream < this.streams)) throw new RangeError(`stream ${stream} (the arena has ${this.streams})`);
    const f = ++this.#frames[stream];
    const ring = this.#engineOf[stream];
    const previous = ring[(f - 1) % ring.length];
    ring[f % ring.length] = k;
    const staged = this.#isStaged(stream, f) ? STAGED_INPUTS : 0;
    const at = 1 + BATCH_WORDS * b;
    entry[at] = (noOutputs ? stream | NO_OUTPUTS : stream) | staged;
    entry[at + 1] = f;
    entry[at + ENTRY_TICK] = f - this.#bases[stream];
    entry[at + ENTRY_PREVIOUS] = previous;
    // Free for engine frame k (stream lanes claim it by negating it).
    entry[at + ENTRY_CLAIM] = k;
  }

  #publish(k: number): number {
    this.#engineFrame = k;
    Atomics.store(this.ctrl, PUBLISHED, k);
    Atomics.notify(this.ctrl, PUBLISHED);
    return k;
  }

  /** Copies stream s's frame f outputs out, row-major, keyed by node name. */
  copyOutputs(stream: number, f: number): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    this.net.outputs.forEach((o, j) => (out[this.net.nodes[o].name] = this.outputView(j, stream, f).slice()));
    return out;
  }

  /** The first of `nodes` that has not finished engine frame k, or -1 (no allocation: called per frame). */
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

  /** The computed nodes' indices. */
  get computed(): readonly number[] {
    return this.#computed;
  }

  /** Whether the engine was asked to stop or failed. */
  stopped(): boolean {
    return Atomics.load(this.ctrl, STOP) !== 0;
  }

  /**
   * Blocks (not on a thread with an event loop to keep) until `nodes` have finished engine
   * frame k: spins up to `spinMs`, then sleeps until the worker of the lagging node wakes it.
   * False when the engine stopped first.
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

  /**
   * Sleeps (without blocking the event loop) until node v has finished engine frame k; one
   * caller at a time (the wake request is a single word: see FrameWatch, which multiplexes).
   */
  async wakeWhen(v: number, k: number): Promise<void> {
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

  /**
   * Back to all states zero for one stream, its ticks counting from here; its frames must all
   * be complete. Its frame numbers go on (a held output frame keeps its slot).
   */
  resetStream(stream: number): void {
    this.arena.clearStates(stream);
    this.#bases[stream] = this.#frames[stream];
  }
}
