import { StreamrollError } from '../util/errors.js';
import { count, LIMITS, LimitError } from '../graph/limits.js';
import type { Network } from '../graph/network.js';
import type { KernelBackend, KernelMemory, StateLayout } from '../kernels/kernel.js';
import { crossesOrder, toInternal } from '../kernels/layout.js';
import type { Parameters } from '../graph/parameters.js';

/** Every block starts on its own cache line, so threads writing different blocks never share one. */
export const CACHE_LINE = 64;

/**
 * A node's rings, one per stream: stream 0's has `depth` slots of `size` floats, `slotBytes`
 * apart; every other stream's `sessionDepth` slots, `sessionRingBytes` apart after stream
 * 0's (see {@link ringOf}). The two depths differ only for rings that hold queued frames
 * (the runtime's queue against the sessions'): inputs and staging rings.
 */
export interface StateBlock {
  readonly offset: number;
  readonly size: number;
  readonly depth: number;
  readonly slotBytes: number;
  readonly ringBytes: number;
  readonly sessionDepth: number;
  readonly sessionRingBytes: number;
}

/** Where stream s's ring of a block starts, and its slots. */
export function ringOf(block: StateBlock, stream: number): { readonly offset: number; readonly depth: number } {
  if (stream === 0) return { offset: block.offset, depth: block.depth };
  return { offset: block.offset + block.ringBytes + (stream - 1) * block.sessionRingBytes, depth: block.sessionDepth };
}

/**
 * The batch table: for each of the last `depth` engine frames (by frame mod depth), which
 * streams it computes and each one's own frame. `words` Int32 per entry: the count, then
 * (stream, frame, tick) triples (the tick, frame less the stream's reset point, for messages).
 */
export interface BatchTable {
  readonly offset: number;
  readonly depth: number;
  /** Int32 words per engine frame: the count, the entries, and the entries' done count (last). */
  readonly words: number;
}

/** A tensor's place: byte offset and length in floats. */
export interface TensorBlock {
  readonly offset: number;
  readonly floats: number;
}

/**
 * Where everything of one network lives in one shared memory: control words (one cache line
 * per worker), each node's state ring (depth 1 + its largest outgoing delay, at least 2),
 * a zero block read for frames before 0, biases and packed weights. Computed up front from
 * the network, rollout and backend; the memory never grows during a run.
 */
export interface ArenaPlan {
  readonly backend: string;
  readonly layout: StateLayout;
  readonly bytes: number;
  readonly controlOffset: number;
  readonly controlLines: number;
  readonly states: readonly StateBlock[];
  readonly zeros: TensorBlock;
  readonly biases: readonly TensorBlock[];
  readonly weights: readonly TensorBlock[];
  /**
   * Per node, a row-major ring beside its state ring, or null; see {@link ArenaOptions.staging}.
   * Its depth counts the queue (so does an input's state ring; an output's does not).
   */
  readonly staging: readonly (StateBlock | null)[];
  /** Streams (sessions) with a state set of their own; see {@link ArenaOptions.streams}. */
  readonly streams: number;
  /** Bytes of one session's state set (its rings and staging rings). */
  readonly streamBytes: number;
  /** Frames each stream may queue: stream 0 (the runtime's own) `queue`, sessions `sessionQueue`. */
  readonly queue: number;
  readonly sessionQueue: number;
  readonly batches: BatchTable;
}

const align = (n: number): number => Math.ceil(n / CACHE_LINE) * CACHE_LINE;

/** Options of {@link planArena}. */
export interface ArenaOptions {
  /** Cache lines of control words to reserve (e.g. one per worker); default 0. */
  readonly controlLines?: number;
  /**
   * Extra ring slots for input and output nodes, so a producer can queue that many input
   * frames ahead and outputs stay readable until consumed (free-running mode); default 0.
   * With `staging` they are slots of the staging rings only.
   */
  readonly queue?: number;
  /** The same for streams other than stream 0 (sessions); default `queue`. */
  readonly sessionQueue?: number;
  /**
   * Give every output node, and every input whose order differs from the backend's (a
   * [C,H,W] frame of C > 1 on an HWC backend), a second ring in row-major order: the driver
   * reads outputs there (workers convert or copy them out), and zero-copy writers write such
   * inputs there (workers convert them in). Frames copied in by the driver go straight into
   * the inputs' state rings, which hold the queue.
   */
  readonly staging?: boolean;
  /**
   * Extra ring slots for every computed node: how many frames a worker may run ahead of the
   * workers that read its states before it must wait for them (absorbs one worker being
   * descheduled for a moment); default 0.
   */
  readonly slack?: number;
  /**
   * Independent state sets (streams, sessions): each stream has its own rings and frame
   * count; one engine frame computes a batch of streams. Default 1.
   */
  readonly streams?: number;
}

