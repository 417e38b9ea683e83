import type { EdgeGeometry } from '../graph/geometry.js';
import type { Activation, EdgeOp, Shape } from '../graph/spec.js';

/**
 * One edge transform bound to its weights: `run(src, dst)` adds f_e(src) into dst, so the
 * sum over a node's incoming edges accumulates in place. Allocates nothing per call.
 */
export interface EdgeKernel {
  run(src: Float32Array, dst: Float32Array): void;
}

/**
 * A node's finishing step bound to its shape: `run(state, bias)` turns the accumulated sum
 * into act(sum + bias) in place.
 */
export interface ActivationKernel {
  run(state: Float32Array, bias: Float32Array): void;
}

/**
 * Builds an edge kernel. `weights` is in the model-file layout (dense `[out,in]`, conv
 * `[outC,inC,kh,kw]`, row-major) or null for ops without weights; a backend may repack it.
 */
export type EdgeKernelFactory = (geometry: EdgeGeometry, weights: Float32Array | null) => EdgeKernel;

/** Builds an activation kernel for a node of the given shape. */
export type ActivationKernelFactory = (shape: Shape) => ActivationKernel;

/** A complete set of kernels under one name, as the executors use it. */
export interface KernelBackend {
  readonly name: string;
  edgeKernel(geometry: EdgeGeometry, weights: Float32Array | null): EdgeKernel;
  activationKernel(activation: Activation, shape: Shape): ActivationKernel;
}

/** Op types a backend must cover. */
export type OpType = EdgeOp['type'];
