import { IssueList, show } from '../graph/errors.js';
import { LIMITS } from '../graph/limits.js';
import type { Network } from '../graph/network.js';
import { StreamrollError } from '../util/errors.js';

/**
 * The named rollouts: `streaming` and `sequential` (docs/semantics.md), and `pipelined`
 * (feedforward networks: every edge out of a computed node delayed, shortcut edges delayed
 * more, so each output answers its input of d ticks before exactly as the original network
 * does, with every layer computing at once).
 */
export type RolloutPreset = 'streaming' | 'sequential' | 'pipelined';

/**
 * A rollout pattern file: `{"default": 1, "edges": {"image->h1": 0}}`. Each delay is an
 * integer >= 0: 0 keeps the edge inside a frame, r >= 1 reads the source r frames back.
 */
export interface RolloutPattern {
  /** Delay of every edge not listed; 1 when omitted. */
  readonly default?: number;
  readonly edges?: Readonly<Record<string, number>>;
}

/** What callers pass to choose a rollout. */
export type RolloutSpec = RolloutPreset | RolloutPattern;

/** A rollout resolved against one network: a delay R(e) for every edge, by edge index. */
export interface Rollout {
  /** `streaming`, `sequential`, or `pattern` for anything given per edge. */
  readonly kind: RolloutPreset | 'pattern';
  readonly delays: readonly number[];
}

const isDelay = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= LIMITS.delay;
const delayWanted = (v: unknown): string =>
  typeof v === 'number' && Number.isInteger(v) && v > LIMITS.delay
    ? `delay ${show(v)} is over the limit of ${LIMITS.delay} frames (each node keeps its delay + 1 states)`
    : `delay must be an integer >= 0, found ${show(v)}`;

/** R == 1 on every edge. */
export function streamingDelays(net: Network): number[] {
  return net.edges.map(() => 1);
}

/**
 * R = 1 on feedback edges (the target does not come after the source in the spec's node
 * order, self-loops included), R = 0 on all others.
 */
export function sequentialDelays(net: Network): number[] {
  return net.edges.map((e) => (e.to <= e.from ? 1 : 0));
}

/**
 * The fully model-parallel pattern with the least latency: R = 0 on edges out of input
 * nodes (inputs are given each frame, so this costs no parallelism), R = 1 elsewhere.
 */
export function fastestModelParallelDelays(net: Network): number[] {
  return net.edges.map((e) => (net.nodes[e.from].isInput ? 0 : 1));
}

/**
 * The pipelined rollout of a feedforward network: with L(input) = 0 and L(v) the largest
 * L(u) + (u is an input ? 0 : 1) over v's edges u -> v, every edge gets R = L(v) - L(u). Then
 * all of v's edges read frames of the same input tick, so v at tick k is the original
 * network's v on input k - L(v); edges out of computed nodes have R >= 1 (fully
 * model-parallel). Throws, naming a cycle, for a network with feedback.
 */
export function pipelinedDelays(net: Network): number[] {
  const indegree = net.nodes.map((n) => n.inEdges.length);
  const order: number[] = net.nodes.filter((n) => n.inEdges.length === 0).map((n) => n.index);
  for (let i = 0; i < order.length; i++) {
    for (const e of net.nodes[order[i]].outEdges) if (--indegree[net.edges[e].to] === 0) order.push(net.edges[e].to);
  }
  if (order.length < net.nodes.length) {
    const stuck = net.nodes.filter((n) => indegree[n.index] > 0).map((n) => n.name);
    throw new StreamrollError('ROLLOUT_INVALID', `the pipelined rollout needs a feedforward network; "${net.name}" has feedback through ${stuck.join(', ')} (use streaming, sequential or a pattern)`);
  }
  const level = net.nodes.map(() => 0);
  for (const v of order) {
    for (const e of net.nodes[v].inEdges) {
      const u = net.edges[e].from;
      level[v] = Math.max(level[v], level[u] + (net.nodes[u].isInput ? 0 : 1));
    }
  }
  return net.edges.map((e) => level[e.to] - level[e.from]);
}