/**
 * Int32 words per stream in a batch entry: stream (with flags), frame, tick, the engine frame
 * of the stream's previous frame, and its claim (see src/engine/stream-lanes.ts).
 */
export const BATCH_WORDS = 5;
/** Word of an entry: the stream's tick (its frame counted from its last reset). */
export const ENTRY_TICK = 2;
/** Word of an entry: the engine frame of the stream's previous frame (0: none). */
export const ENTRY_PREVIOUS = 3;
/** Word of an entry: its engine frame while no stream lane has claimed it, negated once one has. */
export const ENTRY_CLAIM = 4;

/** Engine frames whose batch entries stay readable: the most frames in flight (queue) and two spare. */
const batchDepth = (queue: number): number => queue + 2;

/** Lays out a network for a backend. Pure: the same inputs give the same plan. */
export function planArena(net: Network, delays: readonly number[], backend: KernelBackend, options: ArenaOptions = {}): ArenaPlan {
  let at = align(backend.reservedBytes);
  const controlLines = options.controlLines ?? 0;
  const controlOffset = at;
  at += controlLines * CACHE_LINE;
  const queue = options.queue ?? 0;
  const sessionQueue = options.sessionQueue ?? queue;
  const streams = options.streams ?? 1;
  if (!Number.isInteger(streams) || streams < 1) throw new RangeError(`streams must be an integer >= 1, got ${streams}`);
  const outputs = new Set(net.outputs);
  // An input's state ring holds its queue: the driver copies each frame (checked, and
  // converted where the orders differ) straight into its state slot, and no worker copies it
  // again. Only an input whose order differs has a staging ring too, where zero-copy views
  // are written in row-major order (its worker converts those frames); for the others the
  // views are the state slots.
  const staged = (n: Network['nodes'][number]): boolean => options.staging === true && ((n.isInput && crossesOrder(n.shape, backend.layout, n.order)) || outputs.has(n.index));
  const slack = options.slack ?? 0;
  // The frames a ring must keep: the newest, the oldest any edge reads, and room to run
  // ahead. With staging, an output's queued frames wait in its row-major ring, so its state
  // ring stays as short as any other's: fewer bytes cycled per frame, which keeps many
  // streams' states in cache. An input's state ring holds its queued frames either way.
  const baseDepth = (n: Network['nodes'][number]): number => 1 + Math.max(1, ...n.outEdges.map((e) => delays[e]));
  // An input's ring holds its queue; an output's too when it has no staging ring.
  const stateDepth = (n: Network['nodes'][number], q: number): number => baseDepth(n) + (n.isInput ? q : staged(n) ? slack : (outputs.has(n.index) ? q : 0) + slack);
  let streamBytes = 0;
  const states = net.nodes.map((n): StateBlock => {
    const depth = stateDepth(n, queue);
    // An input's ring holds each stream's own queue (the sessions' is shorter).
    const sessionDepth = n.isInput ? stateDepth(n, sessionQueue) : depth;
    const slotBytes = align(n.size * 4);
    const block = { offset: at, size: n.size, depth, slotBytes, ringBytes: depth * slotBytes, sessionDepth, sessionRingBytes: sessionDepth * slotBytes };
    at += block.ringBytes + (streams - 1) * block.sessionRingBytes;
    streamBytes += block.sessionRingBytes;
    return block;
  });
  const maxSize = Math.max(...net.nodes.map((n) => n.size));
  const zeros = { offset: at, floats: maxSize };
  at += align(maxSize * 4);
  const biases = net.nodes.map((n) => {
    const block = { offset: at, floats: n.isInput ? 0 : n.size };
    at += align(block.floats * 4);
    return block;
  });
  const weights = net.edges.map((e) => {
    const block = { offset: at, floats: backend.packedSize(e.geometry) };
    at += align(block.floats * 4);
    return block;
  });
  const staging = net.nodes.map((n): StateBlock | null => {
    if (!staged(n)) return null;
    const s = states[n.index];
    const depth = baseDepth(n) + queue + (n.isInput ? 0 : slack);
    const sessionDepth = baseDepth(n) + sessionQueue + (n.isInput ? 0 : slack);
    const block = { ...s, offset: at, depth, ringBytes: depth * s.slotBytes, sessionDepth, sessionRingBytes: sessionDepth * s.slotBytes };
    at += block.ringBytes + (streams - 1) * block.sessionRingBytes;
    streamBytes += block.sessionRingBytes;
    return block;
  });
  const words = 2 + BATCH_WORDS * streams;
  const batches = { offset: at, depth: batchDepth(queue), words };
  // After the entries, per stream the engine frame of its latest frame a lane finished.
  at += align((batches.depth * words + streams) * 4);
  // A spare line at the end: no vector access near the last tensor can leave the memory.
  at += CACHE_LINE;
  if (at > LIMITS.arenaBytes) {
    // Name what takes the room: the largest rings, with why they are that deep.
    const largest = states
      .map((b, v) => {
        const st = staging[v];
        const ringsBytes = (r: StateBlock): number => r.ringBytes + (streams - 1) * r.sessionRingBytes;
        return { v, bytes: ringsBytes(b) + (st === null ? 0 : ringsBytes(st)), depth: st === null ? b.depth : Math.max(b.depth, st.depth) };
      })
      .sort((a, b) => b.bytes - a.bytes)[0];
    const node = net.nodes[largest.v];
    throw new LimitError(
      `network "${net.name}" needs an arena of ${(at / 2 ** 30).toFixed(2)} GiB, over the limit of ${(LIMITS.arenaBytes / 2 ** 30).toFixed(2)} GiB; the largest part is node "${node.name}" ([${node.shape.join(',')}], ${streams} stream${streams > 1 ? 's' : ''} x ${count(largest.depth)} frames of ring = ${(largest.bytes / 2 ** 30).toFixed(2)} GiB): lower its edges' delays, the queue, or the streams`,
    );
  }
  return { backend: backend.name, layout: backend.layout, bytes: at, controlOffset, controlLines, states, zeros, biases, weights, staging, streams, streamBytes, queue, sessionQueue, batches };
}

