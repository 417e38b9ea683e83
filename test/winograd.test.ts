import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Conv2dGeometry } from '../src/graph/geometry.js';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { Runtime } from '../src/engine/runtime.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { nativeAvailable } from '../src/kernels/backends.js';
import { getBackend } from '../src/kernels/registry.js';
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

test('a node of several inputs: its first Winograd edge writing in place of zeroing, and its last adding with bias and activation, give the bits of the separate passes, one stream or a batch', {
  skip,
}, () => {
  const backend = getBackend('native');
  for (const activation of ['relu', 'linear'] as const) {
    for (const tile of ['2', '4'] as const) {
      process.env.STREAMROLL_WINOGRAD = tile;
      try {
        const net = validateNetwork({
          name: 'sum',
          nodes: [
            { name: 'x', shape: [16, 8, 8] },
            { name: 'a', shape: [32, 8, 8] },
            { name: 'b', shape: [32, 8, 8] },
            { name: 'y', shape: [16, 8, 8], activation },
          ],
          edges: [
            { from: 'x', to: 'y', op: { type: 'conv2d', kernel: 3, padding: 'same' } },
            { from: 'a', to: 'y', op: { type: 'conv2d', kernel: 1, padding: 'same' } },
            { from: 'b', to: 'y', op: { type: 'conv2d', kernel: 3, padding: 'same' } },
          ],
          outputs: ['y'],
        });
        const params = initParameters(net, { seed: 5, bias: 'uniform' });
        const streams = 3;
        const sizes = net.edges.map((e) => backend.packedSize(e.geometry));
        const floats = sizes.reduce((a, b) => a + b, 0) + streams * (1024 + 2 * 2048 + 3 * 1024) + 1024 + 1024;
        const memory = backend.createMemory(backend.reservedBytes + floats * 4 + 64 * 64);
        let at = backend.reservedBytes;
        const take = (n: number): Float32Array => {
          const view = new Float32Array(memory.buffer, at, n);
          at += Math.ceil((n * 4) / 64) * 64;
          return view;
        };
        const packed = net.edges.map((e, i) => {
          const out = take(sizes[i]);
          backend.pack(e.geometry, params.weights[e.index], out);
          return out;
        });
        const bound = backend.bind(memory);
        const kernels = net.edges.map((e, i) => bound.edgeKernel(e.geometry, packed[i]));
        const rng = new Random(17);
        const fill = (n: number): Float32Array => {
          const view = take(n);
          for (let i = 0; i < n; i++) view[i] = rng.uniform(-1, 1);
          return view;
        };
        const xs = Array.from({ length: streams }, () => fill(1024));
        const as = Array.from({ length: streams }, () => fill(2048));
        const bs = Array.from({ length: streams }, () => fill(2048));
        const bias = fill(1024);
        const [want, one, many] = [take(streams * 1024), take(streams * 1024), take(streams * 1024)].map((block) =>
          Array.from({ length: streams }, (_, s) => block.subarray(s * 1024, (s + 1) * 1024)),
        );
        const first = kernels[0].pass?.('first', activation);
        const last = kernels[2].pass?.('last', activation);
        assert.ok(first?.runBatch !== undefined && last?.runBatch !== undefined, 'the Winograd edges have batched passes');
        assert.equal(kernels[1].pass?.('first', activation), undefined, 'the direct 1x1 conv has none');
        const activationKernel = bound.activationKernel(activation, [16, 8, 8]);
        for (let s = 0; s < streams; s++) {
          bound.zero(want[s]);
          kernels[0].run(xs[s], want[s]);
          kernels[1].run(as[s], want[s]);
          kernels[2].run(bs[s], want[s]);
          activationKernel.run(want[s], bias);
          first.run(xs[s], one[s], bias);
          kernels[1].run(as[s], one[s]);
          last.run(bs[s], one[s], bias);
        }
        first.runBatch(xs, many, bias);
        for (let s = 0; s < streams; s++) kernels[1].run(as[s], many[s]);
        last.runBatch(bs, many, bias);
        for (let s = 0; s < streams; s++) {
          assert.ok(sameBits(one[s], want[s]), `${activation} F(${tile}x${tile}) stream ${s}: one by one`);
          assert.ok(sameBits(many[s], want[s]), `${activation} F(${tile}x${tile}) stream ${s}: batched`);
        }
        if (activation === 'relu') assert.ok(want[0].some((v) => v === 0) && want[0].some((v) => v > 0), 'the ReLU both clips and passes');
      } finally {
        delete process.env.STREAMROLL_WINOGRAD;
      }
    }
  }
});
