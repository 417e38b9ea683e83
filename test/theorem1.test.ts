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

/**
 * The rollout window built literally: instance (i, v) is connected when it is an input, or a
 * computed instance (i >= 1) with a connected predecessor (i - R(e), u); frame-0 non-input
 * instances are initial states. A fixed point over all instances at once.
 */
function connectedInstances(net: ReturnType<typeof randomNetwork>, delays: readonly number[], W: number): boolean[][] {
  const c = net.nodes.map((n) => Array.from({ length: W + 1 }, () => n.isInput));
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of net.edges) {
      for (let i = 1; i <= W; i++) {
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

test('firstResponseStep is the tableau at the first frame the window connects to an input (frame-0 hidden states are initial); that frame is max(1, d(o)) or d(o) + 1', () => {
  fc.assert(
    fc.property(netParams(), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 3 }), (p, s, maxDelay) => {
      const net = randomNetwork(p);
      const delays = randomValidDelays(net, s, maxDelay);
      const d = responseDelays(net, delays);
      const F = inferenceFactor(net, delays);
      const responses = outputResponses(net, delays, F);
      const W = Math.max(...d.filter(Number.isFinite)) + 3;
      const T = computeTableau(net, delays, W);
      const c = connectedInstances(net, delays, W);
      for (const o of net.outputs) {
        const r = responses.get(o);
        assert.ok(r !== undefined);
        assert.equal(r.delay, d[o]);
        const frames = c[o].map((yes, i) => (yes && i >= 1 ? i : Infinity));
        const first = Math.min(...frames.map((i) => (i === Infinity ? Infinity : T[o][i])));
        assert.equal(r.firstResponseStep, first);
        assert.ok(r.firstResponseFrame === Math.max(1, d[o]) || r.firstResponseFrame === d[o] + 1, `frame ${r.firstResponseFrame}, d ${d[o]}`);
        assert.equal(T[o][r.firstResponseFrame], first);
        assert.equal(r.responsePeriod, F);
      }
    }),
    RUNS,
  );
});
