import type { Network } from '../graph/network.js';
import type { KernelBackend, KernelMemory, StateLayout } from '../kernels/kernel.js';
import { toInternal } from '../kernels/layout.js';
import type { Parameters } from './parameters.js';

/** Every block starts on its own cache line, so threads writing different blocks never share one. */
export const CACHE_LINE = 64;

/** A node's ring of frame states: `depth` slots of `size` floats, `slotBytes` apart. */
export interface StateBlock {
  readonly offset: number;
  readonly size: number;
  readonly depth: number;
  readonly slotBytes: number;
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
  /** Per node, a row-major ring beside its state ring (same depth), or null; see {@link ArenaOptions.staging}. */
  readonly staging: readonly (StateBlock | null)[];
}

const align = (n: number): number => Math.ceil(n / CACHE_LINE) * CACHE_LINE;

/** Options of {@link planArena}. */
export interface ArenaOptions {
  /** Cache lines of control words to reserve (e.g. one per worker); default 0. */
  readonly controlLines?: number;
  /**
   * Extra ring slots for input and output nodes, so a producer can queue that many input
   * frames ahead and outputs stay readable until consumed (free-running mode); default 0.
   */
  readonly queue?: number;
  /**
   * Give every input and output node a second ring in row-major order: the driver writes
   * inputs and reads outputs there, and only workers convert to and from the internal order
   * (or copy, where the orders agree). Callers writing into a staged slot can then never
   * disturb a state the engine reads.
   */
  readonly staging?: boolean;
  /**
   * Extra ring slots for every computed node: how many frames a worker may run ahead of the
   * workers that read its states before it must wait for them (absorbs one worker being
   * descheduled for a moment); default 0.
   */
  readonly slack?: number;
}

/** Lays out a network for a backend. Pure: the same inputs give the same plan. */
export function planArena(net: Network, delays: readonly number[], backend: KernelBackend, options: ArenaOptions = {}): ArenaPlan {
  let at = align(backend.reservedBytes);
  const controlLines = options.controlLines ?? 0;
  const controlOffset = at;
  at += controlLines * CACHE_LINE;
  const queue = options.queue ?? 0;
  const outputs = new Set(net.outputs);
  const states = net.nodes.map((n) => {
    const extra = (n.isInput || outputs.has(n.index) ? queue : 0) + (n.isInput ? 0 : options.slack ?? 0);
    const depth = 1 + Math.max(1, ...n.outEdges.map((e) => delays[e])) + extra;
    const slotBytes = align(n.size * 4);
    const block = { offset: at, size: n.size, depth, slotBytes };
    at += depth * slotBytes;
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
  const staging = net.nodes.map((n) => {
    if (options.staging !== true || !(n.isInput || outputs.has(n.index))) return null;
    const s = states[n.index];
    const block = { offset: at, size: s.size, depth: s.depth, slotBytes: s.slotBytes };
    at += s.depth * s.slotBytes;
    return block;
  });
  // A spare line at the end: no vector access near the last tensor can leave the memory.
  at += CACHE_LINE;
  return { backend: backend.name, layout: backend.layout, bytes: at, controlOffset, controlLines, states, zeros, biases, weights, staging };
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
  readonly #slots: Float32Array[][];
  readonly #weights: Float32Array[];
  readonly #biases: Float32Array[];
  readonly #zeros: Float32Array;
  readonly #staging: (Float32Array[] | null)[];

  constructor(plan: ArenaPlan, memory: KernelMemory) {
    if (memory.buffer.byteLength < plan.bytes) throw new Error(`memory of ${memory.buffer.byteLength} bytes is smaller than the plan's ${plan.bytes}`);
    this.plan = plan;
    this.memory = memory;
    const buf = memory.buffer;
    this.control = new Int32Array(buf, plan.controlOffset, (plan.controlLines * CACHE_LINE) / 4);
    this.#slots = plan.states.map((s) => Array.from({ length: s.depth }, (_, k) => new Float32Array(buf, s.offset + k * s.slotBytes, s.size)));
    this.#weights = plan.weights.map((w) => new Float32Array(buf, w.offset, w.floats));
    this.#biases = plan.biases.map((b) => new Float32Array(buf, b.offset, b.floats));
    this.#zeros = new Float32Array(buf, plan.zeros.offset, plan.zeros.floats);
    this.#staging = plan.staging.map((s) => (s === null ? null : Array.from({ length: s.depth }, (_, k) => new Float32Array(buf, s.offset + k * s.slotBytes, s.size))));
  }

  /** Node v's row-major staging slot for `frame`, or null when it has none. */
  staged(v: number, frame: number): Float32Array | null {
    const ring = this.#staging[v];
    return ring === null ? null : ring[frame % ring.length];
  }

  /** Node v's state for `frame` (its ring slot); frames before 0 read a zero block. */
  state(v: number, frame: number): Float32Array {
    const ring = this.#slots[v];
    if (frame < 0) return this.#zeros.subarray(0, this.plan.states[v].size);
    return ring[frame % ring.length];
  }

  /** All ring slots of node v, in slot order. */
  slots(v: number): readonly Float32Array[] {
    return this.#slots[v];
  }

  weights(e: number): Float32Array {
    return this.#weights[e];
  }

  bias(v: number): Float32Array {
    return this.#biases[v];
  }

  /** Zeroes every state slot (frame 0 is all zeros). */
  clearStates(): void {
    for (const ring of this.#slots) for (const s of ring) s.fill(0);
  }
}

/**
 * Creates memory for a plan and writes the parameters into it: weights packed by the
 * backend, biases in its state layout. Done once, in one thread; others attach with `new Arena`.
 */
export function createArena(net: Network, plan: ArenaPlan, backend: KernelBackend, params: Parameters): Arena {
  const arena = new Arena(plan, backend.createMemory(plan.bytes));
  for (const e of net.edges) backend.pack(e.geometry, params.weights[e.index], arena.weights(e.index));
  for (const n of net.nodes) if (!n.isInput) toInternal(params.biases[n.index], arena.bias(n.index), n.shape, backend.layout);
  return arena;
}
