import type { EdgeGeometry } from '../graph/geometry.js';
import type { Activation, ActivationParams, EdgeOp, Shape } from '../graph/spec.js';
import type { ExternalOrder } from './layout.js';

/**
 * How a backend orders the elements of a `[C,H,W]` state internally: `chw` (the public,
 * row-major order) or `hwc` (channels innermost, what SIMD over channels wants). Vector
 * states are the same in both. Executors convert only at the public boundary.
 */
export type StateLayout = 'chw' | 'hwc';

/**
 * One edge transform bound to its packed weights: `run(src, dst)` adds f_e(src) into dst, so
 * the sum over a node's incoming edges accumulates in place. Both are views into the
 * backend's memory in its layout. Allocates nothing per call.
 */
export interface EdgeKernel {
  run(src: Float32Array, dst: Float32Array): void;
  /**
   * `run` for several streams of one engine frame at once (`srcs[b]` into `dsts[b]`), where the
   * kernel shares weight loads between them; each result must equal `run`'s bit for bit.
   */
  runBatch?(srcs: readonly Float32Array[], dsts: readonly Float32Array[]): void;
  /**
   * This edge's kernel doing more of its node's work than adding its share, where it can:
   * `only` (the node's single input) writes act(f_e(src) + bias) in place of zeroing, adding
   * and the activation pass; of several inputs, `first` writes f_e(src) in place of zeroing
   * and adding (bias unused), `last` adds f_e(src) and applies bias and `activation` in place
   * of the activation pass. Undefined where the kernel has no such pass.
   */
  pass?(role: EdgeRole, activation: Activation): EdgePass | undefined;
}

/** Which of its node's steps an {@link EdgePass} takes over. */
export type EdgeRole = 'only' | 'first' | 'last';

/**
 * An edge's kernel doing its node's first or last step with its own: each stream's result
 * is bit for bit what zeroing, `run` and the activation kernel give.
 */
export interface EdgePass {
  run(src: Float32Array, dst: Float32Array, bias: Float32Array): void;
  /** For several streams of one engine frame (one node, so one bias). */
  runBatch?(srcs: readonly Float32Array[], dsts: readonly Float32Array[], bias: Float32Array): void;
}

/** A node's finishing step: `run(state, bias)` turns the sum into act(sum + bias) in place. */
export interface ActivationKernel {
  run(state: Float32Array, bias: Float32Array): void;
}

/**
 * The memory a backend computes in: one SharedArrayBuffer, so every worker thread can map
 * the same states and weights. `wasm` is set when it is a WebAssembly memory.
 */
export interface KernelMemory {
  readonly buffer: SharedArrayBuffer;
  readonly wasm?: WasmMemory;
}

/**
 * What streamroll uses of a `WebAssembly.Memory`, declared structurally so that a consumer's
 * type check needs neither the DOM library nor a WebAssembly type package.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(delta: number): number;
}

/** Op types a backend must cover. */
export type OpType = EdgeOp['type'];

/** How one op is implemented on one backend. */
export interface EdgeKernelDef<G extends EdgeGeometry = EdgeGeometry> {
  /** Floats the packed weights of this edge take in memory (0 when it has none). */
  packedSize(geometry: G): number;
  /** Writes `weights` (model-file layout, may be null) packed for this backend into `out`. */
  pack(geometry: G, weights: Float32Array | null, out: Float32Array): void;
  /** Binds a kernel to packed weights living in the backend's memory. */
  create(geometry: G, packed: Float32Array, runtime: unknown): EdgeKernel;
}

/** How one activation is implemented on one backend (params: its alpha/beta, see ACTIVATION_PARAMS). */
export type ActivationKernelDef = (shape: Shape, runtime: unknown, params: ActivationParams) => ActivationKernel;

