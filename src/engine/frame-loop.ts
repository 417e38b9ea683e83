// One worker's share of every frame: its inputs (converting those written through zero-copy
// views), then its nodes in frame order, each after what it needs from other workers. The frame-loop worker
// (workers/frame-loop.ts) runs it frame after frame; the real-time loop's thread runs it in
// place of a parked worker, so a one-worker model wakes a single thread per frame. A worker
// with a stream helper shares each frame's streams with it instead (stream-lanes.ts), and
// computes the entries it claims through computeEntries.
import { validateNetwork } from '../graph/network.js';
import '../kernels/backends.js';
import type { BoundKernels } from '../kernels/kernel.js';
import { getBackend } from '../kernels/registry.js';
import { Arena, BATCH_WORDS, ENTRY_TICK } from './arena.js';
import { FAILED_NODE, NO_OUTPUTS, STAGED_INPUTS, STOP, STOP_FAILED, nodeTick, notifyAll, streamOf, wakeDriverIfAsked, workerLine, workerTiming } from './control.js';
import type { FrameLoopTask } from './frame-loop-task.js';
import { NodeComputer } from './node-compute.js';
import { StreamLanes } from './stream-lanes.js';
import { waitAtLeast } from './sync.js';
import type { Network } from '../graph/network.js';

export class FrameLoop {
  readonly net: Network;
  readonly arena: Arena;
  readonly ctrl: Int32Array;
  readonly kernels: BoundKernels;
  readonly task: FrameLoopTask;
  readonly #computer: NodeComputer;
  /** Per node of this worker, the counters to wait for before frame k, as [counter index, frame offset]. */
  readonly #waits: (readonly [number, number])[][];
  /** Per input this worker owns, whether it has a staging ring (zero-copy frames to convert). */
  readonly #staged: readonly boolean[];
  readonly #stats: number;
  readonly #timing: Float64Array;
  /** Scratch for a batched frame's (frame, stream) pairs, reused frame after frame. */
  readonly #frames: number[] = [];
  readonly #streams: number[] = [];
  /** Scratch: the entries of a batch computed together. */
  readonly #picked: number[] = [];
  /** How this worker shares engine frames with a helper thread; undefined for an ordinary worker. */
  readonly lanes: StreamLanes | undefined;

  /** Builds the loop in this thread (the task's backend module must be imported first). */
  constructor(task: FrameLoopTask) {
    this.task = task;
    this.net = validateNetwork(task.spec);
    this.arena = new Arena(task.plan, task.memory);
    this.ctrl = this.arena.control;
    this.kernels = getBackend(task.backend).bind(task.memory);
    this.#computer = new NodeComputer(this.net, task.delays, this.arena, this.kernels);
    const { delays, owner, worker } = task;
    const net = this.net;
    // A producer on another worker must have finished frame k - R(e); a consumer on another
    // worker must have finished frame k - depth(v) + R(e), after which it never reads the slot
    // that frame k of v overwrites. Same-worker dependencies hold by the order of the loop.
    const waitsOf = (v: number): (readonly [number, number])[] => {
      const need = new Map<number, number>();
      const add = (index: number, offset: number): void => void need.set(index, Math.max(need.get(index) ?? -Infinity, offset));
      for (const e of net.nodes[v].inEdges) {
        const u = net.edges[e].from;
        if (owner[u] >= 0 && owner[u] !== worker) add(nodeTick(u), -delays[e]);
      }
      const depth = task.plan.states[v].depth;
      for (const e of net.nodes[v].outEdges) {
        const w = net.edges[e].to;
        if (owner[w] !== worker) add(nodeTick(w), delays[e] - depth);
      }
      return [...need];
    };
    this.#waits = task.nodes.map(waitsOf);
    this.#staged = task.converts.map((v) => task.plan.staging[v] !== null);
    this.#stats = workerLine(net.nodes.length, worker);
    this.#timing = workerTiming(this.ctrl, net.nodes.length, worker);
    this.lanes = task.lane === undefined ? undefined : new StreamLanes(this, task.lane);
  }

  /** The next frame this worker has to compute (after its nodes' last published one). */
  nextFrame(): number {
    return Math.min(...this.task.nodes.map((v) => Atomics.load(this.ctrl, nodeTick(v)))) + 1;
  }

