import type { Network } from '../graph/network.js';
import type { ActivationKernel, BoundKernels, EdgeKernel } from '../kernels/kernel.js';
import type { Arena } from './arena.js';

/**
 * Computes one node of one frame in place in the arena: zero the sum, add every incoming
 * edge in spec order (each reading its source at frame k - R(e)), then bias + activation.
 * The single-threaded executor and every worker use this, so that the parallel engine is
 * bit-identical to the executor running the same kernels.
 */
export class NodeComputer {
  readonly #net: Network;
  readonly #delays: readonly number[];
  readonly #arena: Arena;
  readonly #edgeKernels: EdgeKernel[];
  readonly #activations: (ActivationKernel | null)[];
  readonly #kernels: BoundKernels;
  /** Per node with a single incoming edge whose kernel fuses the activation: that one pass. */
  readonly #fused: (((src: Float32Array, dst: Float32Array, bias: Float32Array) => void) | undefined)[];
  /** Per node: it is not fused and an edge into it runs batched (computeBatch's own path). */
  readonly #batched: boolean[];
  /** computeBatch's views of each stream's target and source, reused frame after frame. */
  readonly #dsts: Float32Array[] = [];
  readonly #srcs: Float32Array[] = [];

  constructor(net: Network, delays: readonly number[], arena: Arena, kernels: BoundKernels) {
    this.#net = net;
    this.#delays = delays;
    this.#arena = arena;
    this.#kernels = kernels;
    this.#edgeKernels = net.edges.map((e) => kernels.edgeKernel(e.geometry, arena.weights(e.index)));
    this.#activations = net.nodes.map((n) => (n.isInput ? null : kernels.activationKernel(n.activation, n.shape, n.activationParams)));
    this.#fused = net.nodes.map((n) => (n.inEdges.length === 1 ? this.#edgeKernels[n.inEdges[0]].fused?.(n.activation) : undefined));
    this.#batched = net.nodes.map((n, v) => this.#fused[v] === undefined && n.inEdges.some((e) => this.#edgeKernels[e].runBatch !== undefined));
  }

  /** Frame `k` of computed node `v` in `stream`; its sources' frames must already be complete. */
  compute(v: number, k: number, stream = 0): void {
    const arena = this.#arena;
    const edges = this.#net.edges;
    const dst = arena.state(v, k, stream);
    const fused = this.#fused[v];
    if (fused !== undefined) {
      const e = this.#net.nodes[v].inEdges[0];
      fused(arena.state(edges[e].from, k - this.#delays[e], stream), dst, arena.bias(v));
      return;
    }
    this.#kernels.zero(dst);
    for (const e of this.#net.nodes[v].inEdges) this.#edgeKernels[e].run(arena.state(edges[e].from, k - this.#delays[e], stream), dst);
    (this.#activations[v] as ActivationKernel).run(dst, arena.bias(v));
  }

  /**
   * Node v for several streams of one engine frame: `frames[b]` of `streams[b]`. Edges whose
   * kernel batches (a dense layer on the native kernels reads its weights once for four
   * streams) run for all streams at once; the rest, and nodes whose computation is one fused
   * pass, stream by stream. Each stream's state gets the same operations in the same order
   * as {@link compute} gives it, so the results are the same bit for bit.
   */
  computeBatch(v: number, frames: readonly number[], streams: readonly number[]): void {
    const n = frames.length;
    if (n === 1 || !this.#batched[v]) {
      for (let b = 0; b < n; b++) this.compute(v, frames[b], streams[b]);
      return;
    }
    const arena = this.#arena;
    const edges = this.#net.edges;
    const dsts = this.#dsts;
    const srcs = this.#srcs;
    dsts.length = n;
    srcs.length = n;
    for (let b = 0; b < n; b++) {
      dsts[b] = arena.state(v, frames[b], streams[b]);
      this.#kernels.zero(dsts[b]);
    }
    for (const e of this.#net.nodes[v].inEdges) {
      const kernel = this.#edgeKernels[e];
      const from = edges[e].from;
      const delay = this.#delays[e];
      for (let b = 0; b < n; b++) srcs[b] = arena.state(from, frames[b] - delay, streams[b]);
      if (kernel.runBatch !== undefined) kernel.runBatch(srcs, dsts);
      else for (let b = 0; b < n; b++) kernel.run(srcs[b], dsts[b]);
    }
    const activation = this.#activations[v] as ActivationKernel;
    for (let b = 0; b < n; b++) activation.run(dsts[b], arena.bias(v));
  }
}
