import type { Network } from '../graph/network.js';
import type { BoundKernels, KernelBackend } from '../kernels/kernel.js';
import type { Arena } from './arena.js';
import { NodeComputer } from './node-compute.js';
import { nodeFlops } from './placement.js';

/**
 * Node costs (µs per frame) for placement: measured by running each node's kernels a few
 * times on the real arena (then clearing it), or estimated from FLOPs at a nominal speed.
 */
export async function nodeCosts(net: Network, delays: readonly number[], arena: Arena, backend: KernelBackend, kernels: BoundKernels, calibrate: boolean): Promise<number[]> {
  if (!calibrate) {
    return net.nodes.map((n) => nodeFlops(net, n.index) / (backend.nominalGflops * 1000));
  }
  const computer = new NodeComputer(net, delays, arena, kernels);
  // Untimed passes first: V8 runs a fresh wasm function in its baseline tier, ~4x slower,
  // which would make whichever node is measured first look expensive.
  for (let pass = 0; pass < 10; pass++) {
    for (const n of net.nodes) if (!n.isInput) computer.compute(n.index, 1);
    // Measuring runs on the main thread: let the event loop breathe between passes.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // Round-robin passes, each timing every node once, and the median per node: a burst of
  // machine noise then touches one sample of many nodes instead of all samples of one node
  // (measuring node after node let one noisy moment make a node look 1.5x its cost and
  // unbalance the groups). At least 5 passes, then until ~100 ms, at most 31.
  const computed = net.nodes.filter((n) => !n.isInput).map((n) => n.index);
  const samples = computed.map(() => [] as number[]);
  const start = performance.now();
  for (let pass = 0; pass < 31 && (pass < 5 || performance.now() - start < 100); pass++) {
    computed.forEach((v, i) => {
      const t0 = performance.now();
      computer.compute(v, 1);
      samples[i].push((performance.now() - t0) * 1000);
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const costs = net.nodes.map(() => 0);
  computed.forEach((v, i) => {
    const s = samples[i].sort((a, b) => a - b);
    costs[v] = s[s.length >> 1];
  });
  arena.clearStates();
  return costs;
}
