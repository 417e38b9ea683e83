// The per-worker frame loop: one long-lived piscina task per worker, the counterpart of the
// driver (src/engine/frame-driver.ts). Workers do not meet at a global barrier: before
// computing frame k of a node, a worker waits only for what that node needs from other
// workers (each producer done with the frame it reads) and for the consumers on other
// workers to be done with the ring slot frame k overwrites. Deeper rings (slack) let workers
// run a frame or two apart, so one descheduled worker does not stall the rest at once. Every
// node publishes its progress in its own ready counter.
import { validateNetwork } from '../src/graph/network.js';
import '../src/kernels/backends.js';
import { getBackend } from '../src/kernels/registry.js';
import { Arena } from '../src/engine/arena.js';
import { FAILED_NODE, OUTPUTS_FROM, READY, STOP, STOP_FAILED, TICK_BASE, nodeTick, notifyAll, wakeDriverIfAsked, workerLine, workerTiming } from '../src/engine/control.js';
import type { FrameLoopResult, FrameLoopTask } from '../src/engine/frame-loop-task.js';
import { NodeComputer } from '../src/engine/node-compute.js';
import { FrameWaiter, waitAtLeast } from '../src/engine/sync.js';

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
  const timing = workerTiming(ctrl, net.nodes.length, worker);
  const frames = new FrameWaiter(ctrl, spin);

  let k = Math.min(...task.nodes.map((v) => Atomics.load(ctrl, nodeTick(v)))) + 1;
  Atomics.add(ctrl, READY, 1);
  Atomics.notify(ctrl, READY);
  for (;;) {
    const t0 = performance.now();
    if (!frames.wait(k)) break;
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
        // Say which node failed before stopping everyone: the driver reads it from here.
        Atomics.compareExchange(ctrl, FAILED_NODE, 0, v + 1);
        Atomics.store(ctrl, STOP, STOP_FAILED);
        notifyAll(ctrl);
        const tick = k - Atomics.load(ctrl, TICK_BASE);
        throw new Error(`node "${net.nodes[v].name}" (worker ${worker}) failed at tick ${tick}: ${err instanceof Error ? err.message : String(err)}`);
      }
      busy += performance.now() - n0;
      // Other workers may sleep on this counter; the driver asks for one wake-up.
      Atomics.store(ctrl, nodeTick(v), k);
      Atomics.notify(ctrl, nodeTick(v));
      wakeDriverIfAsked(ctrl, v, k);
    }
    timing[0] += busy * 1000;
    Atomics.store(ctrl, stats, k);
    timing[1] += (performance.now() - t0 - busy) * 1000;
    k++;
  }
  return { worker, lastFrame: k - 1 };
}
