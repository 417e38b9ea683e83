import type { Network } from '../graph/network.js';
import type { EdgeKernel, ActivationKernel } from '../kernels/kernel.js';
import { getBackend } from '../kernels/registry.js';
import { REFERENCE_BACKEND } from '../kernels/reference/index.js';
import { asRollout, type Rollout, type RolloutSpec } from '../rollout/pattern.js';
import { assertValidRollout, frameOrder } from '../rollout/validity.js';
import { readInputFrame, type InputFrame, type NonFinitePolicy } from './inputs.js';
import type { Parameters } from './parameters.js';

/** Options of {@link ReferenceExecutor}. */
export interface ReferenceExecutorOptions {
  /** Kernel backend to run; default `reference` (the plain TypeScript ground truth). */
  readonly backend?: string;
  /** NaN / infinite inputs: `reject` (default) or `zero`. */
  readonly nonFinite?: NonFinitePolicy;
}

/**
 * Single-threaded executor of any valid rollout, tick by tick, with the semantics of
 * DESIGN.md §2: frame 0 is all zeros; the k-th {@link step} presents input frame k and
 * computes frame k of every other node, an edge with delay r reading its source at frame
 * k - r. The ground truth every faster path is tested against.
 */
export class ReferenceExecutor {
  readonly network: Network;
  readonly rollout: Rollout;
  readonly #params: Parameters;
  readonly #order: readonly number[];
  /** Per node: ring of states, slot (frame mod depth). */
  readonly #rings: Float32Array[][];
  readonly #edgeKernels: EdgeKernel[];
  readonly #activations: (ActivationKernel | null)[];
  readonly #zeros: Float32Array;
  readonly #inputScratch: Float32Array[];
  readonly #nonFinite: NonFinitePolicy;
  #tick = 0;

  /**
   * @param rollout a preset, a pattern object, or an already resolved rollout
   * @throws RolloutCycleError if the rollout is invalid
   */
  constructor(network: Network, rollout: RolloutSpec | Rollout, params: Parameters, options: ReferenceExecutorOptions = {}) {
    this.network = network;
    this.rollout = asRollout(network, rollout);
    const { delays } = this.rollout;
    assertValidRollout(network, delays);
    checkParameters(network, params);
    this.#params = params;
    this.#order = frameOrder(network, delays);
    this.#nonFinite = options.nonFinite ?? 'reject';
    const backend = getBackend(options.backend ?? REFERENCE_BACKEND);
    this.#rings = network.nodes.map((n) => {
      const depth = 1 + Math.max(1, ...n.outEdges.map((e) => delays[e]));
      return Array.from({ length: depth }, () => new Float32Array(n.size));
    });
    this.#edgeKernels = network.edges.map((e) => backend.edgeKernel(e.geometry, params.weights[e.index]));
    this.#activations = network.nodes.map((n) => (n.isInput ? null : backend.activationKernel(n.activation, n.shape)));
    this.#zeros = new Float32Array(Math.max(...network.nodes.map((n) => n.size)));
    this.#inputScratch = network.inputs.map((i) => new Float32Array(network.nodes[i].size));
  }

  /** Number of ticks computed so far (the frame index of the current states). */
  get tick(): number {
    return this.#tick;
  }

  /**
   * Presents the next input frame and computes that frame of every node.
   * @returns the output nodes' new states, copied, keyed by node name
   * @throws InputError for a bad input; the executor is then unchanged
   */
  step(input: InputFrame): Record<string, Float32Array> {
    const k = this.#tick + 1;
    readInputFrame(this.network, input, k, this.#inputScratch, this.#nonFinite);
    const { nodes, edges } = this.network;
    const { delays } = this.rollout;
    this.network.inputs.forEach((v, j) => this.#slot(v, k).set(this.#inputScratch[j]));
    for (const v of this.#order) {
      const node = nodes[v];
      if (node.isInput) continue;
      const dst = this.#slot(v, k);
      dst.fill(0);
      for (const e of node.inEdges) {
        const edge = edges[e];
        this.#edgeKernels[e].run(this.#read(edge.from, k - delays[e]), dst);
      }
      (this.#activations[v] as ActivationKernel).run(dst, this.#params.biases[v]);
    }
    this.#tick = k;
    return this.outputs();
  }

  /** The output nodes' current states, copied. */
  outputs(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const o of this.network.outputs) out[this.network.nodes[o].name] = this.#slot(o, this.#tick).slice();
    return out;
  }

  /** A copy of a node's state `framesAgo` frames before the current one (within its ring). */
  state(node: string, framesAgo = 0): Float32Array {
    const v = this.network.node(node).index;
    const depth = this.#rings[v].length;
    if (!Number.isInteger(framesAgo) || framesAgo < 0 || framesAgo >= depth) {
      throw new RangeError(`node "${node}" keeps ${depth} frames; framesAgo must be an integer in 0..${depth - 1}, got ${framesAgo}`);
    }
    return this.#read(v, this.#tick - framesAgo).slice();
  }

  /** Back to frame 0: all states zero. */
  reset(): void {
    for (const ring of this.#rings) for (const s of ring) s.fill(0);
    this.#tick = 0;
  }

  #slot(v: number, frame: number): Float32Array {
    const ring = this.#rings[v];
    return ring[frame % ring.length];
  }

  #read(v: number, frame: number): Float32Array {
    // Frames before 0 are zeros, like frame 0 itself.
    if (frame < 0) return this.#zeros.subarray(0, this.network.nodes[v].size);
    return this.#slot(v, frame);
  }
}

/** Throws if `params` does not fit `net` (wrong count or length of a weight or bias). */
export function checkParameters(net: Network, params: Parameters): void {
  if (params.weights.length !== net.edges.length || params.biases.length !== net.nodes.length) {
    throw new Error(`parameters have ${params.weights.length} weight tensors and ${params.biases.length} biases; network "${net.name}" has ${net.edges.length} edges and ${net.nodes.length} nodes`);
  }
  for (const e of net.edges) {
    const w = params.weights[e.index];
    const have = w === null ? 0 : w.length;
    if (have !== e.weightSize || (w === null) !== (e.weightShape === null)) {
      throw new Error(`edge "${e.id}": weights have ${w === null ? 'none' : `${have} values`}, expected ${e.weightShape === null ? 'none' : `${e.weightSize} ([${e.weightShape.join(',')}])`}`);
    }
  }
  for (const n of net.nodes) {
    const expected = n.isInput ? 0 : n.size;
    if (params.biases[n.index].length !== expected) {
      throw new Error(`node "${n.name}": bias has ${params.biases[n.index].length} values, expected ${expected}`);
    }
  }
}
