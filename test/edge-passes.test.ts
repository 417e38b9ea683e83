import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Network } from '../src/graph/network.js';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import type { NodeSpec } from '../src/graph/spec.js';
import { nativeAvailable } from '../src/kernels/backends.js';
import type { EdgeKernel, EdgePass } from '../src/kernels/kernel.js';
import { getBackend } from '../src/kernels/registry.js';
import { Random } from '../src/util/random.js';
import { sameBits } from './helpers/numeric.js';

const skip = !nativeAvailable() && 'native kernels not built';

/** Every edge of `net` (into its last node) bound on a fresh native memory, with views to compute in. */
function bound(net: Network) {
  const backend = getBackend('native');
  const params = initParameters(net, { seed: 5, bias: 'uniform' });
  const memory = backend.createMemory(64 << 20);
  let at = backend.reservedBytes;
  const take = (n: number): Float32Array => {
    const view = new Float32Array(memory.buffer, at, n);
    at += Math.ceil((n * 4) / 64) * 64;
    return view;
  };
  const rng = new Random(17);
  const fill = (n: number): Float32Array => {
    const view = take(n);
    for (let i = 0; i < n; i++) view[i] = rng.uniform(-1, 1);
    return view;
  };
  const kernels = backend.bind(memory);
  const edges = net.edges.map((e) => {
    const packed = take(backend.packedSize(e.geometry));
    backend.pack(e.geometry, params.weights[e.index], packed);
    return kernels.edgeKernel(e.geometry, packed);
  });
  return { kernels, edges, take, fill };
}

/**
 * The node's sum for `streams` streams three ways: zeroing, adding every edge and the
 * activation pass (the reference); its edges' passes one stream at a time; and batched.
 */
function check(net: Network, streams: number, what: string): void {
  const { kernels, edges, take, fill } = bound(net);
  const target = net.nodes[net.nodes.length - 1];
  const sources = net.edges.map((e) => Array.from({ length: streams }, () => fill(net.nodes[e.from].size)));
  const bias = fill(target.size);
  const outs = () => Array.from({ length: streams }, () => take(target.size));
  const [want, one, many] = [outs(), outs(), outs()];
  const activation = kernels.activationKernel(target.activation, target.shape);
  const n = edges.length;
  const only = n === 1 ? edges[0].pass?.('only', target.activation) : undefined;
  const first = n > 1 ? edges[0].pass?.('first', target.activation) : undefined;
  const last = n > 1 ? edges[n - 1].pass?.('last', target.activation) : undefined;
  assert.ok(n === 1 ? only?.runBatch !== undefined : first?.runBatch !== undefined && last?.runBatch !== undefined, `${what}: batched passes`);
  const middle = (e: EdgeKernel, i: number, dsts: Float32Array[], batch: boolean): void => {
    if (batch && e.runBatch !== undefined) e.runBatch(sources[i], dsts);
    else for (let s = 0; s < streams; s++) e.run(sources[i][s], dsts[s]);
  };
  for (let s = 0; s < streams; s++) {
    kernels.zero(want[s]);
    edges.forEach((e, i) => e.run(sources[i][s], want[s]));
    activation.run(want[s], bias);
  }
  const passes = (dsts: Float32Array[], batch: boolean): void => {
    const run = (p: EdgePass, i: number): void => {
      if (batch) p.runBatch?.(sources[i], dsts, bias);
      else for (let s = 0; s < streams; s++) p.run(sources[i][s], dsts[s], bias);
    };
    if (only !== undefined) return run(only, 0);
    run(first as EdgePass, 0);
    for (let i = 1; i < n - 1; i++) middle(edges[i], i, dsts, batch);
    run(last as EdgePass, n - 1);
  };
  passes(one, false);
  passes(many, true);
  for (let s = 0; s < streams; s++) {
    assert.ok(sameBits(one[s], want[s]), `${what}: stream ${s} one by one`);
    assert.ok(sameBits(many[s], want[s]), `${what}: stream ${s} batched`);
  }
  if (target.activation === 'relu') assert.ok(want[0].some((v) => v === 0) && want[0].some((v) => v > 0), `${what}: the ReLU both clips and passes`);
}

