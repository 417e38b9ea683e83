import type { Network } from '../graph/network.js';
import { opOfGeometry } from '../graph/ops.js';
import { frameOrder } from '../rollout/validity.js';
import { StreamrollError } from '../util/errors.js';

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
   * Time per frame when running free (µs, synchronisation not included), see
   * {@link predictFramePeriod}: the slowest worker's load when the workers form a pipeline.
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

/**
 * Ring slots each computed node's state has beyond what its delays need, so that a producer
 * may run ahead of its consumers on other workers (the runtime plans its arena with it).
 */
export const RING_SLACK = 2;

/** Whether the edges of one frame (R = 0) between workers form a cycle among the workers. */
function workersInCycle(net: Network, delays: readonly number[], owner: readonly number[], workers: number): boolean {
  const next: Set<number>[] = Array.from({ length: workers }, () => new Set());
  net.edges.forEach((e, i) => {
    const a = owner[e.from];
    const b = owner[e.to];
    if (delays[i] === 0 && a >= 0 && b >= 0 && a !== b) next[a].add(b);
  });
  const state = new Array<number>(workers).fill(0); // 0 unseen, 1 on the path, 2 done
  const visit = (w: number): boolean => {
    state[w] = 1;
    for (const x of next[w]) if (state[x] === 1 || (state[x] === 0 && visit(x))) return true;
    state[w] = 2;
    return false;
  };
  for (let w = 0; w < workers; w++) if (state[w] === 0 && visit(w)) return true;
  return false;
}

/**
 * Predicted time per frame when running free (µs). If the same-frame (R = 0) edges between
 * workers only go one way, the workers form a pipeline and consecutive frames overlap: the
 * slowest worker's load. Otherwise data goes back and forth between workers inside a frame
 * and some worker waits every frame; the period then comes from simulating consecutive
 * frames the way the workers run them: each worker its nodes in frame order, frame after
 * frame, a node as soon as its worker is free, its producers on other workers have finished
 * frame k - R(e), and its consumers there are done with the ring slot frame k overwrites.
 */
export function predictFramePeriod(net: Network, delays: readonly number[], owner: readonly number[], costUs: readonly number[], order = frameOrder(net, delays)): number {
  const workers = Math.max(0, ...owner) + 1;
  const load = maxWorkerLoad(owner, costUs);
  if (!workersInCycle(net, delays, owner, workers)) return load;
  const n = net.nodes.length;
  const depth = net.nodes.map((node) => 1 + Math.max(1, ...node.outEdges.map((e) => delays[e])) + RING_SLACK);
  // Enough frames for the schedule to settle into its period; the second half is measured.
  const frames = 2 * workers + 6;
  const finish = new Float64Array(frames * n);
  const free = new Float64Array(workers);
  const last = new Float64Array(frames);
  for (let k = 0; k < frames; k++) {
    for (const v of order) {
      const w = owner[v];
      if (w < 0) continue;
      let start = free[w];
      for (const e of net.nodes[v].inEdges) {
        const u = net.edges[e].from;
        const f = k - delays[e];
        if (owner[u] >= 0 && owner[u] !== w && f >= 0) start = Math.max(start, finish[f * n + u]);
      }
      for (const e of net.nodes[v].outEdges) {
        const c = net.edges[e].to;
        const f = k - depth[v] + delays[e];
        if (owner[c] !== w && f >= 0) start = Math.max(start, finish[f * n + c]);
      }
      const end = start + costUs[v];
      finish[k * n + v] = end;
      free[w] = end;
      last[k] = Math.max(last[k], end);
    }
  }
  const half = frames >> 1;
  return Math.max(load, (last[frames - 1] - last[half - 1]) / (frames - half));
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
    flops += opOfGeometry(g).flops(g);
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
  return {
    kind,
    workers: rename.size,
    nodesOf,
    owner: renamed,
    costUs,
    predictedFrameUs: predictFramePeriod(net, delays, renamed, costUs, order),
    predictedLatencyUs: simulateFrame(net, delays, renamed, costUs, order),
  };
}

/** Every computed node on a worker of its own. */
export function onePerLayer(net: Network, delays: readonly number[], costUs: readonly number[]): Placement {
  let next = 0;
  return finish(
    net,
    delays,
    'one-per-layer',
    net.nodes.map((n) => (n.isInput ? -1 : next++)),
    costUs,
  );
}

