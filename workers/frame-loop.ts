// The per-worker frame loop: one long-lived piscina task per worker. Each frame it computes
// its nodes from the arena, publishes each node's ready counter (for R=0 consumers on other
// workers) and arrives at the barrier; the last to arrive advances the completed frame.
import type { NetworkSpec } from '../src/graph/spec.js';
import { validateNetwork } from '../src/graph/network.js';
import '../src/kernels/backends.js';
import { fromInternal, toInternal } from '../src/kernels/layout.js';
import type { KernelMemory } from '../src/kernels/kernel.js';
import { getBackend } from '../src/kernels/registry.js';
import { Arena, type ArenaPlan } from '../src/engine/arena.js';
import { ARRIVED, COMPLETED, OUTPUTS_FROM, PUBLISHED, READY, STOP, STOP_FAILED, TICK_BASE, nodeTick, workerLine } from '../src/engine/control.js';
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
  readonly workers: number;
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
  const computer = new NodeComputer(net, task.delays, arena, getBackend(task.backend).bind(task.memory));
  const { delays, owner, worker, workers, spin } = task;
  // Producers on other workers whose frame-k state a node reads (R=0 edges), and whether
  // anyone on another worker waits for a node's counter.
  const crossSources = task.nodes.map((v) => [
    ...new Set(net.nodes[v].inEdges.filter((e) => delays[e] === 0 && owner[net.edges[e].from] >= 0 && owner[net.edges[e].from] !== worker).map((e) => net.edges[e].from)),
  ]);
  // (Input nodes have owner -1 unless some worker converts them, so only converted inputs are awaited.)
  const notifies = task.nodes.map((v) => net.nodes[v].outEdges.some((e) => delays[e] === 0 && owner[net.edges[e].to] !== worker));
  const layout = getBackend(task.backend).layout;
  const convertNotifies = task.converts.map((v) => net.nodes[v].outEdges.some((e) => delays[e] === 0 && owner[net.edges[e].to] !== worker));
  const stats = workerLine(net.nodes.length, worker);
  const timing = new Float64Array(ctrl.buffer, ctrl.byteOffset + stats * 4 + 8, 2);

  let k = Atomics.load(ctrl, COMPLETED) + 1;
  Atomics.add(ctrl, READY, 1);
  Atomics.notify(ctrl, READY);
  for (;;) {
    const t0 = performance.now();
    if (!waitAtLeast(ctrl, PUBLISHED, k, spin)) break;
    let busy = 0;
    const outputsWanted = k >= Atomics.load(ctrl, OUTPUTS_FROM);
    const c0 = performance.now();
    for (let i = 0; i < task.converts.length; i++) {
      const v = task.converts[i];
      toInternal(arena.staged(v, k) as Float32Array, arena.state(v, k), net.nodes[v].shape, layout);
      Atomics.store(ctrl, nodeTick(v), k);
      if (convertNotifies[i]) Atomics.notify(ctrl, nodeTick(v));
    }
    busy += performance.now() - c0;
    for (let i = 0; i < task.nodes.length; i++) {
      const v = task.nodes[i];
      for (const u of crossSources[i]) if (!waitAtLeast(ctrl, nodeTick(u), k, spin)) return { worker, lastFrame: k - 1 };
      const n0 = performance.now();
      try {
        computer.compute(v, k);
        const out = outputsWanted ? arena.staged(v, k) : null;
        if (out !== null) fromInternal(arena.state(v, k), out, net.nodes[v].shape, layout);
      } catch (err) {
        Atomics.store(ctrl, STOP, STOP_FAILED);
        for (let w = 0; w < ctrl.length; w += 16) Atomics.notify(ctrl, w);
        const tick = k - Atomics.load(ctrl, TICK_BASE);
        throw new NodeFailure(`node "${net.nodes[v].name}" (worker ${worker}) failed at tick ${tick}: ${err instanceof Error ? err.message : String(err)}`);
      }
      busy += performance.now() - n0;
      Atomics.store(ctrl, nodeTick(v), k);
      if (notifies[i]) Atomics.notify(ctrl, nodeTick(v));
    }
    timing[0] += busy * 1000;
    if (Atomics.add(ctrl, ARRIVED, 1) === workers - 1) {
      Atomics.store(ctrl, ARRIVED, 0);
      Atomics.store(ctrl, COMPLETED, k);
      Atomics.notify(ctrl, COMPLETED);
    } else if (!waitAtLeast(ctrl, COMPLETED, k, spin)) {
      break;
    }
    Atomics.store(ctrl, stats, k);
    timing[1] += (performance.now() - t0 - busy) * 1000;
    k++;
  }
  return { worker, lastFrame: k - 1 };
}