  /**
   * Computes this worker's share of engine frame k (already published): for every stream in
   * k's batch entry, that stream's own frame. `waitedMs` is how long the caller waited for
   * it, for the statistics. False when the engine was asked to stop. Throws, after stopping
   * the engine, when a node's computation fails.
   *
   * Waits are in engine frames: a stream's frames go to strictly increasing engine frames, so
   * its frame f - R(e) was computed in engine frame k - R(e) or earlier, and what a consumer
   * must be done with before a slot is overwritten likewise.
   */
  computeFrame(k: number, waitedMs: number): boolean {
    if (this.lanes !== undefined) return this.lanes.complete(k);
    const { ctrl, arena, task } = this;
    const spin = task.spin;
    const start = performance.now();
    const batch = arena.batch(k);
    const picked = this.#picked;
    picked.length = batch[0];
    for (let i = 0; i < picked.length; i++) picked[i] = i;
    this.#gather(batch, picked);
    this.#convertInputs(batch, picked);
    for (let i = 0; i < task.converts.length; i++) {
      const v = task.converts[i];
      Atomics.store(ctrl, nodeTick(v), k);
      Atomics.notify(ctrl, nodeTick(v));
    }
    let busy = performance.now() - start;
    for (let i = 0; i < task.nodes.length; i++) {
      const v = task.nodes[i];
      for (const [index, offset] of this.#waits[i]) if (!waitAtLeast(ctrl, index, k + offset, spin)) return false;
      const n0 = performance.now();
      this.#computeNode(v, batch, picked);
      busy += performance.now() - n0;
      // Other workers may sleep on this counter; the driver asks for one wake-up.
      Atomics.store(ctrl, nodeTick(v), k);
      Atomics.notify(ctrl, nodeTick(v));
      wakeDriverIfAsked(ctrl, v, k);
    }
    this.#timing[0] += busy * 1000;
    Atomics.store(ctrl, this.#stats, k);
    this.#timing[1] += (performance.now() - start - busy + waitedMs) * 1000;
    return true;
  }

  /**
   * Entries `picked` of an engine frame's batch, all of this worker's nodes in frame order,
   * as one batch: what a stream lane computes for the entries it claimed (its worker has
   * every computed node, so nothing waits on another worker). Throws, after stopping the
   * engine, when a node fails.
   */
  computeEntries(batch: Int32Array, picked: readonly number[]): void {
    this.#gather(batch, picked);
    this.#convertInputs(batch, picked);
    for (const v of this.task.nodes) this.#computeNode(v, batch, picked);
  }

  /** The (frame, stream) pairs of the picked entries, read once for all of this worker's nodes. */
  #gather(batch: Int32Array, picked: readonly number[]): void {
    const frames = this.#frames;
    const streams = this.#streams;
    frames.length = picked.length;
    streams.length = picked.length;
    for (let i = 0; i < picked.length; i++) {
      const at = 1 + BATCH_WORDS * picked[i];
      streams[i] = streamOf(batch[at]);
      frames[i] = batch[at + 1];
    }
  }

  /**
   * The driver copied the frames' inputs into their state slots before publishing them, or
   * (zero-copy views of an input with a staging ring) left them there to be converted here.
   * Either way its queue keeps them from overwriting a slot that is still read.
   */
  #convertInputs(batch: Int32Array, picked: readonly number[]): void {
    const { arena, kernels, net, task } = this;
    for (let i = 0; i < task.converts.length; i++) {
      if (!this.#staged[i]) continue;
      const v = task.converts[i];
      for (let b = 0; b < picked.length; b++) {
        if ((batch[1 + BATCH_WORDS * picked[b]] & STAGED_INPUTS) === 0) continue;
        kernels.toInternal(arena.staged(v, this.#frames[b], this.#streams[b]) as Float32Array, arena.state(v, this.#frames[b], this.#streams[b]), net.nodes[v].shape, net.nodes[v].order);
      }
    }
  }

  /** Node v for the gathered entries (every stream at once), then its row-major output copies. */
  #computeNode(v: number, batch: Int32Array, picked: readonly number[]): void {
    const { ctrl, arena, kernels, net, task } = this;
    const frames = this.#frames;
    const streams = this.#streams;
    let b = 0;
    try {
      // Kernels that can share weight loads between sessions get them all together.
      this.#computer.computeBatch(v, frames, streams);
      if (arena.plan.staging[v] !== null) {
        for (; b < picked.length; b++) {
          if ((batch[1 + BATCH_WORDS * picked[b]] & NO_OUTPUTS) !== 0) continue;
          kernels.fromInternal(arena.state(v, frames[b], streams[b]), arena.staged(v, frames[b], streams[b]) as Float32Array, net.nodes[v].shape, net.nodes[v].order);
        }
        b = 0;
      }
    } catch (err) {
      // Say which node failed before stopping everyone: the driver reads it from here.
      Atomics.compareExchange(ctrl, FAILED_NODE, 0, v + 1);
      Atomics.store(ctrl, STOP, STOP_FAILED);
      notifyAll(ctrl);
      const at = 1 + BATCH_WORDS * picked[b];
      const tick = batch[at + ENTRY_TICK];
      const where = arena.plan.streams > 1 ? `tick ${tick} of stream ${streamOf(batch[at])}` : `tick ${tick}`;
      throw new Error(`node "${net.nodes[v].name}" (worker ${task.worker}) failed at ${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