/** A backend's memory handling; its kernels are registered per op and activation. */
export interface BackendDef {
  readonly name: string;
  readonly layout: StateLayout;
  /** Bytes at the start of memory the backend keeps for itself; arenas start after them. */
  readonly reservedBytes: number;
  /** Creates zeroed shareable memory of at least `bytes` bytes. */
  createMemory(bytes: number): KernelMemory;
  /** Prepares the backend on a memory (e.g. instantiates a wasm module on it); once per thread and memory. */
  instantiate(memory: KernelMemory): unknown;
  /** A line for logs: which variant runs. */
  describe(): string;
  /**
   * GFLOP/s its kernels typically reach on one core: node costs for placement when the
   * runtime is told not to measure them (`calibrate: false`). Default 20.
   */
  readonly nominalGflops?: number;
  /** A faster scan for non-finite values in this backend's memory (default: JavaScript). */
  firstNonFinite?(runtime: unknown, values: Float32Array): number;
  /** A faster way to zero a view into this backend's memory (default: `fill(0)`). */
  zero?(runtime: unknown, values: Float32Array): void;
  /**
   * A faster copy of a Float32Array from anywhere into a view of this backend's memory that
   * also returns the index of the first non-finite value copied, or -1 (default: `set` then
   * the scan). Returns null to leave it to the default.
   */
  copyIn?(runtime: unknown, source: Float32Array, target: Float32Array): number | null;
  /**
   * {@link copyIn} of a row-major [C,H,W] Float32Array into a view in internal order, in one
   * pass; the index returned is the source's. Returns null to leave it to the default (a
   * checked copy, then the conversion).
   */
  copyInInternal?(runtime: unknown, source: Float32Array, target: Float32Array, shape: Shape): number | null;
  /**
   * A faster layout conversion between two views into this backend's memory: row-major
   * [C,H,W] to internal order (`in`) or back (`out`). Returns false to leave it to JavaScript.
   */
  convert?(runtime: unknown, from: Float32Array, to: Float32Array, shape: Shape, direction: 'in' | 'out'): boolean;
}

/** A backend ready to lay out and run a network: what executors use. */
export interface KernelBackend {
  readonly name: string;
  readonly layout: StateLayout;
  readonly reservedBytes: number;
  /** See {@link BackendDef.nominalGflops}. */
  readonly nominalGflops: number;
  describe(): string;
  createMemory(bytes: number): KernelMemory;
  packedSize(geometry: EdgeGeometry): number;
  pack(geometry: EdgeGeometry, weights: Float32Array | null, out: Float32Array): void;
  /** Binds kernels to a memory; call once per thread. */
  bind(memory: KernelMemory): BoundKernels;
}

/** Kernels of one backend bound to one memory. */
export interface BoundKernels {
  edgeKernel(geometry: EdgeGeometry, packed: Float32Array): EdgeKernel;
  activationKernel(activation: Activation, shape: Shape, params?: ActivationParams): ActivationKernel;
  /** Index of the first NaN or infinite value of a view into this memory, or -1. */
  firstNonFinite(values: Float32Array): number;
  /** Sets a view into this memory to 0 (every node's sum starts from it each frame). */
  zero(values: Float32Array): void;
  /**
   * Copies `source` (any array of the view's length) into a view of this memory and returns
   * the index of the first NaN or infinity in it, or -1: how a frame enters the arena.
   */
  copyIn(source: ArrayLike<number>, target: Float32Array): number;
  /**
   * copyIn of a frame in `order` (row-major [C,H,W] by default) into a state in internal
   * order: the index (in the frame) of its first NaN or infinity, or -1. `scratch`, a
   * row-major view of the frame's size, may be used on the way (and hold anything after);
   * where the index is not -1, `target` may be partly written.
   */
  copyInInternal(source: ArrayLike<number>, target: Float32Array, scratch: Float32Array, shape: Shape, order?: ExternalOrder): number;
  /** Values in `order` (row-major [C,H,W] by default) into a state in the backend's internal order. */
  toInternal(values: Float32Array, out: Float32Array, shape: Shape, order?: ExternalOrder): void;
  /** A state in internal order out in `order` (row-major [C,H,W] by default). */
  fromInternal(internal: Float32Array, out: Float32Array, shape: Shape, order?: ExternalOrder): void;
}

/** The JavaScript scan for {@link BoundKernels.firstNonFinite}, for backends without a faster one. */
export function firstNonFiniteJs(values: ArrayLike<number>): number {
  // x - x is 0 for finite x and NaN otherwise: one cheap test per value.
  for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return i;
  return -1;
}
