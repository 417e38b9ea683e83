import type { Network } from '../graph/network.js';
import { frameOrder } from './validity.js';

/**
 * The inference tableau (paper Eq. 4): `T[v][i]` is the update step at which node v of frame i
 * is known. T(i,v) = 0 for i = 0 or v an input; otherwise 1 + max over edges e=(u,v) of
 * T(i - R(e), u), frames below 0 counting as frame 0. Requires a valid pattern.
 *
 * @param window the last frame W; the result has W + 1 columns
 */
export function computeTableau(net: Network, delays: readonly number[], window: number): number[][] {
  const order = frameOrder(net, delays);
  const T = net.nodes.map(() => new Array<number>(window + 1).fill(0));
  for (let i = 1; i <= window; i++) {
    for (const v of order) {
      const node = net.nodes[v];
      if (node.isInput) continue;
      let best = 0;
      for (const e of node.inEdges) {
        const edge = net.edges[e];
        best = Math.max(best, T[edge.from][Math.max(i - delays[e], 0)]);
      }
      T[v][i] = 1 + best;
    }
  }
  return T;
}

/** F(R) = max over v of T(1,v): update steps needed per frame. */
export function inferenceFactor(net: Network, delays: readonly number[]): number {
  const T = computeTableau(net, delays, 1);
  return Math.max(...T.map((row) => row[1]));
}

/**
 * Theorem 1's condition (a): R(e) >= 1 on every edge whose source is not an input, so all
 * nodes of a frame can be computed at once.
 */
export function isModelParallel(net: Network, delays: readonly number[]): boolean {
  return net.edges.every((e) => net.nodes[e.from].isInput || delays[e.index] >= 1);
}
