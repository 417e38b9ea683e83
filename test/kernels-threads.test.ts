import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { validateNetwork } from '../src/graph/network.js';
import { REFERENCE_BACKEND, WASM_BACKEND } from '../src/kernels/backends.js';
import { getBackend } from '../src/kernels/registry.js';
import { Random } from '../src/util/random.js';
import type { KernelJob } from './fixtures/kernel-worker.js';
import { KernelHarness } from './helpers/kernel-harness.js';
import { randomArray, sameBits } from './helpers/numeric.js';

const net = validateNetwork({
  name: 'threads',
  nodes: [
    { name: 'x', shape: [16, 32, 32] },
    { name: 'c', shape: [32, 32, 32] },
    { name: 'p', shape: [16, 16, 16] },
    { name: 'd', shape: [100] },
  ],
  edges: [
    { from: 'x', to: 'c', op: { type: 'conv2d', kernel: 3 } },
    { from: 'x', to: 'p', op: { type: 'maxpool', kernel: 2 } },
    { from: 'p', to: 'd', op: { type: 'dense' } },
  ],
  outputs: ['d'],
});

for (const backendName of [WASM_BACKEND, REFERENCE_BACKEND]) {
  test(`${backendName}: two workers running kernels on one shared memory at once give the results of one thread`, async () => {
    const backend = getBackend(backendName);
    const h = new KernelHarness(backend, 4 << 20);
    const rng = new Random(9);
    const flag = h.alloc(16);
    new Int32Array(flag.buffer, flag.byteOffset, 1)[0] = 0;
    const inputs = new Map<number, Float32Array>();
    inputs.set(0, h.state([16, 32, 32], randomArray(16 * 32 * 32, rng)));
    inputs.set(2, h.state([16, 16, 16], randomArray(16 * 16 * 16, rng)));
    const packed = net.edges.map((e) => h.weights(e.geometry, e.weightSize === 0 ? null : randomArray(e.weightSize, rng)));
    const block = (a: Float32Array): [number, number] => [a.byteOffset, a.length];
    // One output set per thread: main (0), worker 1, worker 2; inputs and weights shared.
    const outputs = [0, 1, 2].map(() => net.edges.map((e) => h.alloc(net.nodes[e.to].size)));
    const jobs = (t: number): KernelJob[] =>
      net.edges.map((e) => ({ geometry: e.geometry, weights: block(packed[e.index]), src: block(inputs.get(e.from) as Float32Array), dst: block(outputs[t][e.index]) }));

    const workers = [1, 2].map(
      (t) =>
        new Worker(new URL('./fixtures/kernel-worker.js', import.meta.url), { workerData: { backend: backendName, memory: h.memory, jobs: jobs(t), flagOffset: flag.byteOffset, iterations: 30 } }),
    );
    await Promise.all(workers.map((w) => once(w, 'message')));
    const done = workers.map((w) => once(w, 'message'));
    const flagWord = new Int32Array(flag.buffer, flag.byteOffset, 1);
    Atomics.store(flagWord, 0, 1);
    Atomics.notify(flagWord, 0);
    for (const j of jobs(0)) {
      const dst = new Float32Array(h.memory.buffer, j.dst[0], j.dst[1]);
      dst.fill(0);
      h.kernels.edgeKernel(j.geometry, new Float32Array(h.memory.buffer, j.weights[0], j.weights[1])).run(new Float32Array(h.memory.buffer, j.src[0], j.src[1]), dst);
    }
    await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));
    for (const e of net.edges) {
      assert.ok(
        outputs[0][e.index].some((v) => v !== 0),
        `edge ${e.id} computed something`,
      );
      assert.ok(sameBits(outputs[0][e.index], outputs[1][e.index]), `worker 1, edge ${e.id}`);
      assert.ok(sameBits(outputs[0][e.index], outputs[2][e.index]), `worker 2, edge ${e.id}`);
    }
  });
}
