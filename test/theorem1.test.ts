import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Network } from '../src/graph/network.js';
import { streamingDelays } from '../src/rollout/pattern.js';
import { outputResponses, responseDelays } from '../src/rollout/response.js';
import { computeTableau, inferenceFactor, isModelParallel } from '../src/rollout/tableau.js';
import { findZeroDelayCycle } from '../src/rollout/validity.js';
import { netParams, randomDelays, randomNetwork, randomValidDelays } from './helpers/random-network.js';

const RUNS = { numRuns: 300 };

/** Acyclicity of the rollout window {0..W} x V checked by brute force (Kahn's algorithm on the explicit window). */
function windowIsAcyclic(net: Network, delays: readonly number[], W: number): boolean {
  const V = net.nodes.length;
  const id = (i: number, v: number): number => i * V + v;
  const indegree = new Array<number>((W + 1) * V).fill(0);
  const succ: number[][] = Array.from({ length: (W + 1) * V }, () => []);
  for (let i = 0; i <= W; i++) {
    for (const e of net.edges) {
      const j = i + delays[e.index];
      if (j > W) continue;
      succ[id(i, e.from)].push(id(j, e.to));
      indegree[id(j, e.to)] += 1;
    }
  }
  const queue = indegree.flatMap((d, k) => (d === 0 ? [k] : []));
  let seen = 0;
  while (queue.length > 0) {
    const k = queue.pop() as number;
    seen++;
    for (const s of succ[k]) if (--indegree[s] === 0) queue.push(s);
  }
  return seen === (W + 1) * V;
}

/**
 * Longest path in the explicit rollout window ending at each (i, v), by memoised search:
 * an independent check of Eq. 4. Edges into frame 0 are ignored (its states are given) and,
 * as docs/semantics.md says, a source before frame 0 counts as its frame-0 instance.
 */
function windowLongestPaths(net: Network, delays: readonly number[], W: number): number[][] {
  const memo = net.nodes.map(() => new Array<number>(W + 1).fill(-1));
  const longest = (i: number, v: number): number => {
    if (memo[v][i] >= 0) return memo[v][i];
    let best = 0;
    if (i > 0) {
      for (const e of net.nodes[v].inEdges) {
        best = Math.max(best, 1 + longest(Math.max(i - delays[e], 0), net.edges[e].from));
      }
    }
    return (memo[v][i] = best);
  };
  return net.nodes.map((n) => Array.from({ length: W + 1 }, (_, i) => longest(i, n.index)));
}

test('the tableau equals the longest path in the rollout window (Eq. 4), for any delays', () => {
  fc.assert(
    fc.property(netParams(), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 3 }), (p, s, maxDelay) => {
      const net = randomNetwork(p);
      const delays = randomValidDelays(net, s, maxDelay);
      const W = 7;
      const T = computeTableau(net, delays, W);
      const L = windowLongestPaths(net, delays, W);
      for (const n of net.nodes) {
        for (let i = 0; i <= W; i++) {
          assert.equal(T[n.index][i], L[n.index][i], `T(${i},${n.name})`);
        }
      }
    }),
    RUNS,
  );
});

test('a pattern is valid iff its rollout window is acyclic; a reported cycle is a real R=0 cycle', () => {
  fc.assert(
    fc.property(netParams(), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 3 }), (p, s, maxDelay) => {
      const net = randomNetwork(p);
      const delays = randomDelays(net, s, maxDelay);
      const cycle = findZeroDelayCycle(net, delays);
      assert.equal(cycle === null, windowIsAcyclic(net, delays, maxDelay + 2));
      if (cycle !== null) {
        assert.equal(cycle.nodes[0], cycle.nodes[cycle.nodes.length - 1]);
        assert.equal(cycle.edges.length, cycle.nodes.length - 1);
        cycle.edges.forEach((eid, k) => {
          const e = net.edge(eid);
          assert.equal(delays[e.index], 0, `cycle edge ${eid} has R=0`);
          assert.equal(net.nodes[e.from].name, cycle.nodes[k]);
          assert.equal(net.nodes[e.to].name, cycle.nodes[k + 1]);
        });
      }
    }),
    RUNS,
  );
});

test('Theorem 1 (a)<=>(b): F(R) = 1 iff R is model-parallel, for valid patterns with any delays', () => {
  fc.assert(
    fc.property(netParams(), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 3 }), (p, s, maxDelay) => {
      const net = randomNetwork(p);
      const delays = randomValidDelays(net, s, maxDelay);
      assert.equal(inferenceFactor(net, delays) === 1, isModelParallel(net, delays));
    }),
    RUNS,
  );
});

test('Theorem 1 (c),(d): the streaming tableau is minimal at every node instance and T(i,v) <= i', () => {
  fc.assert(
    fc.property(netParams(), fc.integer({ min: 0, max: 1e9 }), (p, s) => {
      const net = randomNetwork(p);
      const W = 6;
      const delays = randomValidDelays(net, s, 1);
      const T = computeTableau(net, delays, W);
      const S = computeTableau(net, streamingDelays(net), W);
      for (const n of net.nodes) {
        for (let i = 0; i <= W; i++) {
          assert.ok(S[n.index][i] <= T[n.index][i], `streaming T(${i},${n.name}) = ${S[n.index][i]} > ${T[n.index][i]}`);
          assert.ok(S[n.index][i] <= i, `streaming frame ${i} is complete at step ${i}`);
        }
      }
      // (a)<=>(d): equally model-parallel patterns share the streaming tableau; others exceed it somewhere.
      const same = net.nodes.every((n) => T[n.index].every((t, i) => t === S[n.index][i]));
      assert.equal(same, isModelParallel(net, delays));
    }),
    RUNS,
  );
});

test('firstResponseStep is the tableau at the first frame connected to an input, max(1, d(o))', () => {
  fc.assert(
    fc.property(netParams(), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 3 }), (p, s, maxDelay) => {
      const net = randomNetwork(p);
      const delays = randomValidDelays(net, s, maxDelay);
      const d = responseDelays(net, delays);
      const F = inferenceFactor(net, delays);
      const responses = outputResponses(net, delays, F);
      const W = Math.max(...d.filter(Number.isFinite)) + 2;
      const T = computeTableau(net, delays, W);
      for (const o of net.outputs) {
        const r = responses.get(o);
        assert.ok(r !== undefined);
        assert.equal(r.delay, d[o]);
        assert.equal(r.firstResponseStep, T[o][Math.max(1, d[o])]);
        assert.equal(r.responsePeriod, F);
      }
    }),
    RUNS,
  );
});