/**
 * Typed views over a memory laid out by an {@link ArenaPlan}. Views are made once, so the
 * per-frame path only picks prepared ones. Any thread holding the memory can build one.
 */
export class Arena {
  readonly plan: ArenaPlan;
  readonly memory: KernelMemory;
  /** Control words as Int32 (Atomics-ready); `lines * 16` words. */
  readonly control: Int32Array;
  /** Per node, per stream, its ring's slots. */
  readonly #slots: Float32Array[][][];
  readonly #weights: Float32Array[];
  readonly #biases: Float32Array[];
  readonly #zeros: Float32Array;
  readonly #staging: (Float32Array[][] | null)[];
  readonly #batches: readonly Int32Array[];
  /**
   * Per stream, the latest engine frame in which a stream lane finished the stream's frame
   * (see src/engine/stream-lanes.ts; unused by engines without a helper).
   */
  readonly laneDone: Int32Array;

  constructor(plan: ArenaPlan, memory: KernelMemory) {
    if (memory.buffer.byteLength < plan.bytes) throw new Error(`memory of ${memory.buffer.byteLength} bytes is smaller than the plan's ${plan.bytes}`);
    this.plan = plan;
    this.memory = memory;
    const buf = memory.buffer;
    this.control = new Int32Array(buf, plan.controlOffset, (plan.controlLines * CACHE_LINE) / 4);
    const rings = (s: StateBlock): Float32Array[][] =>
      Array.from({ length: plan.streams }, (_, stream) => {
        const ring = ringOf(s, stream);
        return Array.from({ length: ring.depth }, (_, k) => new Float32Array(buf, ring.offset + k * s.slotBytes, s.size));
      });
    this.#slots = plan.states.map(rings);
    this.#weights = plan.weights.map((w) => new Float32Array(buf, w.offset, w.floats));
    this.#biases = plan.biases.map((b) => new Float32Array(buf, b.offset, b.floats));
    this.#zeros = new Float32Array(buf, plan.zeros.offset, plan.zeros.floats);
    this.#staging = plan.staging.map((block) => (block === null ? null : rings(block)));
    const { depth, words } = plan.batches;
    const table = depth * words;
    // One view per slot, made once: the batch of an engine frame is looked up many times a frame.
    this.#batches = Array.from({ length: depth }, (_, k) => new Int32Array(buf, plan.batches.offset + k * words * 4, words));
    this.laneDone = new Int32Array(buf, plan.batches.offset + table * 4, plan.streams);
  }

  /** Node v's row-major staging slot for `frame` of `stream`, or null when it has none. */
  staged(v: number, frame: number, stream = 0): Float32Array | null {
    const rings = this.#staging[v];
    if (rings === null) return null;
    const ring = rings[stream];
    return ring[frame % ring.length];
  }

