import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Conv2dGeometry } from '../src/graph/geometry.js';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { Runtime } from '../src/engine/runtime.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { nativeAvailable } from '../src/kernels/backends.js';
import { WINOGRAD4_MIN_SIDE, winogradFits, winogradTile } from '../src/kernels/native/index.js';
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

test('Winograd is chosen only for 3x3 stride-1 convs with channels in multiples of 16; F(4x4,3x3) for outputs of 7x7 and more', { skip }, () => {
  const g = (over: Partial<Conv2dGeometry>): Conv2dGeometry => ({ ...(conv(16, 32, 8, 8, 'same').edges[0].geometry as Conv2dGeometry), ...over });
  assert.equal(winogradFits(g({})), true);
  assert.equal(WINOGRAD4_MIN_SIDE, 7);
  assert.equal(winogradTile(g({})), 4);
  assert.equal(winogradTile(g({ outH: 7, outW: 7 })), 4);
  assert.equal(winogradTile(g({ outH: 6 })), 2);
  assert.equal(winogradTile(g({ outW: 4 })), 2);
  assert.equal(winogradTile(g({ inC: 12 })), 0);
  assert.equal(winogradFits(g({ sh: 2, sw: 2 })), false);
  assert.equal(winogradFits(g({ inC: 12 })), false);
  assert.equal(winogradFits(g({ outC: 24 })), false);
  assert.equal(winogradFits(g({ outH: 3 })), false);
  assert.equal(winogradFits(g({ kh: 5, kw: 5 })), false);
});

/** Runs `f` with every 3x3 convolution forced to one Winograd variant (workers created inside inherit it). */
async function forced<T>(tile: '2' | '4', f: () => Promise<T>): Promise<T> {
  process.env.STREAMROLL_WINOGRAD = tile;
  try {
    return await f();
  } finally {
    delete process.env.STREAMROLL_WINOGRAD;
  }
}

for (const tile of ['2', '4'] as const) {
  test(
    `Winograd F(${tile}x${tile},3x3) convs match the reference kernels to 1e-4 of the output's scale (same, valid, wide padding, odd sizes, partial tiles) and the engine matches the executor bit for bit`,
    { skip },
    (t) =>
      forced(tile, async () => {
        const worst = await winogradCases(Number(tile) as 2 | 4);
        t.diagnostic(`F(${tile}x${tile},3x3): largest error ${worst.toExponential(2)} of the output's scale`);
        assert.ok(worst < 1e-4, `largest error ${worst} of the output's scale`);
      }),
  );
}

async function winogradCases(tile: 2 | 4): Promise<number> {
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
    [16, 16, 32, 32, 'same', 'relu'],
    [64, 16, 13, 11, 'same', 'linear'],
    [128, 32, 10, 10, 'valid', 'relu'],
  ] as const) {
    const net = conv(inC, outC, H, W, padding, activation);
    // Every case runs as the variant under test, whatever its size would choose.
    assert.equal(winogradTile(net.edges[0].geometry as Conv2dGeometry), tile);
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
  return worst;
}
