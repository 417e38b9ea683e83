import type { Network } from '../graph/network.js';
import type { ActivationKernel, BoundKernels, EdgeKernel, EdgePass, EdgeRole } from '../kernels/kernel.js';
import type { Arena } from './arena.js';

/**
 * Computes one node of one frame in place in the arena: zero the sum, add every incoming
 * edge in spec order (each reading its source at frame k - R(e)), then bias + activation.
 * Where kernels can, they take over steps with the same arithmetic (edge passes): a node's
 * only edge writing act(sum + bias) at once, or of several edges the first writing in place
 * of zeroing and the last applying bias and activation as it adds.
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
  /** Per node, the passes its edges' kernels take over: all of it (a single edge), or its first and last steps. */
  readonly #only: (EdgePass | undefined)[];
  readonly #first: (EdgePass | undefined)[];
  readonly #last: (EdgePass | undefined)[];
  /** computeBatch's views of each stream's target and source, reused frame after frame. */
  readonly #dsts: Float32Array[] = [];
  readonly #srcs: Float32Array[] = [];
  /** compute's batch of one. */
  readonly #oneFrame = [0];
  readonly #oneStream = [0];

  constructor(net: Network, delays: readonly number[], arena: Arena, kernels: BoundKernels) {
    this.#net = net;
    this.#delays = delays;
    this.#arena = arena;
    this.#kernels = kernels;
    this.#edgeKernels = net.edges.map((e) => kernels.edgeKernel(e.geometry, arena.weights(e.index)));
    this.#activations = net.nodes.map((n) => (n.isInput ? null : kernels.activationKernel(n.activation, n.shape, n.activationParams)));
    const pass = (v: number, at: number, role: EdgeRole): EdgePass | undefined => {
      const n = net.nodes[v];
      return n.isInput ? undefined : this.#edgeKernels[n.inEdges[at]].pass?.(role, n.activation);
    };
    this.#only = net.nodes.map((n, v) => (n.inEdges.length === 1 ? pass(v, 0, 'only') : undefined));
    this.#first = net.nodes.map((n, v) => (n.inEdges.length > 1 ? pass(v, 0, 'first') : undefined));
    // A single edge without a pass of its own may still finish its node after the zeroing.
    this.#last = net.nodes.map((n, v) => (n.inEdges.length > 1 || (n.inEdges.length === 1 && this.#only[v] === undefined) ? pass(v, n.inEdges.length - 1, 'last') : undefined));
  }

  /** Frame `k` of computed node `v` in `stream`; its sources' frames must already be complete. */
  compute(v: number, k: number, stream = 0): void {
    this.#oneFrame[0] = k;
    this.#oneStream[0] = stream;
    this.computeBatch(v, this.#oneFrame, this.#oneStream);
  }

  /** Edge e's source state of each stream of the batch, into the reused #srcs. */
  #sources(e: number, frames: readonly number[], streams: readonly number[]): readonly Float32Array[] {
    const srcs = this.#srcs;
    const from = this.#net.edges[e].from;
    const delay = this.#delays[e];
    for (let b = 0; b < frames.length; b++) srcs[b] = this.#arena.state(from, frames[b] - delay, streams[b]);
    return srcs;
  }

  /**
   * Node v for several streams of one engine frame: `frames[b]` of `streams[b]`. Edges and
   * passes whose kernel batches (a dense layer on the native kernels reads its weights once
   * for eight streams) run for all streams at once, the rest (and a single stream) stream by
   * stream; each stream's state gets the same operations in the same order either way, so
   * the results are the same bit for bit.
   */
  computeBatch(v: number, frames: readonly number[], streams: readonly number[]): void {
    const n = frames.length;
    const arena = this.#arena;
    const dsts = this.#dsts;
    const bias = arena.bias(v);
    dsts.length = n;
    this.#srcs.length = n;
    for (let b = 0; b < n; b++) dsts[b] = arena.state(v, frames[b], streams[b]);
    const ins = this.#net.nodes[v].inEdges;
    const only = this.#only[v];
    if (only !== undefined) {
      runPass(only, this.#sources(ins[0], frames, streams), dsts, bias);
      return;
    }
    const first = this.#first[v];
    const last = this.#last[v];
    let i = 0;
    if (first !== undefined) runPass(first, this.#sources(ins[i++], frames, streams), dsts, bias);
    else for (let b = 0; b < n; b++) this.#kernels.zero(dsts[b]);
    const end = last === undefined ? ins.length : ins.length - 1;
    for (; i < end; i++) {
      const kernel = this.#edgeKernels[ins[i]];
      const srcs = this.#sources(ins[i], frames, streams);
      if (kernel.runBatch !== undefined && n > 1) kernel.runBatch(srcs, dsts);
      else for (let b = 0; b < n; b++) kernel.run(srcs[b], dsts[b]);
    }
    if (last !== undefined) runPass(last, this.#sources(ins[end], frames, streams), dsts, bias);
    else {
      const activation = this.#activations[v] as ActivationKernel;
      for (let b = 0; b < n; b++) activation.run(dsts[b], bias);
    }
  }
}

/** An edge pass over several streams: at once where its kernel batches, else stream by stream. */
function runPass(pass: EdgePass, srcs: readonly Float32Array[], dsts: readonly Float32Array[], bias: Float32Array): void {
  if (pass.runBatch !== undefined && srcs.length > 1) pass.runBatch(srcs, dsts, bias);
  else for (let b = 0; b < srcs.length; b++) pass.run(srcs[b], dsts[b], bias);
}
