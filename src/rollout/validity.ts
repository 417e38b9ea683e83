import type { Network } from '../graph/network.js';
import { StreamrollError } from '../util/errors.js';

/** A directed cycle of R=0 edges: the node names with the first repeated last, and the edge ids. */
export interface ZeroDelayCycle {
  readonly nodes: readonly string[];
  readonly edges: readonly string[];
}

/**
 * The rollout is invalid: a cycle of edges with R = 0 would need a frame's state before it
 * is computed. Carries one offending cycle.
 */
export class RolloutCycleError extends StreamrollError {
  readonly cycle: readonly string[];
  readonly cycleEdges: readonly string[];

  constructor(cycle: ZeroDelayCycle) {
    super('ROLLOUT_CYCLE', `invalid rollout: the cycle ${cycle.nodes.join(' -> ')} has R=0 on every edge (${cycle.edges.join(', ')}); give at least one of these edges a delay >= 1`);
    this.name = 'RolloutCycleError';
    this.cycle = cycle.nodes;
    this.cycleEdges = cycle.edges;
  }
}

/**
 * Finds one directed cycle made only of R=0 edges, or null when there is none (the pattern
 * is valid: its rollout window is acyclic). Deterministic: searches in spec order.
 */
export function findZeroDelayCycle(net: Network, delays: readonly number[]): ZeroDelayCycle | null {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Uint8Array(net.nodes.length);
  // Edge by which each node on the current DFS path was entered, to rebuild the cycle.
  const via = new Int32Array(net.nodes.length).fill(-1);

  for (const root of net.nodes) {
    if (color[root.index] !== WHITE) continue;
    // Iterative DFS: a frame is (node, position in its out-edge list).
    const stack: [number, number][] = [[root.index, 0]];
    color[root.index] = GREY;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [u, k] = top;
      const out = net.nodes[u].outEdges;
      if (k >= out.length) {
        color[u] = BLACK;
        stack.pop();
        continue;
      }
      top[1] = k + 1;
      const e = net.edges[out[k]];
      if (delays[e.index] !== 0) continue;
      const v = e.to;
      if (color[v] === GREY) {
        const edges = [e.index];
        for (let w = u; w !== v; w = net.edges[via[w]].from) edges.push(via[w]);
        edges.reverse();
        const nodes = edges.map((i) => net.nodes[net.edges[i].from].name);
        nodes.push(net.nodes[v].name);
        return { nodes, edges: edges.map((i) => net.edges[i].id) };
      }
      if (color[v] === WHITE) {
        color[v] = GREY;
        via[v] = e.index;
        stack.push([v, 0]);
      }
    }
  }
  return null;
}

/** Throws {@link RolloutCycleError} if the pattern is invalid. */
export function assertValidRollout(net: Network, delays: readonly number[]): void {
  const cycle = findZeroDelayCycle(net, delays);
  if (cycle !== null) throw new RolloutCycleError(cycle);
}

/**
 * Order in which to compute nodes inside one frame: every R=0 edge goes from an earlier
 * node to a later one. Ties keep spec order. Requires a valid pattern.
 */
export function frameOrder(net: Network, delays: readonly number[]): number[] {
  const pending = net.nodes.map((n) => n.inEdges.filter((e) => delays[e] === 0).length);
  const order: number[] = [];
  const done = new Uint8Array(net.nodes.length);
  // Spec-order sweep repeated until all are placed: O(V^2) but networks are small and the
  // order is then the most natural one to read.
  while (order.length < net.nodes.length) {
    let progressed = false;
    for (const n of net.nodes) {
      if (done[n.index] || pending[n.index] > 0) continue;
      done[n.index] = 1;
      order.push(n.index);
      progressed = true;
      for (const e of n.outEdges) if (delays[e] === 0) pending[net.edges[e].to] -= 1;
    }
    if (!progressed) throw new Error('frameOrder: the rollout has a cycle of R=0 edges (check validity first)');
  }
  return order;
}
