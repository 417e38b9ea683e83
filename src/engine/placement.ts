import type { Network } from '../graph/network.js';
import { frameOrder } from '../rollout/validity.js';

/** Which worker computes which nodes, and what frame time that predicts. */
export interface Placement {
  /** How it was chosen. */
  readonly kind: 'one-per-layer' | 'balanced' | 'explicit';
  readonly workers: number;
  /** Per worker, its nodes in the order it computes them (the frame order). */
  readonly nodesOf: readonly (readonly number[])[];
  /** Per node, its worker; -1 for input nodes (the main thread writes them). */
  readonly owner: readonly number[];
  /** Per node, the cost used (µs per frame; 0 for inputs). */
  readonly costUs: readonly number[];
  /**
   * Time per frame when running free (µs, synchronisation not included): the slowest
   * worker's load. Workers only wait for the data they need and rings hold slack, so
   * consecutive frames overlap, in sequential rollouts too.
   */
  readonly predictedFrameUs: number;
  /** Time from a frame's input to all its nodes done when frames are run one at a time (the R=0 critical path), µs. */
  readonly predictedLatencyUs: number;
}

/** An explicit mapping: node name -> worker index, or one list of node names per worker. */
export type PlacementMapping = Readonly<Record<string, number>> | readonly (readonly string[])[];

/** What a user may ask for. */
export type PlacementOption = 'auto' | 'one-per-layer' | PlacementMapping;

/**
 * Predicted frame time of an assignment: each worker runs its nodes in frame order; a node
 * starts when its worker is free and every R=0 producer of this frame has finished. Nodes
 * fed only through delayed edges start at once (their inputs are last frame's).
 */
export function simulateFrame(net: Network, delays: readonly number[], owner: readonly number[], costUs: readonly number[], order = frameOrder(net, delays)): number {
  const workers = Math.max(0, ...owner) + 1;
  const free = new Array<number>(workers).fill(0);
  const finish = new Array<number>(net.nodes.length).fill(0);
  let makespan = 0;
  for (const v of order) {
    const w = owner[v];
    if (w < 0) continue;
    let start = free[w];
    for (const e of net.nodes[v].inEdges) {
      if (delays[e] === 0) start = Math.max(start, finish[net.edges[e].from]);
    }
    finish[v] = start + costUs[v];
    free[w] = finish[v];
    makespan = Math.max(makespan, finish[v]);
  }
  return makespan;
}

/** The slowest worker's summed node costs. */
export function maxWorkerLoad(owner: readonly number[], costUs: readonly number[]): number {
  const load: number[] = [];
  owner.forEach((w, v) => {
    if (w >= 0) load[w] = (load[w] ?? 0) + costUs[v];
  });
  return Math.max(0, ...load.filter((x) => x !== undefined));
}

/** Floating-point operations of one frame of node v (edges plus activation), a cost estimate. */
export function nodeFlops(net: Network, v: number): number {
  const node = net.nodes[v];
  if (node.isInput) return 0;
  let flops = 4 * node.size;
  for (const e of node.inEdges) {
    const g = net.edges[e].geometry;
    if (g.type === 'dense') flops += 2 * g.inSize * g.outSize;
    else if (g.type === 'conv2d') flops += 2 * g.outC * g.outH * g.outW * g.inC * g.kh * g.kw;
    else if (g.type === 'identity') flops += g.size;
    else flops += g.inC * g.outH * g.outW * g.kh * g.kw;
  }
  return flops;
}

function finish(net: Network, delays: readonly number[], kind: Placement['kind'], owner: number[], costUs: readonly number[]): Placement {
  // Renumber workers in order of first use so that placements compare equal when they group alike.
  const order = frameOrder(net, delays);
  const rename = new Map<number, number>();
  for (const v of order) if (owner[v] >= 0 && !rename.has(owner[v])) rename.set(owner[v], rename.size);
  const renamed = owner.map((w) => (w < 0 ? -1 : (rename.get(w) as number)));
  const nodesOf: number[][] = Array.from({ length: rename.size }, () => []);
  for (const v of order) if (renamed[v] >= 0) nodesOf[renamed[v]].push(v);
  return { kind, workers: rename.size, nodesOf, owner: renamed, costUs, predictedFrameUs: maxWorkerLoad(renamed, costUs), predictedLatencyUs: simulateFrame(net, delays, renamed, costUs, order) };
}

/** Every computed node on a worker of its own. */
export function onePerLayer(net: Network, delays: readonly number[], costUs: readonly number[]): Placement {
  let next = 0;
  return finish(net, delays, 'one-per-layer', net.nodes.map((n) => (n.isInput ? -1 : next++)), costUs);
}

/**
 * Cost-balanced groups on `workers` workers, minimising the slowest worker's time per frame
 * (then the one-frame latency, then the edges between workers): longest node first onto the
 * least-loaded worker, then single moves and pairwise swaps while that improves.
 */
