import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateNetwork, type Network } from '../src/graph/network.js';
import { balanced, maxWorkerLoad, predictFramePeriod } from '../src/engine/placement.js';
import { frameOrder } from '../src/rollout/validity.js';
import { sequentialDelays, streamingDelays } from '../src/rollout/pattern.js';
import { Random } from '../src/util/random.js';
import { netParams, randomNetwork, randomValidDelays } from './helpers/random-network.js';

/** A chain of `layers` dense layers of 8 units after one input. */
function chain(layers: number): Network {
  const names = Array.from({ length: layers }, (_, i) => `l${i + 1}`);
  return validateNetwork({
    name: `chain-${layers}`,
    nodes: [{ name: 'x', shape: [8] }, ...names.map((name) => ({ name, shape: [8] as [number] }))],
    edges: names.map((to, i) => ({ from: i === 0 ? 'x' : names[i - 1], to, op: { type: 'dense' as const } })),
    outputs: [names[layers - 1]],
  });
}

const unitCosts = (net: Network): number[] => net.nodes.map((n) => (n.isInput ? 0 : 1));

test('frame period: between the slowest worker and doing everything on one, and the slowest worker exactly when workers form a pipeline', () => {
  fc.assert(
    fc.property(netParams(false, 9), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 4 }), (p, s, maxDelay, workers) => {
      const net = randomNetwork(p);
      const delays = randomValidDelays(net, s, maxDelay);
      const rng = new Random(s);
      const costs = net.nodes.map((n) => (n.isInput ? 0 : rng.uniform(1, 10)));
      const total = costs.reduce((a, b) => a + b, 0);
      const anyOwner = net.nodes.map((n) => (n.isInput ? -1 : rng.int(0, workers - 1)));
      const period = predictFramePeriod(net, delays, anyOwner, costs);
      assert.ok(period >= maxWorkerLoad(anyOwner, costs) - 1e-9 && period <= total + 1e-9, `${period} outside [load, ${total}]`);
      // Consecutive runs of the frame order: same-frame data only flows to later workers.
      const order = frameOrder(net, delays).filter((v) => !net.nodes[v].isInput);
      const piped = net.nodes.map(() => -1);
      order.forEach((v, i) => (piped[v] = Math.floor((i * workers) / order.length)));
      assert.ok(Math.abs(predictFramePeriod(net, delays, piped, costs) - maxWorkerLoad(piped, costs)) < 1e-9);
    }),
    { numRuns: 200 },
  );
});

test('frame period: a sequential chain split back and forth between two workers runs nearly like one worker', () => {
  const net = chain(8);
  const alternate = net.nodes.map((n, v) => (n.isInput ? -1 : v % 2));
  const period = predictFramePeriod(net, sequentialDelays(net), alternate, unitCosts(net));
  assert.equal(maxWorkerLoad(alternate, unitCosts(net)), 4);
  // Every layer waits for the one before it on the other worker; only a frame's first layer
  // overlaps the previous frame's last.
  assert.equal(period, 7);
  // Streaming, the same split overlaps fully.
  assert.equal(predictFramePeriod(net, streamingDelays(net), alternate, unitCosts(net)), 4);
});

test('balanced placement pipelines a sequential chain: consecutive layers per worker, period = slowest worker', () => {
  for (const [layers, workers] of [
    [16, 2],
    [16, 4],
    [12, 3],
    [9, 2],
  ] as const) {
    const net = chain(layers);
    const p = balanced(net, sequentialDelays(net), workers, unitCosts(net));
    assert.equal(p.workers, workers);
    for (const [w, nodes] of p.nodesOf.entries()) {
      const idx = nodes.map((v) => v - 1).sort((a, b) => a - b);
      assert.equal(idx[idx.length - 1] - idx[0] + 1, idx.length, `worker ${w} got ${JSON.stringify(idx)}: not consecutive layers`);
    }
    assert.equal(p.predictedFrameUs, Math.ceil(layers / workers));
  }
});
