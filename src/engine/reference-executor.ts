import type { Network } from '../graph/network.js';
import type { KernelBackend } from '../kernels/kernel.js';
import { fromInternal, toInternal } from '../kernels/layout.js';
import { getBackend } from '../kernels/registry.js';
import { REFERENCE_BACKEND } from '../kernels/backends.js';
import { asRollout, type Rollout, type RolloutSpec } from '../rollout/pattern.js';
import { assertValidRollout, frameOrder } from '../rollout/validity.js';
import { type Arena, createArena, planArena } from './arena.js';
import { checkInputFrame, zeroFrame, type InputFrame, type NonFinitePolicy } from '../io/inputs.js';
import { NodeComputer } from './node-compute.js';
import type { Parameters } from '../graph/parameters.js';
import { StreamrollError } from '../util/errors.js';

/** Options of {@link ReferenceExecutor}. */
export interface ReferenceExecutorOptions {
  /** Kernel backend to run: `reference` (default; plain TypeScript, the ground truth) or `wasm`. */
  readonly backend?: string;
  /** NaN / infinite inputs: `reject` (default) or `zero`. */
  readonly nonFinite?: NonFinitePolicy;
  /**
   * Ticks of zeros to run (then reset) when built, so the kernels reach V8's optimising
   * tier before the first real frame (its baseline tier runs wasm ~4x slower). Default 8.
   */
  readonly warmUp?: number;
}

/**
 * Single-threaded executor of any valid rollout, tick by tick, with the semantics of
 * docs/semantics.md: frame 0 is all zeros; the k-th {@link step} presents input frame k and
 * computes frame k of every other node, an edge with delay r reading its source at frame
 * k - r. With the reference backend it is the ground truth every faster path is tested
 * against; with another backend it runs that backend's kernels on the same shared-memory
 * arena the parallel engine uses, node after node.
 */
export class ReferenceExecutor {
  readonly network: Network;
  readonly rollout: Rollout;
  readonly backend: KernelBackend;
  readonly arena: Arena;
  readonly #order: readonly number[];
  readonly #computer: NodeComputer;
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
    this.#order = frameOrder(network, delays);
    this.#nonFinite = options.nonFinite ?? 'reject';
    this.backend = getBackend(options.backend ?? REFERENCE_BACKEND);
    this.arena = createArena(network, planArena(network, delays, this.backend), this.backend, params);
    this.#computer = new NodeComputer(network, delays, this.arena, this.backend.bind(this.arena.memory));
    this.warmUp(options.warmUp ?? 8);
  }

  /** Runs `ticks` ticks of zero input, then resets to frame 0; see {@link ReferenceExecutorOptions.warmUp}. */
  warmUp(ticks: number): void {
    if (ticks <= 0) return;
    const zeros = zeroFrame(this.network);
    for (let t = 0; t < ticks; t++) this.step(zeros);
    this.reset();
  }

  /** Number of ticks computed so far (the frame index of the current states). */
  get tick(): number {
    return this.#tick;
  }

  /**
   * Presents the next input frame and computes that frame of every node.
   * @returns the output nodes' new states, copied, row-major, keyed by node name
   * @throws InputError for a bad input; the executor is then unchanged
   */
  step(input: InputFrame): Record<string, Float32Array> {
    const k = this.#tick + 1;
    const arrays = checkInputFrame(this.network, input, k, this.#nonFinite);
    const layout = this.backend.layout;
    this.network.inputs.forEach((v, j) => toInternal(arrays[j], this.arena.state(v, k), this.network.nodes[v].shape, layout, this.network.nodes[v].order));
    for (const v of this.#order) if (!this.network.nodes[v].isInput) this.#computer.compute(v, k);
    this.#tick = k;
    return this.outputs();
  }

  /**
   * Runs `ticks` ticks with the same input frame and returns the last tick's outputs: the
   * input is checked and converted once, outputs are copied out once (as the runtime's
   * `repeat` does).
   */
  repeat(input: InputFrame, ticks: number): Record<string, Float32Array> {
    if (!Number.isInteger(ticks) || ticks < 1) throw new RangeError(`ticks must be an integer >= 1, got ${ticks}`);
    const arrays = checkInputFrame(this.network, input, this.#tick + 1, this.#nonFinite);
    const { inputs, nodes } = this.network;
    const converted = inputs.map((v, j) => {
      const internal = new Float32Array(nodes[v].size);
      toInternal(arrays[j], internal, nodes[v].shape, this.backend.layout, nodes[v].order);
      return internal;
    });
    for (let t = 0; t < ticks; t++) {
      const k = this.#tick + 1;
      inputs.forEach((v, j) => this.arena.state(v, k).set(converted[j]));
      for (const v of this.#order) if (!nodes[v].isInput) this.#computer.compute(v, k);
      this.#tick = k;
    }
    return this.outputs();
  }

  /** The output nodes' current states, copied out row-major. */
  outputs(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const o of this.network.outputs) out[this.network.nodes[o].name] = this.#read(o, 0);
    return out;
  }

  /** A copy (row-major) of a node's state `framesAgo` frames before the current one, within its ring. */
  state(node: string, framesAgo = 0): Float32Array {
    const v = this.network.node(node).index;
    const depth = this.arena.plan.states[v].depth;
    if (!Number.isInteger(framesAgo) || framesAgo < 0 || framesAgo >= depth) {
      throw new RangeError(`node "${node}" keeps ${depth} frames; framesAgo must be an integer in 0..${depth - 1}, got ${framesAgo}`);
    }
    return this.#read(v, framesAgo);
  }

  /** Back to frame 0: all states zero. */
  reset(): void {
    this.arena.clearStates();
    this.#tick = 0;
  }

  #read(v: number, framesAgo: number): Float32Array {
    const node = this.network.nodes[v];
    const out = new Float32Array(node.size);
    fromInternal(this.arena.state(v, this.#tick - framesAgo), out, node.shape, this.backend.layout, node.order);
    return out;
  }
}

/** Throws if `params` does not fit `net` (wrong count or length of a weight or bias). */
export function checkParameters(net: Network, params: Parameters): void {
  if (params.weights.length !== net.edges.length || params.biases.length !== net.nodes.length) {
    throw new StreamrollError(
      'SPEC_INVALID',
      `parameters have ${params.weights.length} weight tensors and ${params.biases.length} biases; network "${net.name}" has ${net.edges.length} edges and ${net.nodes.length} nodes`,
    );
  }
  for (const e of net.edges) {
    const w = params.weights[e.index];
    const have = w === null ? 0 : w.length;
    if (have !== e.weightSize || (w === null) !== (e.weightShape === null)) {
      throw new StreamrollError(
        'SPEC_INVALID',
        `edge "${e.id}": weights have ${w === null ? 'none' : `${have} values`}, expected ${e.weightShape === null ? 'none' : `${e.weightSize} ([${e.weightShape.join(',')}])`}`,
      );
    }
  }
  for (const n of net.nodes) {
    const expected = n.isInput ? 0 : n.size;
    if (params.biases[n.index].length !== expected) {
      throw new StreamrollError('SPEC_INVALID', `node "${n.name}": bias has ${params.biases[n.index].length} values, expected ${expected}`);
    }
  }
}
