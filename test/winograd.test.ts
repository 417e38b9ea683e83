import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Conv2dGeometry } from '../src/graph/geometry.js';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { Runtime } from '../src/engine/runtime.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { nativeAvailable } from '../src/kernels/backends.js';
import { winogradFits } from '../src/kernels/native/index.js';
import { Random } from '../src/util/random.js';
import { sameBits } from './helpers/numeric.js';

const skip = !nativeAvailable() && 'native kernels not built';

function conv(inC: number, outC: number, H: number, W: number, padding: 'same' | 'valid' | number, activation: 'linear' | 'relu' | 'tanh' = 'linear') {
  const pad = padding === 'same' ? 1 : padding === 'valid' ? 0 : padding;
  return validateNetwork({
    name: 'c',
    nodes: [
      { name: 'x', shape: [inC, H, W] },
      { name: 'y', shape: [outC, H + 2 * pad - 2, W + 2 * pad - 2], activation },
    ],
    edges: [{ from: 'x', to: 'y', op: { type: 'conv2d', kernel: 3, padding } }],
    outputs: ['y'],
  });
}

test('Winograd F(2x2,3x3) is chosen only for 3x3 stride-1 convs with channels in multiples of 16', { skip }, () => {
  const g = (over: Partial<Conv2dGeometry>): Conv2dGeometry => ({ ...(conv(16, 32, 8, 8, 'same').edges[0].geometry as Conv2dGeometry), ...over });
  assert.equal(winogradFits(g({})), true);
  assert.equal(winogradFits(g({ sh: 2, sw: 2 })), false);
  assert.equal(winogradFits(g({ inC: 12 })), false);
  assert.equal(winogradFits(g({ outC: 24 })), false);
  assert.equal(winogradFits(g({ outH: 3 })), false);
  assert.equal(winogradFits(g({ kh: 5, kw: 5 })), false);
});

test('Winograd convs match the reference kernels to 1e-4 relative (same, valid, wide padding, odd sizes) and the engine matches the executor bit for bit', { skip }, async () => {
  let worst = 0;
  // A node whose only input is the conv has its bias and ReLU (or nothing) applied as the
  // tiles are written; tanh goes through the separate activation pass.
  for (const [inC, outC, H, W, padding, activation] of [
    [16, 32, 8, 8, 'same', 'relu'],
    [16, 16, 9, 7, 'same', 'relu'],
    [32, 48, 6, 6, 'same', 'linear'],
    [32, 32, 7, 9, 'same', 'tanh'],
    [16, 64, 6, 7, 'valid', 'relu'],
    [48, 32, 5, 6, 2, 'linear'],
  ] as const) {
    const net = conv(inC, outC, H, W, padding, activation);
    assert.ok(winogradFits(net.edges[0].geometry as Conv2dGeometry));
    const params = initParameters(net, { seed: 3, bias: 'uniform' });
    const rng = new Random(H * W + inC);
    const x = Float32Array.from({ length: inC * H * W }, () => rng.uniform(-1, 1));
    const want = new ReferenceExecutor(net, { default: 0 }, params, { backend: 'reference' }).step(x).y;
    const got = new ReferenceExecutor(net, { default: 0 }, params, { backend: 'native' }).step(x).y;
    const scale = Math.max(...want.map(Math.abs));
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
    const rt = await Runtime.create(net, { params, rollout: { default: 0 }, workers: 1 });
    try {
      assert.ok(sameBits((await rt.step(x)).y, got));
    } finally {
      await rt.close();
    }
  }
  assert.ok(worst < 1e-4, `largest error ${worst} of the output's scale`);
});
