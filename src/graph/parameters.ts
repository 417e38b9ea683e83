import type { Network } from './network.js';
import { opOfGeometry } from './ops.js';
import { Random } from '../util/random.js';

/**
 * The learned numbers of a network: one weight tensor per edge that has weights (by edge
 * index, model-file layout: dense `[out,in]`, conv `[outC,inC,kh,kw]`) and one bias per
 * node (by node index; empty for input nodes).
 */
export interface Parameters {
  readonly weights: readonly (Float32Array | null)[];
  readonly biases: readonly Float32Array[];
}

/** Options of {@link initParameters}. */
export interface InitOptions {
  /** Seed of the deterministic generator; default 0. */
  readonly seed?: number;
  /** `zeros` (default, the usual start) or `uniform` in [-0.1, 0.1) (generic values for tests). */
  readonly bias?: 'zeros' | 'uniform';
}

/**
 * Deterministic weight init from a seed: He uniform into relu / leaky_relu nodes, Glorot
 * uniform elsewhere. A node's fan-in counts all its incoming edges, so a node summing
 * several edges starts with the same variance as one with a single edge.
 */
export function initParameters(net: Network, options: InitOptions = {}): Parameters {
  const rng = new Random(options.seed ?? 0);
  const weights = net.edges.map((e) => {
    if (e.weightShape === null) return null;
    const g = e.geometry;
    const [fanIn, fanOut] = opOfGeometry(g).fans(g);
    const target = net.nodes[e.to];
    const edgesIn = target.inEdges.length;
    const he = target.activation === 'relu' || target.activation === 'leaky_relu';
    const limit = he ? Math.sqrt(6 / (fanIn * edgesIn)) : Math.sqrt(6 / (fanIn * edgesIn + fanOut));
    const w = new Float32Array(e.weightSize);
    for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-limit, limit);
    return w;
  });
  const biases = net.nodes.map((n) => {
    const b = new Float32Array(n.isInput ? 0 : n.size);
    if (options.bias === 'uniform') for (let i = 0; i < b.length; i++) b[i] = rng.uniform(-0.1, 0.1);
    return b;
  });
  return { weights, biases };
}
