import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpecError } from '../src/graph/errors.js';
import { validateNetwork } from '../src/graph/network.js';
import { resolveRollout, toPattern } from '../src/rollout/pattern.js';
import { RolloutCycleError, assertValidRollout, frameOrder } from '../src/rollout/validity.js';

const net = validateNetwork({
  name: 'chain',
  nodes: [
    { name: 'x', shape: [2] },
    { name: 'a', shape: [2] },
    { name: 'b', shape: [2] },
    { name: 'c', shape: [2] },
  ],
  edges: [
    { from: 'x', to: 'a', op: { type: 'dense' } },
    { from: 'a', to: 'b', op: { type: 'dense' } },
    { from: 'b', to: 'c', op: { type: 'dense' } },
    { from: 'c', to: 'a', op: { type: 'dense' } },
    { from: 'b', to: 'b', op: { type: 'dense' } },
  ],
  outputs: ['c'],
});

test('sequential: feedback edges (target not after source in node order, self-loops too) get R=1, others 0', () => {
  assert.deepEqual([...resolveRollout(net, 'sequential').delays], [0, 0, 0, 1, 1]);
  assert.deepEqual([...resolveRollout(net, 'streaming').delays], [1, 1, 1, 1, 1]);
});

test('pattern files: default, per-edge delays including >= 2, and a round trip through toPattern', () => {
  const r = resolveRollout(net, { default: 2, edges: { 'x->a': 0, 'b->b': 1 } });
  assert.equal(r.kind, 'pattern');
  assert.deepEqual([...r.delays], [0, 2, 2, 2, 1]);
  assert.deepEqual([...resolveRollout(net, toPattern(net, r.delays)).delays], [...r.delays]);
  assert.deepEqual([...resolveRollout(net, {}).delays], [1, 1, 1, 1, 1]);
});

test('bad patterns name the edge id or field', () => {
  const issues = (spec: unknown): string[] => {
    try {
      resolveRollout(net, spec, 'p.json');
    } catch (err) {
      assert.ok(err instanceof SpecError);
      assert.match(err.message, /^p\.json: invalid rollout pattern/);
      return err.issues.map((i) => `${i.path}: ${i.message}`);
    }
    return [];
  };
  assert.match(issues({ edges: { 'x->q': 0 } })[0], /^edges\["x->q"\]: unknown edge id/);
  assert.match(issues({ edges: { 'a->b': -1 } })[0], /^edges\["a->b"\]: delay must be an integer >= 0, found -1/);
  assert.match(issues({ edges: { 'a->b': 0.5 } })[0], /found 0\.5/);
  assert.match(issues({ default: 'x' })[0], /^default: delay must be/);
  assert.match(issues({ delays: {} })[0], /^delays: unknown field/);
  assert.match(issues('diagonal')[0], /unknown rollout "diagonal"/);
});

test('an invalid pattern names one R=0 cycle; frame order puts R=0 sources first', () => {
  const bad = resolveRollout(net, { default: 0, edges: { 'b->b': 1 } });
  assert.throws(
    () => assertValidRollout(net, bad.delays),
    (err: unknown) => err instanceof RolloutCycleError && err.cycle.join(',') === 'a,b,c,a' && err.cycleEdges.join(',') === 'a->b,b->c,c->a',
  );
  const ok = resolveRollout(net, { default: 0, edges: { 'c->a': 1, 'b->b': 1 } });
  assert.deepEqual(frameOrder(net, ok.delays), [0, 1, 2, 3]);
  const reversed = resolveRollout(net, { default: 1, edges: { 'c->a': 0 } });
  const order = frameOrder(net, reversed.delays);
  assert.ok(order.indexOf(3) < order.indexOf(1), 'c before a when c->a has R=0');
});