/** Longest node first onto the least-loaded worker. */
function longestFirst(net: Network, computed: readonly number[], workers: number, costUs: readonly number[]): number[] {
  const owner = net.nodes.map(() => -1);
  const load = new Array<number>(workers).fill(0);
  for (const v of [...computed].sort((a, b) => costUs[b] - costUs[a] || a - b)) {
    let best = 0;
    for (let w = 1; w < workers; w++) if (load[w] < load[best]) best = w;
    owner[v] = best;
    load[best] += costUs[v];
  }
  return owner;
}

/**
 * The frame order cut into at most `workers` consecutive blocks with the smallest largest
 * block: every same-frame edge between workers then goes forward, so the workers pipeline.
 */
function contiguousBlocks(net: Network, order: readonly number[], workers: number, costUs: readonly number[]): number[] {
  const nodes = order.filter((v) => !net.nodes[v].isInput);
  const n = nodes.length;
  const prefix = [0];
  for (const v of nodes) prefix.push(prefix[prefix.length - 1] + costUs[v]);
  if (n > 400) return greedyBlocks(net, nodes, prefix, workers);
  // worst[j][i]: the smallest largest block when the first i nodes go to j workers; cut[j][i] where the last block starts.
  const worst = Array.from({ length: workers + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const cut = Array.from({ length: workers + 1 }, () => new Array<number>(n + 1).fill(0));
  worst[0][0] = 0;
  for (let j = 1; j <= workers; j++) {
    for (let i = 0; i <= n; i++) {
      for (let s = 0; s <= i; s++) {
        const t = Math.max(worst[j - 1][s], prefix[i] - prefix[s]);
        if (t < worst[j][i]) {
          worst[j][i] = t;
          cut[j][i] = s;
        }
      }
    }
  }
  const owner = net.nodes.map(() => -1);
  for (let j = workers, i = n; j > 0; j--) {
    const s = cut[j][i];
    for (let x = s; x < i; x++) owner[nodes[x]] = j - 1;
    i = s;
  }
  return owner;
}

/**
 * The same cut for long frame orders, in O(n log): the smallest largest block found by
 * bisecting on it, each candidate checked by filling blocks greedily (the exact table above
 * is quadratic in the nodes).
 */
function greedyBlocks(net: Network, nodes: readonly number[], prefix: readonly number[], workers: number): number[] {
  const n = nodes.length;
  const fits = (limit: number): number[] | null => {
    const starts = [0];
    for (let i = 0; i < n; i++) {
      if (prefix[i + 1] - prefix[starts[starts.length - 1]] > limit) {
        if (starts.length === workers) return null;
        starts.push(i);
      }
    }
    return starts;
  };
  let lo = 0;
  for (let i = 0; i < n; i++) lo = Math.max(lo, prefix[i + 1] - prefix[i]);
  let hi = prefix[n];
  for (let step = 0; step < 50 && hi - lo > 1e-9 * hi; step++) {
    const mid = (lo + hi) / 2;
    if (fits(mid) === null) lo = mid;
    else hi = mid;
  }
  const starts = fits(hi) ?? [0];
  const owner = net.nodes.map(() => -1);
  starts.forEach((s, j) => {
    const end = j + 1 < starts.length ? starts[j + 1] : n;
    for (let x = s; x < end; x++) owner[nodes[x]] = j;
  });
  return owner;
}

/** How long a placement search may take (ms): a network of thousands of nodes still starts in seconds. */
export const PLACEMENT_BUDGET_MS = 300;

/**
 * Cost-balanced groups on `workers` workers, minimising the predicted frame period (see
 * {@link predictFramePeriod}), then the one-frame latency, then the edges between workers:
 * single moves and pairwise swaps while that improves, started from two groupings (longest
 * node first onto the least-loaded worker; the frame order cut into balanced consecutive
 * blocks, a pipeline), keeping the better result.
 */
export function balanced(net: Network, delays: readonly number[], workers: number, costUs: readonly number[], deadline = performance.now() + PLACEMENT_BUDGET_MS): Placement {
  const computed = net.nodes.filter((n) => !n.isInput).map((n) => n.index);
  const order = frameOrder(net, delays);
  // Among groupings that predict the same frame time, prefer fewer edges between workers:
  // every such edge couples two workers frame by frame (measured: a chain split into two
  // contiguous halves runs ~5% faster than split alternately).
  const cutCost = 0.01 * (computed.reduce((sum, v) => sum + costUs[v], 0) / Math.max(1, computed.length));
  const objective = (owner: readonly number[]): number => {
    const cuts = net.edges.reduce((n, e) => n + (owner[e.from] >= 0 && owner[e.from] !== owner[e.to] ? 1 : 0), 0);
    return predictFramePeriod(net, delays, owner, costUs, order) + 0.01 * simulateFrame(net, delays, owner, costUs, order) + cutCost * cuts;
  };
  let best: number[] = [];
  let bestScore = Infinity;
  for (const owner of [longestFirst(net, computed, workers, costUs), contiguousBlocks(net, order, workers, costUs)]) {
    const score = improve(owner, computed, workers, objective, deadline);
    if (score < bestScore - 1e-9) {
      best = owner;
      bestScore = score;
    }
  }
  return finish(net, delays, 'balanced', best, costUs);
}

/**
 * Local search in place: single moves, then pairwise swaps, while the objective drops and
 * the deadline allows (the search is polynomial but not small: a long network stops at the
 * deadline with what it has, which starts from a good grouping anyway). Returns the final
 * objective.
 */
function improve(owner: number[], computed: readonly number[], workers: number, objective: (owner: readonly number[]) => number, deadline: number): number {
  let current = objective(owner);
  const late = (): boolean => performance.now() > deadline;
  for (let round = 0; round < 100 && !late(); round++) {
    let improved = false;
    for (const v of computed) {
      if (late()) return current;
      for (let w = 0; w < workers; w++) {
        if (w === owner[v]) continue;
        const was = owner[v];
        owner[v] = w;
        const t = objective(owner);
        if (t < current - 1e-9) {
          current = t;
          improved = true;
        } else {
          owner[v] = was;
        }
      }
    }
    for (const a of computed) {
      if (late()) return current;
      for (const b of computed) {
        if (b <= a || owner[a] === owner[b]) continue;
        [owner[a], owner[b]] = [owner[b], owner[a]];
        const t = objective(owner);
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
  return current;
}

/**
 * The best assignment of computed nodes to at most `workers` workers (smallest predicted
 * frame period, latency breaking ties) by exhaustive search
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
      const t = predictFramePeriod(net, delays, owner, costUs, order) + 0.01 * simulateFrame(net, delays, owner, costUs, order);
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
    if (!net.hasNode(name)) throw new StreamrollError('OPTION_INVALID', `placement: unknown node "${name}" (nodes: ${net.nodes.map((n) => n.name).join(', ')})`);
    const node = net.node(name);
    if (node.isInput) throw new StreamrollError('OPTION_INVALID', `placement: node "${name}" is an input; inputs are written by the main thread, not placed`);
    if (seen.has(name)) throw new StreamrollError('OPTION_INVALID', `placement: node "${name}" is placed twice`);
    if (!Number.isInteger(w) || w < 0) throw new StreamrollError('OPTION_INVALID', `placement: worker of node "${name}" must be an integer >= 0, got ${w}`);
    seen.add(name);
    owner[node.index] = w;
  };
  if (Array.isArray(mapping)) (mapping as readonly (readonly string[])[]).forEach((names, w) => names.forEach((name) => place(name, w)));
  else for (const [name, w] of Object.entries(mapping as Readonly<Record<string, number>>)) place(name, w);
  const missing = net.nodes.filter((n) => !n.isInput && owner[n.index] < 0).map((n) => n.name);
  if (missing.length > 0) throw new StreamrollError('OPTION_INVALID', `placement: no worker for node${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}`);
  return finish(net, delays, 'explicit', owner, costUs);
}

/**
 * The placement for a run: an explicit mapping as given; `one-per-layer` when asked or when
 * there are at least as many workers as computed nodes; otherwise balanced groups.
 */
export function choosePlacement(net: Network, delays: readonly number[], option: PlacementOption, workers: number, costUs: readonly number[], deadline?: number): Placement {
  if (option !== 'auto' && option !== 'one-per-layer') return explicitPlacement(net, delays, option, costUs);
  const computed = net.nodes.filter((n) => !n.isInput).length;
  if (option === 'one-per-layer' || workers >= computed) return onePerLayer(net, delays, costUs);
  return balanced(net, delays, workers, costUs, deadline);
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
  // One search budget for all counts together, shared out as they are tried.
  const until = performance.now() + PLACEMENT_BUDGET_MS;
  for (let w = 1; w <= maxWorkers; w++) {
    const p = choosePlacement(net, delays, 'auto', w, costUs, performance.now() + Math.max(5, (until - performance.now()) / (maxWorkers - w + 1)));
    const us = p.predictedFrameUs + (p.workers > 1 ? MULTI_WORKER_OVERHEAD_US : 0);
    if (us < bestUs - 1e-9) {
      best = w;
      bestUs = us;
    }
  }
  return best;
}
