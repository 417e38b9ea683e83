import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateNetwork } from '../src/graph/network.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { analyzeRollout, type ValidAnalysis } from '../src/rollout/analyze.js';
import { findZeroDelayCycle } from '../src/rollout/validity.js';
import { resolveRollout } from '../src/rollout/pattern.js';
import { paperClock } from '../src/train/evaluate.js';

const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

async function analyze(net: string, rollout: 'streaming' | 'sequential'): Promise<ValidAnalysis> {
  const a = analyzeRollout(await loadNetworkFile(example(net)), rollout);
  assert.ok(a.valid);
  return a;
}

test('MNIST FF / S / SR first responses match the paper: streaming 3 / 2 / 2, sequential 3, F(sequential) = 3', async () => {
  const expected: Record<string, number> = { 'mnist-ff': 3, 'mnist-s': 2, 'mnist-sr': 2 };
  for (const [net, first] of Object.entries(expected)) {
    const s = await analyze(net, 'streaming');
    assert.equal(s.outputs.prediction.firstResponseStep, first, `${net} streaming`);
    assert.equal(s.inferenceFactor, 1);
    assert.equal(s.outputs.prediction.responsePeriod, 1);
    assert.ok(s.modelParallel);
    const q = await analyze(net, 'sequential');
    assert.equal(q.outputs.prediction.firstResponseStep, 3, `${net} sequential`);
    assert.equal(q.inferenceFactor, 3, `${net} F(sequential)`);
    assert.equal(q.outputs.prediction.responsePeriod, 3);
    assert.equal(q.modelParallel, false);
  }
});

test('response delays: streaming FF 3 ticks, S and SR 2; sequential 0; fastest model-parallel saves one tick', async () => {
  assert.equal((await analyze('mnist-ff', 'streaming')).outputs.prediction.delay, 3);
  assert.equal((await analyze('mnist-s', 'streaming')).outputs.prediction.delay, 2);
  const sr = await analyze('mnist-sr', 'streaming');
  assert.equal(sr.outputs.prediction.delay, 2);
  assert.equal((await analyze('mnist-sr', 'sequential')).outputs.prediction.delay, 0);
  assert.deepEqual(sr.fastestModelParallel.rollout, { 'image->h1': 0, 'h1->h2': 1, 'h2->prediction': 1, 'h1->prediction': 1, 'h1->h1': 1 });
  assert.equal(sr.fastestModelParallel.inferenceFactor, 1);
  assert.equal(sr.fastestModelParallel.outputs.prediction.delay, 1);
});

test('SR sequential tableau follows Eq. 4 (recurrent h1 -> h1 delayed, the rest inside the frame)', async () => {
  const q = await analyze('mnist-sr', 'sequential');
  assert.deepEqual(q.rollout, { 'image->h1': 0, 'h1->h2': 0, 'h2->prediction': 0, 'h1->prediction': 0, 'h1->h1': 1 });
  assert.deepEqual(q.tableau.image, [0, 0, 0, 0, 0]);
  assert.deepEqual(q.tableau.h1, [0, 1, 2, 3, 4]);
  assert.deepEqual(q.tableau.h2, [0, 2, 3, 4, 5]);
  assert.deepEqual(q.tableau.prediction, [0, 3, 4, 5, 6]);
});

test('the 3-node network (u,v),(v,w),(v,v),(u,w),(w,v) has exactly 12 valid patterns out of 32', () => {
  const net = validateNetwork({
    name: 'paper-3-node',
    nodes: [
      { name: 'u', shape: [2] },
      { name: 'v', shape: [2] },
      { name: 'w', shape: [2] },
    ],
    edges: [
      ['u', 'v'],
      ['v', 'w'],
      ['v', 'v'],
      ['u', 'w'],
      ['w', 'v'],
    ].map(([from, to]) => ({ from, to, op: { type: 'dense' } })),
    outputs: ['w'],
  });
  let valid = 0;
  for (let mask = 0; mask < 32; mask++) {
    const delays = net.edges.map((_, i) => (mask >> i) & 1);
    if (findZeroDelayCycle(net, delays) === null) valid++;
  }
  assert.equal(valid, 12);
});

test('skip edges make streaming respond earlier and change nothing for sequential (DenseNet-style example)', async () => {
  const s = await analyze('densenet', 'streaming');
  const q = await analyze('densenet', 'sequential');
  // Longest path image -> ... -> prediction has 8 edges; the shortest (via skips) 3.
  assert.equal(q.inferenceFactor, 8);
  assert.equal(q.outputs.prediction.firstResponseStep, 8);
  assert.equal(s.outputs.prediction.firstResponseStep, 3);
  assert.equal(s.outputs.prediction.delay, 3);
});

test("the paper's hybrid (image->h1 and h2->prediction inside the frame, the rest delayed): first response at step 3, F(R) = 2, and eval's clock puts tick 2 at step 3", async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const pattern = { default: 1, edges: { 'image->h1': 0, 'h2->prediction': 0 } };
  const a = analyzeRollout(net, resolveRollout(net, pattern));
  assert.ok(a.valid);
  assert.equal(a.inferenceFactor, 2);
  assert.deepEqual(a.outputs.prediction, { delay: 1, firstResponseStep: 3, firstResponseFrame: 2, responsePeriod: 2 });
  // Frame-0 hidden states are initial: the fastest model-parallel pattern of SR answers at step 2, not 1.
  assert.equal(a.fastestModelParallel.outputs.prediction.firstResponseStep, 2);
  const { stepOf } = paperClock(net, resolveRollout(net, pattern).delays);
  assert.deepEqual([1, 2, 3, 4].map(stepOf), [1, 3, 5, 7]);
  // Streaming and sequential keep the paper's plots: frame i at step i, and at i x F.
  assert.deepEqual([1, 2, 3, 4].map(paperClock(net, resolveRollout(net, 'streaming').delays).stepOf), [0, 1, 2, 3]);
  assert.deepEqual([1, 2, 3].map(paperClock(net, resolveRollout(net, 'sequential').delays).stepOf), [3, 6, 9]);
});

test("the DSR depth ladder matches the authors' model files: sequential F(R) and first response 4 + n, streaming first response 4 at every depth", async () => {
  for (let n = 0; n <= 6; n++) {
    const net = await loadNetworkFile(example(`cifar-dsr${n}`));
    const q = analyzeRollout(net, 'sequential');
    const s = analyzeRollout(net, 'streaming');
    assert.ok(q.valid && s.valid);
    // rollout_factor and shortest_path_sequential in cifar_DSR<n>.st_graph are 4 + n; first_response_streaming is 4.
    assert.equal(q.inferenceFactor, 4 + n, `DSR${n} sequential F`);
    assert.equal(q.outputs.prediction.firstResponseStep, 4 + n, `DSR${n} sequential first response`);
    assert.equal(s.inferenceFactor, 1);
    assert.equal(s.outputs.prediction.firstResponseStep, 4, `DSR${n} streaming first response`);
  }
});
