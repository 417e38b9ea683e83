import fc from 'fast-check';
import { validateNetwork, type Network } from '../../src/graph/network.js';
import type { Activation, EdgeOp, EdgeSpec, NetworkSpec, NodeSpec, Shape } from '../../src/graph/spec.js';
import { findZeroDelayCycle } from '../../src/rollout/validity.js';
import { Random } from '../../src/util/random.js';

/** Knobs of a random network; fast-check shrinks them toward small networks. */
export interface NetParams {
  readonly seed: number;
  readonly nodes: number;
  readonly inputs: number;
  readonly extraEdges: number;
  /** Allow [C,H,W] nodes and conv/identity edges (otherwise vectors and dense only). */
  readonly spatial: boolean;
}

export interface NetOptions {
  /** Activations for computed nodes; default all pointwise ones. */
  readonly activations?: readonly Activation[];
}

/**
 * Builds a random valid network: the first `inputs` nodes are inputs, every other node gets
 * an edge from an earlier node (so all are reachable), then extra edges between any pair
 * whose target is not an input: back edges, self-loops and parallel (named) edges included.
 */
export function randomNetwork(p: NetParams, options: NetOptions = {}): Network {
  const rng = new Random(p.seed);
  const acts = options.activations ?? ['relu', 'relu6', 'leaky_relu', 'elu', 'tanh', 'sigmoid', 'hard_sigmoid', 'hard_swish', 'linear'];
  const inputs = Math.min(p.inputs, p.nodes - 1);
  const nodes: NodeSpec[] = [];
  for (let i = 0; i < p.nodes; i++) {
    const shape: Shape = p.spatial && rng.next() < 0.5 ? [rng.int(1, 4), 4, rng.int(3, 5)] : [rng.int(1, 6)];
    const name = `n${i}`;
    nodes.push(i < inputs ? { name, shape } : { name, shape, activation: acts[rng.int(0, acts.length - 1)] });
  }
  const edges: EdgeSpec[] = [];
  const counts = new Map<string, number>();
  const addEdge = (u: number, v: number): void => {
    const from = nodes[u].name;
    const to = nodes[v].name;
    const key = `${from}->${to}`;
    const k = counts.get(key) ?? 0;
    counts.set(key, k + 1);
    const op = pickOp(rng, nodes[u].shape, nodes[v].shape);
    edges.push(k === 0 ? { from, to, op } : { from, to, op, name: `${key}#${k}` });
  };
  for (let v = inputs; v < p.nodes; v++) addEdge(rng.int(0, v - 1), v);
  for (let k = 0; k < p.extraEdges; k++) addEdge(rng.int(0, p.nodes - 1), rng.int(inputs, p.nodes - 1));
  const outputs = [nodes[p.nodes - 1].name];
  if (p.nodes - 2 >= inputs && rng.next() < 0.5) outputs.push(nodes[p.nodes - 2].name);
  const spec: NetworkSpec = { name: `random-${p.seed}`, nodes, edges, outputs };
  return validateNetwork(spec);
}

function pickOp(rng: Random, from: Shape, to: Shape): EdgeOp {
  const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);
  const r = rng.next();
  if (from.length === 3 && to.length === 3 && from[1] === to[1] && from[2] === to[2] && r < 0.6) {
    // Grouped (or depthwise) where the channel counts share a divisor, now and then.
    const divisors = [2, 3].filter((g) => from[0] % g === 0 && to[0] % g === 0);
    const groups = divisors.length > 0 && rng.next() < 0.4 ? divisors[rng.int(0, divisors.length - 1)] : 1;
    return { type: 'conv2d', kernel: rng.int(1, 3), padding: 'same', dilation: rng.int(1, 2), ...(groups > 1 ? { groups } : {}) };
  }
  if (size(from) === size(to) && r < 0.8) return { type: 'identity' };
  return { type: 'dense' };
}

/** Arbitrary network knobs. */
export const netParams = (spatial = false, maxNodes = 7): fc.Arbitrary<NetParams> =>
  fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    nodes: fc.integer({ min: 2, max: maxNodes }),
    inputs: fc.integer({ min: 1, max: 2 }),
    extraEdges: fc.integer({ min: 0, max: 8 }),
    spatial: fc.constant(spatial),
  });

/** Random delays in 0..maxDelay for every edge (valid or not). */
export function randomDelays(net: Network, seed: number, maxDelay: number): number[] {
  const rng = new Random(seed ^ 0x5eed);
  return net.edges.map(() => rng.int(0, maxDelay));
}

/**
 * Random valid delays: random delays, then every edge of each remaining R=0 cycle is
 * repaired by delaying one of its edges (a random one), until none is left.
 */
export function randomValidDelays(net: Network, seed: number, maxDelay: number): number[] {
  const rng = new Random(seed ^ 0xa11);
  const delays = randomDelays(net, seed, maxDelay);
  for (;;) {
    const cycle = findZeroDelayCycle(net, delays);
    if (cycle === null) return delays;
    const id = cycle.edges[rng.int(0, cycle.edges.length - 1)];
    delays[net.edge(id).index] = rng.int(1, Math.max(1, maxDelay));
  }
}

/** One frame of uniform values in [-1, 1) for every input of `net`, keyed by name. */
export function randomInputs(net: Network, rng: Random): Record<string, Float32Array> {
  const input: Record<string, Float32Array> = {};
  for (const i of net.inputs) input[net.nodes[i].name] = Float32Array.from({ length: net.nodes[i].size }, () => rng.uniform(-1, 1));
  return input;
}
