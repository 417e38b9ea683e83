import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpecError, type SpecIssue } from '../src/graph/errors.js';
import { parseJsonText } from '../src/graph/json-text.js';
import { validateNetwork } from '../src/graph/network.js';
import type { NetworkSpec } from '../src/graph/spec.js';

type Mutable = { name: unknown; nodes: Record<string, unknown>[]; edges: Record<string, unknown>[]; outputs: unknown };

function base(): Mutable {
  return {
    name: 'net',
    nodes: [
      { name: 'image', shape: [1, 28, 28] },
      { name: 'h1', shape: [16, 14, 14], activation: 'relu' },
      { name: 'h2', shape: [32, 7, 7], activation: 'relu' },
      { name: 'out', shape: [10], activation: 'softmax' },
    ],
    edges: [
      { from: 'image', to: 'h1', op: { type: 'conv2d', kernel: 3, stride: 2, padding: 'same' } },
      { from: 'h1', to: 'h2', op: { type: 'conv2d', kernel: 3, stride: 2, padding: 'same' } },
      { from: 'h2', to: 'out', op: { type: 'dense' } },
    ],
    outputs: ['out'],
  };
}

/** The issues validateNetwork reports for a spec changed by `edit`. */
function issuesOf(edit: (s: Mutable) => void): readonly SpecIssue[] {
  const spec = base();
  edit(spec);
  try {
    validateNetwork(spec);
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected SpecError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('the spec was accepted');
}

function expectIssue(edit: (s: Mutable) => void, path: string, ...fragments: string[]): void {
  const issues = issuesOf(edit);
  const hit = issues.find((i) => i.path === path);
  assert.ok(hit !== undefined, `no issue at ${path}; got ${JSON.stringify(issues)}`);
  for (const f of fragments) assert.ok(hit.message.includes(f), `"${hit.message}" should mention ${f}`);
}

test('the base spec is valid and resolves shapes and weight layouts', () => {
  const net = validateNetwork(base());
  assert.deepEqual(net.edge('image->h1').weightShape, [16, 1, 3, 3]);
  assert.deepEqual(net.edge('h2->out').weightShape, [10, 32 * 7 * 7]);
  assert.deepEqual(net.inputs, [0]);
  assert.equal(net.node('h1').size, 16 * 14 * 14);
});

test('shape mismatch names the edge, op, source shape, expected and found target shape', () => {
  expectIssue((s) => (s.nodes[2].shape = [32, 8, 8]), 'edges[1]', 'edge "h1->h2" (conv2d kernel 3 stride 2 padding same): [16,14,14] -> expected target shape [C,7,7], node "h2" has [32,8,8]');
  expectIssue((s) => s.edges.push({ from: 'h1', to: 'h2', op: { type: 'maxpool', kernel: 2 }, name: 'pool' }), 'edges[3]', 'expected target shape [16,7,7]', '[32,7,7]');
  expectIssue((s) => s.edges.push({ from: 'h2', to: 'out', op: { type: 'identity' }, name: 'id' }), 'edges[3]', 'expected a target of 1568 elements', '[10]');
  expectIssue((s) => s.edges.push({ from: 'out', to: 'h2', op: { type: 'conv2d', kernel: 1 } }), 'edges[3]', 'needs a spatial source [C,H,W]', '[10]');
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: 40, padding: 'valid' }), 'edges[0]', 'does not fit input length 28');
});

test('unknown node in an edge, with the known names', () => {
  expectIssue((s) => (s.edges[1].to = 'h3'), 'edges[1].to', 'unknown node "h3"', 'image, h1, h2, out');
  expectIssue((s) => (s.edges[1].from = 'nope'), 'edges[1].from', 'unknown node "nope"');
});

test('duplicate node names point at both places', () => {
  expectIssue((s) => s.nodes.push({ name: 'h1', shape: [3] }), 'nodes[4].name', 'duplicate node name "h1"', 'nodes[1]');
});

test('two unnamed edges between the same pair ask for names; duplicate names are caught too', () => {
  expectIssue((s) => s.edges.push({ from: 'h2', to: 'out', op: { type: 'dense' } }), 'edges[3]', 'second unnamed edge "h2->out"', 'edges[2]', '"name"');
  expectIssue((s) => s.edges.push({ from: 'h1', to: 'out', op: { type: 'dense' }, name: 'h2->out' }), 'edges[3].name', 'duplicate edge id "h2->out"');
  // Named parallel edges are fine.
  const spec = base();
  spec.edges.push({ from: 'h2', to: 'out', op: { type: 'dense' }, name: 'second' });
  assert.equal(validateNetwork(spec).edges.length, 4);
});

test('unsupported op and activation list what is supported', () => {
  expectIssue((s) => (s.edges[2].op = { type: 'deconv' }), 'edges[2].op.type', 'unsupported op "deconv"', 'dense, conv2d, maxpool, avgpool, identity');
  expectIssue(
    (s) => (s.nodes[1].activation = 'gelu'),
    'nodes[1].activation',
    'unsupported activation "gelu"',
    'relu, relu6, leaky_relu, elu, tanh, sigmoid, hard_sigmoid, hard_swish, softmax, linear',
  );
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: 3, kernal: 3 }), 'edges[0].op.kernal', 'unknown field', 'dilation');
  expectIssue((s) => (s.nodes[0].activation = 'relu'), 'nodes[0].activation', 'is an input');
});