export function balanced(net: Network, delays: readonly number[], workers: number, costUs: readonly number[]): Placement {
  const computed = net.nodes.filter((n) => !n.isInput).map((n) => n.index);
  const order = frameOrder(net, delays);
  // Among groupings that predict the same frame time, prefer fewer edges between workers:
  // every such edge couples two workers frame by frame (measured: a chain split into two
  // contiguous halves runs ~5% faster than split alternately).
  const owner = net.nodes.map(() => -1);
  const cutCost = 0.01 * (computed.reduce((sum, v) => sum + costUs[v], 0) / Math.max(1, computed.length));
  const cuts = (): number => net.edges.reduce((n, e) => n + (owner[e.from] >= 0 && owner[e.from] !== owner[e.to] ? 1 : 0), 0);
  const objective = (): number => maxWorkerLoad(owner, costUs) + 0.01 * simulateFrame(net, delays, owner, costUs, order) + cutCost * cuts();
  const load = new Array<number>(workers).fill(0);
  for (const v of [...computed].sort((a, b) => costUs[b] - costUs[a] || a - b)) {
    let best = 0;
    for (let w = 1; w < workers; w++) if (load[w] < load[best]) best = w;
    owner[v] = best;
    load[best] += costUs[v];
  }
  let current = objective();
  for (let round = 0; round < 100; round++) {
    let improved = false;
    for (const v of computed) {
      for (let w = 0; w < workers; w++) {
        if (w === owner[v]) continue;
        const was = owner[v];
        owner[v] = w;
        const t = objective();
        if (t < current - 1e-9) {
          current = t;
          improved = true;
        } else {
          owner[v] = was;
        }
      }
    }
    for (const a of computed) {
      for (const b of computed) {
        if (b <= a || owner[a] === owner[b]) continue;
        [owner[a], owner[b]] = [owner[b], owner[a]];
        const t = objective();
        if (t < current - 1e-9) {
          current = t;
          improved = true;
        } else {
          [owner[a], owner[b]] = [owner[b], owner[a]];
        }
      }
    }
    if (!improved) break;
  }
  return finish(net, delays, 'balanced', owner, costUs);
}

/**
 * The best assignment of computed nodes to at most `workers` workers (smallest slowest-worker
 * load, latency breaking ties) by exhaustive search
 * (workers numbered by first use, so each grouping is tried once). Exponential: for
 * checking the heuristic on small networks, not for use at run time.
 */
export function exhaustiveBest(net: Network, delays: readonly number[], workers: number, costUs: readonly number[]): Placement {
  const computed = net.nodes.filter((n) => !n.isInput).map((n) => n.index);
  const order = frameOrder(net, delays);
  const owner = net.nodes.map(() => -1);
  let best = Infinity;
  let bestOwner = [...owner];
  const assign = (i: number, used: number): void => {
    if (i === computed.length) {
      const t = maxWorkerLoad(owner, costUs) + 0.01 * simulateFrame(net, delays, owner, costUs, order);
      if (t < best) {
        best = t;
        bestOwner = [...owner];
      }
      return;
    }
    for (let w = 0; w < Math.min(used + 1, workers); w++) {
      owner[computed[i]] = w;
      assign(i + 1, Math.max(used, w + 1));
    }
  };
  assign(0, 0);
  return finish(net, delays, 'balanced', bestOwner, costUs);
}

/** Checks and applies an explicit mapping; errors name the node or worker at fault. */
export function explicitPlacement(net: Network, delays: readonly number[], mapping: PlacementMapping, costUs: readonly number[]): Placement {
  const owner = net.nodes.map(() => -1);
  const seen = new Set<string>();
  const place = (name: string, w: number): void => {
    if (!net.hasNode(name)) throw new Error(`placement: unknown node "${name}" (nodes: ${net.nodes.map((n) => n.name).join(', ')})`);
    const node = net.node(name);
    if (node.isInput) throw new Error(`placement: node "${name}" is an input; inputs are written by the main thread, not placed`);
    if (seen.has(name)) throw new Error(`placement: node "${name}" is placed twice`);
    if (!Number.isInteger(w) || w < 0) throw new Error(`placement: worker of node "${name}" must be an integer >= 0, got ${w}`);
    seen.add(name);
    owner[node.index] = w;
  };
  if (Array.isArray(mapping)) (mapping as readonly (readonly string[])[]).forEach((names, w) => names.forEach((name) => place(name, w)));
  else for (const [name, w] of Object.entries(mapping as Readonly<Record<string, number>>)) place(name, w);
  const missing = net.nodes.filter((n) => !n.isInput && owner[n.index] < 0).map((n) => n.name);
  if (missing.length > 0) throw new Error(`placement: no worker for node${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}`);
  return finish(net, delays, 'explicit', owner, costUs);
}

/**
 * The placement for a run: an explicit mapping as given; `one-per-layer` when asked or when
 * there are at least as many workers as computed nodes; otherwise balanced groups.
 */
export function choosePlacement(net: Network, delays: readonly number[], option: PlacementOption, workers: number, costUs: readonly number[]): Placement {
  if (option !== 'auto' && option !== 'one-per-layer') return explicitPlacement(net, delays, option, costUs);
  const computed = net.nodes.filter((n) => !n.isInput).length;
  if (option === 'one-per-layer' || workers >= computed) return onePerLayer(net, delays, costUs);
  return balanced(net, delays, workers, costUs);
}

/**
 * Per-frame cost of coordinating more than one worker (barrier wake-ups, states crossing
 * cores), measured on the development VM (bench:engine's frame protocol figures, 4-25 µs).
 * Used only to decide whether splitting a network pays at all.
 */
export const MULTI_WORKER_OVERHEAD_US = 20;

/**
 * The worker count (1..maxWorkers) whose placement predicts the shortest frame, counting
 * {@link MULTI_WORKER_OVERHEAD_US} for any count above one: tiny networks stay on one
 * worker, where parallelism would cost more than it saves.
 */
export function chooseWorkerCount(net: Network, delays: readonly number[], maxWorkers: number, costUs: readonly number[]): number {
  let best = 1;
  let bestUs = Infinity;
  for (let w = 1; w <= maxWorkers; w++) {
    const p = choosePlacement(net, delays, 'auto', w, costUs);
    const us = p.predictedFrameUs + (p.workers > 1 ? MULTI_WORKER_OVERHEAD_US : 0);
    if (us < bestUs - 1e-9) {
      best = w;
      bestUs = us;
    }
  }
  return best;
}