function net(inputs: readonly NodeSpec[], target: NodeSpec, op: 'dense' | 'conv3' | 'conv1'): Network {
  const ops = { dense: { type: 'dense' }, conv3: { type: 'conv2d', kernel: 3, padding: 'same' }, conv1: { type: 'conv2d', kernel: 1, padding: 'same' } } as const;
  return validateNetwork({
    name: 'passes',
    nodes: [...inputs, target],
    // A 1x1 convolution (the direct kernel) in the middle of several 3x3 (Winograd) ones.
    edges: inputs.map((n, i) => ({ from: n.name, to: target.name, op: op === 'conv3' && i === 1 && inputs.length > 2 ? ops.conv1 : ops[op] })),
    outputs: [target.name],
  });
}

test('edge passes give the bits of zeroing, adding and the activation pass, one stream or a batch: dense (8, 4, 3, 2 and single streams a weight load) and Winograd F(2x2) and F(4x4)', {
  skip,
}, () => {
  for (const activation of ['relu', 'linear'] as const) {
    for (const inputs of [1, 3]) {
      const vectors = Array.from({ length: inputs }, (_, i): NodeSpec => ({ name: `x${i}`, shape: [37 + 16 * i] }));
      // Batches of 8 + 4 + 1, 8 + 4 + 2, 8 + 4 + 3 and 4 + 3 streams.
      for (const streams of [13, 14, 15, 7]) check(net(vectors, { name: 'y', shape: [19], activation }, 'dense'), streams, `dense, ${inputs} inputs, ${streams} streams, ${activation}`);
      for (const tile of ['2', '4'] as const) {
        process.env.STREAMROLL_WINOGRAD = tile;
        try {
          const maps = Array.from({ length: inputs }, (_, i): NodeSpec => ({ name: `x${i}`, shape: [16 * (i + 1), 8, 8] }));
          check(net(maps, { name: 'y', shape: [16, 8, 8], activation }, 'conv3'), 3, `Winograd F(${tile}x${tile}), ${inputs} inputs, ${activation}`);
        } finally {
          delete process.env.STREAMROLL_WINOGRAD;
        }
      }
    }
  }
});

test('pooling passes give the bits of zeroing, adding and the activation pass: max and average, channel tails, windows cut by padding', { skip }, () => {
  const ops = [
    { type: 'maxpool', kernel: 2 },
    { type: 'avgpool', kernel: 3, stride: 2, padding: 'same' },
    { type: 'maxpool', kernel: 3, stride: 2, padding: 'same' },
  ] as const;
  for (const activation of ['relu', 'linear'] as const) {
    for (const inputs of [1, 2, 3]) {
      for (const op of ops) {
        for (const channels of [16, 20, 3]) {
          const side = op.kernel === 2 ? 4 : 5;
          const maps = Array.from({ length: inputs }, (_, i): NodeSpec => ({ name: `x${i}`, shape: [channels, 2 * side + (op.kernel === 2 ? 0 : -1), 2 * side + (op.kernel === 2 ? 0 : -1)] }));
          const pooled = validateNetwork({
            name: 'pool-passes',
            nodes: [...maps, { name: 'y', shape: [channels, side, side], activation }],
            edges: maps.map((m) => ({ from: m.name, to: 'y', op })),
            outputs: ['y'],
          });
          check(pooled, 5, `${op.type} ${op.kernel}x${op.kernel}, ${channels} channels, ${inputs} inputs, ${activation}`);
        }
      }
    }
  }
});

test('direct convolution passes give the bits of zeroing, adding and the activation pass: 3-channel images, strides, 24 and 40 output channels (vector tails)', { skip }, () => {
  const ops = [
    { type: 'conv2d', kernel: 3, padding: 'same' },
    { type: 'conv2d', kernel: 7, stride: 4, padding: 'same' },
    { type: 'conv2d', kernel: 1, padding: 'same' },
  ] as const;
  for (const activation of ['relu', 'linear'] as const) {
    for (const inputs of [1, 3]) {
      for (const op of ops) {
        for (const channels of [16, 24, 40]) {
          const side = op.kernel === 7 ? 3 : 9;
          // Three channels in: never Winograd, so every edge runs the direct kernel.
          const maps = Array.from({ length: inputs }, (_, i): NodeSpec => ({ name: `x${i}`, shape: [3 + i, 9, 9] }));
          const conv = validateNetwork({
            name: 'conv-passes',
            nodes: [...maps, { name: 'y', shape: [channels, side, side], activation }],
            edges: maps.map((m) => ({ from: m.name, to: 'y', op })),
            outputs: ['y'],
          });
          check(conv, 5, `conv ${op.kernel}x${op.kernel}, ${channels} channels, ${inputs} inputs, ${activation}`);
        }
      }
    }
  }
});