test('non-positive or non-integer sizes are rejected at their exact path', () => {
  expectIssue((s) => (s.nodes[1].shape = [16, 0, 14]), 'nodes[1].shape[1]', 'positive integer', 'found 0');
  expectIssue((s) => (s.nodes[3].shape = [2.5]), 'nodes[3].shape[0]', 'found 2.5');
  expectIssue((s) => (s.nodes[3].shape = [2, 3]), 'nodes[3].shape', 'expected [n] or [C,H,W]');
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: -1 }), 'edges[0].op.kernel', 'found -1');
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: 3, stride: [2, 0] }), 'edges[0].op.stride[1]', 'found 0');
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: 3, dilation: 1.5 }), 'edges[0].op.dilation', 'found 1.5');
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: 3, padding: -2 }), 'edges[0].op.padding', 'non-negative integer');
});

test('activation parameters, groups and uneven padding are checked where they are given', () => {
  expectIssue((s) => Object.assign(s.nodes[1], { alpha: 0.3 }), 'nodes[1].alpha', 'activation "relu" takes no alpha (only leaky_relu, elu, hard_sigmoid do)');
  expectIssue((s) => Object.assign(s.nodes[1], { activation: 'leaky_relu', beta: 1 }), 'nodes[1].beta', 'takes no beta (only hard_sigmoid does)');
  expectIssue((s) => Object.assign(s.nodes[1], { activation: 'elu', alpha: 'big' }), 'nodes[1].alpha', 'expected a finite number, found "big"');
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: 3, groups: 0 }), 'edges[0].op.groups', 'positive integer');
  // 1 input channel and 16 output channels: 3 groups divide neither.
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: 3, stride: 2, groups: 3 }), 'edges[0]', "groups 3 must divide the source's 1 channels and the target's 16");
  expectIssue((s) => (s.edges[0].op = { type: 'conv2d', kernel: 3, padding: [1, 1, 1] }), 'edges[0].op.padding', '[top, bottom, left, right]');
  // Uneven padding that yields the right size is accepted: 28 + 0 + 1 - 3 = 26, /2 + 1 = 14.
  const spec = base();
  spec.edges[0].op = { type: 'conv2d', kernel: 3, stride: 2, padding: [0, 1, 0, 1] };
  Object.assign(spec.nodes[1], { activation: 'hard_sigmoid', alpha: 1 / 6, beta: 0.5 });
  const net = validateNetwork(spec);
  const g = net.edge('image->h1').geometry;
  assert.deepEqual([g.type === 'conv2d' ? [g.padTop, g.padLeft, g.outH] : null, net.node('h1').activationParams], [[0, 0, 14], { alpha: 1 / 6, beta: 0.5 }]);
});

test('a node not reachable from any input is named, with the inputs', () => {
  expectIssue(
    (s) => {
      s.nodes.push({ name: 'island', shape: [4] });
      s.edges.push({ from: 'island', to: 'island', op: { type: 'dense' } });
    },
    'nodes[4]',
    'node "island" is not reachable from any input node (inputs: image)',
  );
});

test('missing or unknown outputs', () => {
  expectIssue((s) => (s.outputs = undefined), 'outputs', 'missing');
  expectIssue((s) => (s.outputs = []), 'outputs', 'missing');
  expectIssue((s) => (s.outputs = ['out', 'pred']), 'outputs[1]', 'unknown node "pred"');
  expectIssue((s) => (s.outputs = ['image']), 'outputs[0]', 'is an input node');
});

test('several problems are reported together', () => {
  const issues = issuesOf((s) => {
    s.name = '';
    s.nodes[1].activation = 'gelu';
    s.edges[2].to = 'missing';
  });
  assert.deepEqual(issues.map((i) => i.path).sort(), ['edges[2].to', 'name', 'nodes[1].activation']);
});

test('malformed JSON says line and column', () => {
  const text = '{\n  "name": "x",\n  "nodes": [}\n}';
  try {
    parseJsonText(text, 'network spec', 'bad.json');
    assert.fail('accepted');
  } catch (err) {
    assert.ok(err instanceof SpecError);
    assert.match(err.message, /^bad\.json: invalid network spec/);
    assert.equal(err.issues[0].path, 'line 3 column 13');
    assert.match(err.issues[0].message, /malformed JSON/);
  }
  assert.throws(() => validateNetwork([1, 2]), /expected a network spec object/);
});

test('spec defaults: conv stride 1 padding same; pool stride = kernel, padding valid; activation linear', () => {
  const spec: NetworkSpec = {
    name: 'defaults',
    nodes: [
      { name: 'x', shape: [2, 9, 9] },
      { name: 'c', shape: [4, 9, 9] },
      { name: 'p', shape: [4, 3, 3] },
    ],
    edges: [
      { from: 'x', to: 'c', op: { type: 'conv2d', kernel: 3 } },
      { from: 'c', to: 'p', op: { type: 'avgpool', kernel: 3 } },
    ],
    outputs: ['p'],
  };
  const net = validateNetwork(spec);
  assert.equal(net.node('c').activation, 'linear');
  const g = net.edge('x->c').geometry;
  assert.ok(g.type === 'conv2d');
  assert.deepEqual([g.sh, g.sw, g.padTop, g.padLeft, g.outH, g.outW], [1, 1, 1, 1, 9, 9]);
  const p = net.edge('c->p').geometry;
  assert.ok(p.type === 'avgpool');
  assert.deepEqual([p.sh, p.padTop, p.outH], [3, 0, 3]);
});