  /** Node v's row-major staging ring of `stream`, in slot order (slot f mod its length holds frame f), or null. */
  stagingSlots(v: number, stream = 0): readonly Float32Array[] | null {
    return this.#staging[v]?.[stream] ?? null;
  }

  /** Node v's state for `frame` of `stream` (its ring slot); frames before 0 read a zero block. */
  state(v: number, frame: number, stream = 0): Float32Array {
    if (frame < 0) return this.#zeros.subarray(0, this.plan.states[v].size);
    const ring = this.#slots[v][stream];
    return ring[frame % ring.length];
  }

  /** All ring slots of node v in `stream`, in slot order. */
  slots(v: number, stream = 0): readonly Float32Array[] {
    return this.#slots[v][stream];
  }

  /**
   * Engine frame k's batch entry: element 0 the number of streams it computes, then per
   * stream {@link BATCH_WORDS} words (stream, frame, tick, previous engine frame, claim), and
   * last the count of entries done. The driver writes it before publishing k; workers only
   * read it, but for the claims and the done count of stream lanes.
   */
  batch(k: number): Int32Array {
    return this.#batches[k % this.#batches.length];
  }

  weights(e: number): Float32Array {
    return this.#weights[e];
  }

  bias(v: number): Float32Array {
    return this.#biases[v];
  }

  /** Zeroes every state slot of one stream, or of all (frame 0 is all zeros). */
  clearStates(stream?: number): void {
    for (const rings of this.#slots) for (const [s, ring] of rings.entries()) if (stream === undefined || s === stream) for (const slot of ring) slot.fill(0);
  }
}

/**
 * Creates memory for a plan and writes the parameters into it: weights packed by the
 * backend, biases in its state layout. Done once, in one thread; others attach with `new Arena`.
 */
export function createArena(net: Network, plan: ArenaPlan, backend: KernelBackend, params: Parameters): Arena {
  const arena = new Arena(plan, backend.createMemory(plan.bytes));
  for (const e of net.edges) {
    try {
      backend.pack(e.geometry, params.weights[e.index], arena.weights(e.index));
    } catch (err) {
      // A weight the backend's format cannot hold (half precision's range): say which edge.
      if (err instanceof RangeError) throw new StreamrollError('OPTION_INVALID', `the weights of edge ${e.id} cannot be stored by the ${backend.name} backend: ${err.message}`);
      throw err;
    }
  }
  for (const n of net.nodes) if (!n.isInput) toInternal(params.biases[n.index], arena.bias(n.index), n.shape, backend.layout);
  return arena;
}

/**
 * Copies everything of `from` into `to`, a plan of the same network, backend and ring depths
 * with at least as many streams (a runtime growing its capacity): control words, weights,
 * biases, every stream's state and staging rings, and the batch table's entries. Byte for
 * byte (packed 16-bit weights and NaN payloads included). The engine must be stopped.
 */
export function copyArena(from: Arena, to: Arena): void {
  const a = from.plan;
  const b = to.plan;
  if (b.streams < a.streams || b.states.length !== a.states.length || b.weights.length !== a.weights.length || b.controlLines !== a.controlLines) {
    throw new Error('copyArena: the target plan is not a larger plan of the same network');
  }
  const src = new Uint8Array(from.memory.buffer);
  const dst = new Uint8Array(to.memory.buffer);
  const bytes = (at: number, into: number, n: number): void => dst.set(src.subarray(at, at + n), into);
  bytes(a.controlOffset, b.controlOffset, a.controlLines * CACHE_LINE);
  a.weights.forEach((w, e) => bytes(w.offset, b.weights[e].offset, w.floats * 4));
  a.biases.forEach((w, v) => bytes(w.offset, b.biases[v].offset, w.floats * 4));
  const rings = (s: StateBlock | null, t: StateBlock | null): void => {
    if (s === null || t === null) return;
    for (let stream = 0; stream < a.streams; stream++) {
      const ra = ringOf(s, stream);
      const rb = ringOf(t, stream);
      if (ra.depth !== rb.depth) throw new Error('copyArena: ring depths differ');
      bytes(ra.offset, rb.offset, ra.depth * s.slotBytes);
    }
  };
  a.states.forEach((s, v) => rings(s, b.states[v]));
  a.staging.forEach((s, v) => rings(s, b.staging[v]));
  for (let k = 0; k < a.batches.depth; k++) {
    const entry = from.batch(k);
    to.batch(k).set(entry.subarray(0, 1 + BATCH_WORDS * entry[0]));
  }
  to.laneDone.set(from.laneDone);
}
