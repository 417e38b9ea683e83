// The per-worker frame loop: one long-lived piscina task per worker. Workers do not meet at
// a global barrier: before computing frame k of a node, a worker waits only for what that
// node needs from other workers (each producer done with the frame it reads) and for the
// consumers on other workers to be done with the ring slot frame k overwrites. Deeper rings
// (slack) let workers run a frame or two apart, so one descheduled worker does not stall
// the rest at once. Every node publishes its progress in its own ready counter.
import type { NetworkSpec } from '../src/graph/spec.js';
import { validateNetwork } from '../src/graph/network.js';
import '../src/kernels/backends.js';
import type { KernelMemory } from '../src/kernels/kernel.js';
import { getBackend } from '../src/kernels/registry.js';
import { Arena, type ArenaPlan } from '../src/engine/arena.js';
import { MAIN_WAKE, OUTPUTS_FROM, PUBLISHED, READY, STOP, STOP_FAILED, TICK_BASE, WAKE_AT, WAKE_NODE, nodeTick, workerLine } from '../src/engine/control.js';
import { NodeComputer } from '../src/engine/node-compute.js';
import { waitAtLeast } from '../src/engine/sync.js';

/** Everything a worker needs, sent once when the run starts. */
export interface FrameLoopTask {
  readonly spec: NetworkSpec;
  readonly delays: readonly number[];
  readonly plan: ArenaPlan;
  readonly memory: KernelMemory;
  readonly backend: string;
  /** Module to import first, e.g. one registering a custom backend in this thread. */
  readonly backendModule?: string;
  readonly worker: number;
  /** This worker's nodes in frame order. */
  readonly nodes: readonly number[];
  /** Per node, its worker; for an input node, the worker that converts its staged frames (-1: none needed). */
  readonly owner: readonly number[];
  /** Input nodes whose row-major staged frames this worker converts into their state slots. */
  readonly converts: readonly number[];
  readonly spin: boolean;
}

/** How a worker's loop ended. */
export interface FrameLoopResult {
  readonly worker: number;
  readonly lastFrame: number;
}

/** A worker failure, naming where. */
export class NodeFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeFailure';
  }
}

export default async function frameLoop(task: FrameLoopTask): Promise<FrameLoopResult> {
  if (task.backendModule !== undefined) await import(task.backendModule);
  const net = validateNetwork(task.spec);
  const arena = new Arena(task.plan, task.memory);
  const ctrl = arena.control;
  const kernels = getBackend(task.backend).bind(task.memory);
  const computer = new NodeComputer(net, task.delays, arena, kernels);
  const { delays, owner, worker, spin } = task;
  // Per node, the counters to wait for before frame k, as [counter index, frame offset]:
  // a producer on another worker must have finished frame k - R(e); a consumer on another
  // worker must have finished frame k - depth(v) + R(e), after which it never reads the slot
  // that frame k of v overwrites. Same-worker dependencies hold by the order of the loop.
  const waits = task.nodes.map((v) => {
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
  });
  const stats = workerLine(net.nodes.length, worker);
  const timing = new Float64Array(ctrl.buffer, ctrl.byteOffset + stats * 4 + 8, 2);

  let k = Math.min(...task.nodes.map((v) => Atomics.load(ctrl, nodeTick(v)))) + 1;
  Atomics.add(ctrl, READY, 1);
  Atomics.notify(ctrl, READY);
  for (;;) {
    const t0 = performance.now();
    if (!waitAtLeast(ctrl, PUBLISHED, k, spin)) break;
    let busy = 0;
    const outputsWanted = k >= Atomics.load(ctrl, OUTPUTS_FROM);
    const c0 = performance.now();
    for (const v of task.converts) {
      kernels.toInternal(arena.staged(v, k) as Float32Array, arena.state(v, k), net.nodes[v].shape);
      Atomics.store(ctrl, nodeTick(v), k);
      Atomics.notify(ctrl, nodeTick(v));
    }
    busy += performance.now() - c0;
    for (let i = 0; i < task.nodes.length; i++) {
      const v = task.nodes[i];
      for (const [index, offset] of waits[i]) if (!waitAtLeast(ctrl, index, k + offset, spin)) return { worker, lastFrame: k - 1 };
      const n0 = performance.now();
      try {
        computer.compute(v, k);
        const out = outputsWanted ? arena.staged(v, k) : null;
        if (out !== null) kernels.fromInternal(arena.state(v, k), out, net.nodes[v].shape);
      } catch (err) {
        Atomics.store(ctrl, STOP, STOP_FAILED);
        for (let w = 0; w < ctrl.length; w += 16) Atomics.notify(ctrl, w);
        const tick = k - Atomics.load(ctrl, TICK_BASE);
        throw new NodeFailure(`node "${net.nodes[v].name}" (worker ${worker}) failed at tick ${tick}: ${err instanceof Error ? err.message : String(err)}`);
      }
      busy += performance.now() - n0;
      // Other workers may sleep on this counter; the main thread asks for one wake-up.
      Atomics.store(ctrl, nodeTick(v), k);
      Atomics.notify(ctrl, nodeTick(v));
      if (Atomics.load(ctrl, WAKE_NODE) === v && k >= Atomics.load(ctrl, WAKE_AT)) {
        Atomics.add(ctrl, MAIN_WAKE, 1);
        Atomics.notify(ctrl, MAIN_WAKE);
      }
    }
    timing[0] += busy * 1000;
    Atomics.store(ctrl, stats, k);
    timing[1] += (performance.now() - t0 - busy) * 1000;
    k++;
  }
  return { worker, lastFrame: k - 1 };
}
