import type { Network } from '../graph/network.js';
import { computeTableau } from './tableau.js';

/**
 * Response delay d(v) for every node: the least sum of R(e) over input -> v paths
 * (0 for inputs). An input impulse at tick k first reaches v at tick k + d(v).
 * Dijkstra from all inputs at once; delays are small non-negative integers.
 */
export function responseDelays(net: Network, delays: readonly number[]): number[] {
  const dist = net.nodes.map((n) => (n.isInput ? 0 : Infinity));
  const done = new Uint8Array(net.nodes.length);
  for (;;) {
    let u = -1;
    for (let v = 0; v < dist.length; v++) if (!done[v] && dist[v] < Infinity && (u < 0 || dist[v] < dist[u])) u = v;
    if (u < 0) break;
    done[u] = 1;
    for (const e of net.nodes[u].outEdges) {
      const edge = net.edges[e];
      const alt = dist[u] + delays[e];
      if (alt < dist[edge.to]) dist[edge.to] = alt;
    }
  }
  return dist;
}

/**
 * Which node instances (i, v), 0 <= i <= window, a path in the rollout window connects to
 * some input instance (j, x), j >= 0: `connected[v][i]`. Every non-input instance of frame 0
 * is an initial state (T(0, v) = 0): it is not computed, so no path enters or passes it, and
 * input frame 0 reaches the network only through delayed edges.
 */
export function inputConnected(net: Network, delays: readonly number[], window: number): boolean[][] {
  // Fixed point over frames in increasing order; within a frame, R=0 chains need repeated sweeps.
  const c = net.nodes.map((n) => new Array<boolean>(window + 1).fill(n.isInput));
  for (let i = 1; i <= window; i++) {
    let changed = true;
    while (changed) {
      changed = false;
      for (const e of net.edges) {
        const j = i - delays[e.index];
        if (j >= 0 && c[e.from][j] && !c[e.to][i]) {
          c[e.to][i] = true;
          changed = true;
        }
      }
    }
  }
  return c;
}

/** Per-output response figures of docs/semantics.md. */
export interface OutputResponse {
  /** d(o): ticks from an input impulse to the first change of o. */
  readonly delay: number;
  /** Earliest update step at which o holds something computed from an input (input frame 0 counts). */
  readonly firstResponseStep: number;
  /** The frame of that first response: the first frame of o a path connects to an input. */
  readonly firstResponseFrame: number;
  /** Update steps between successive output frames: F(R). */
  readonly responsePeriod: number;
}

/**
 * firstResponseStep(o) = min over frames i >= 1 of T(i,o) among instances connected to an
 * input instance, computed literally on a window wide enough to hold the first one.
 */
export function outputResponses(net: Network, delays: readonly number[], factor: number): Map<number, OutputResponse> {
  const d = responseDelays(net, delays);
  // A first response comes at frame d(o) or d(o) + 1 (when every shortest path starts with an
  // undelayed edge out of an input, input frame 0 cannot take it): one more frame of margin.
  const window = Math.max(1, ...net.outputs.map((o) => d[o])) + 2;
  const T = computeTableau(net, delays, window);
  const connected = inputConnected(net, delays, window);
  const result = new Map<number, OutputResponse>();
  for (const o of net.outputs) {
    let first = Infinity;
    let frame = Infinity;
    for (let i = 1; i <= window; i++) {
      if (connected[o][i] && T[o][i] < first) {
        first = T[o][i];
        frame = i;
      }
    }
    result.set(o, { delay: d[o], firstResponseStep: first, firstResponseFrame: frame, responsePeriod: factor });
  }
  return result;
}