/**
 * Resolves a preset name or a pattern object to per-edge delays. Throws a SpecError naming
 * each unknown edge id or bad delay. Validity (no cycle of R=0 edges) is checked separately.
 *
 * @param source a pattern file name for error messages
 */
export function resolveRollout(net: Network, spec: RolloutSpec | unknown, source?: string): Rollout {
  if (spec === 'streaming') return { kind: 'streaming', delays: streamingDelays(net) };
  if (spec === 'sequential') return { kind: 'sequential', delays: sequentialDelays(net) };
  if (spec === 'pipelined') return { kind: 'pipelined', delays: pipelinedDelays(net) };
  const issues = new IssueList();
  if (typeof spec === 'string') {
    issues.add('$', `unknown rollout ${show(spec)} (expected "streaming", "sequential", "pipelined" or a pattern {"default": 1, "edges": {...}})`);
    issues.throwIfAny('rollout pattern', source);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    issues.add('$', `expected a pattern object {"default": 1, "edges": {"<edge id>": delay}}, found ${show(spec)}`);
    issues.throwIfAny('rollout pattern', source);
  }
  const obj = spec as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (key !== 'default' && key !== 'edges') issues.add(key, 'unknown field (allowed: default, edges)');
  }
  let fallback = 1;
  if (obj.default !== undefined) {
    if (isDelay(obj.default)) fallback = obj.default;
    else issues.add('default', delayWanted(obj.default));
  }
  const delays = net.edges.map(() => fallback);
  if (obj.edges !== undefined) {
    if (typeof obj.edges !== 'object' || obj.edges === null || Array.isArray(obj.edges)) {
      issues.add('edges', `expected an object {"<edge id>": delay}, found ${show(obj.edges)}`);
    } else {
      for (const [id, r] of Object.entries(obj.edges as Record<string, unknown>)) {
        const path = `edges[${JSON.stringify(id)}]`;
        if (!net.hasEdge(id)) {
          issues.add(path, `unknown edge id (edges of "${net.name}": ${net.edges.map((e) => e.id).join(', ')})`);
        } else if (!isDelay(r)) {
          issues.add(path, delayWanted(r));
        } else {
          delays[net.edge(id).index] = r;
        }
      }
    }
  }
  issues.throwIfAny('rollout pattern', source);
  // A pattern that spells out a preset is that preset (model files store patterns).
  const same = (other: readonly number[]): boolean => other.every((r, i) => r === delays[i]);
  const pipelined = (): boolean => {
    try {
      return same(pipelinedDelays(net));
    } catch {
      return false;
    }
  };
  const kind = same(streamingDelays(net)) ? 'streaming' : same(sequentialDelays(net)) ? 'sequential' : pipelined() ? 'pipelined' : 'pattern';
  return { kind, delays };
}

/** The pattern as `{"<edge id>": r}` for every edge, as the analyze contract prints it. */
export function delaysByEdgeId(net: Network, delays: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of net.edges) out[e.id] = delays[e.index];
  return out;
}

/** A pattern object equivalent to `delays`, listing every edge (round-trips through {@link resolveRollout}). */
export function toPattern(net: Network, delays: readonly number[]): RolloutPattern {
  return { default: 1, edges: delaysByEdgeId(net, delays) };
}

/** A resolved {@link Rollout} as is, or a preset / pattern resolved against `net`. */
export function asRollout(net: Network, spec: RolloutSpec | Rollout): Rollout {
  if (typeof spec === 'object' && spec !== null && 'delays' in spec && Array.isArray(spec.delays)) {
    if (spec.delays.length !== net.edges.length) {
      throw new StreamrollError('ROLLOUT_INVALID', `rollout has ${spec.delays.length} delays; network "${net.name}" has ${net.edges.length} edges`);
    }
    const bad = spec.delays.findIndex((r) => !isDelay(r));
    if (bad >= 0) throw new RangeError(`edge "${net.edges[bad].id}": ${delayWanted(spec.delays[bad])}`);
    return spec;
  }
  return resolveRollout(net, spec);
}
