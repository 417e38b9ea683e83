import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { validateNetwork, type Network } from '../src/graph/network.js';
import { ACTIVATIONS } from '../src/graph/spec.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { Random } from '../src/util/random.js';
import { carriedNodes, networkModel } from '../src/io/onnx-export.js';
import { statefulRun } from '../bench/onnx-carry.js';
import { relativeError } from './helpers/numeric.js';

const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

/**
 * onnxruntime's outputs for the exported graph against the sequential executor's, over
 * `frames` frames; with `carry`, the carried nodes' outputs of each run are fed back as the
 * next run's inputs (zeros before the first), by the benches' own runner.
 */
async function assertPeerMatches(net: Network, carry = false, frames = 3): Promise<void> {
  const params = initParameters(net, { seed: 3, bias: 'uniform' });
  const session = await ort.InferenceSession.create(networkModel(net, params, { carry }));
  const ex = new ReferenceExecutor(net, 'sequential', params);
  const rng = new Random(5);
  // The benches' runner: it feeds each run the carried nodes' values of the run before.
  const run = statefulRun(session, net, 1);
  for (let frame = 0; frame < frames; frame++) {
    const feeds: Record<string, ort.Tensor> = {};
    const inputs: Record<string, Float32Array> = {};
    for (const v of net.inputs) {
      const node = net.nodes[v];
      inputs[node.name] = Float32Array.from({ length: node.size }, () => rng.uniform(-1, 1));
      feeds[node.name] = new ort.Tensor('float32', inputs[node.name].slice(), [1, ...node.shape]);
    }
    const ours = ex.step(inputs);
    const theirs = await run(feeds);
    for (const o of net.outputs) {
      const name = net.nodes[o].name;
      const err = relativeError(theirs[name].data as Float32Array, ours[name]);
      assert.ok(err < 1e-4, `${net.name} frame ${frame} ${name}: relative error ${err}`);
    }
  }
  await session.release();
}

test('the ONNX export of feedforward examples computes what the sequential rollout computes', async () => {
  for (const name of ['conv-chain-4', 'densenet-12', 'mnist-ff']) await assertPeerMatches(await loadNetworkFile(example(name)));
});

test('the ONNX export covers every activation, strided, dilated and unevenly padded convs, pools with padding and dense from spatial nodes', async () => {
  for (const activation of ACTIVATIONS) {
    const net = validateNetwork({
      name: `act-${activation}`,
      nodes: [
        { name: 'x', shape: [3, 8, 9] },
        { name: 'a', shape: [4, 4, 5], activation },
        { name: 'b', shape: [4, 8, 9], activation },
        { name: 'p', shape: [4, 4, 5] },
        { name: 'y', shape: [6], activation },
      ],
      edges: [
        // 'same' with odd totals: 0 rows above, 1 below, 1 column left, 2 right.
        { from: 'x', to: 'a', op: { type: 'conv2d', kernel: [3, 4], stride: 2, padding: 'same' } },
        { from: 'x', to: 'b', op: { type: 'conv2d', kernel: 3, dilation: 2, padding: 'same' } },
        { from: 'b', to: 'p', op: { type: 'avgpool', kernel: 3, stride: 2, padding: 'same' } },
        { from: 'a', to: 'p', op: { type: 'maxpool', kernel: 1 } },
        { from: 'p', to: 'y', op: { type: 'dense' } },
        { from: 'a', to: 'y', op: { type: 'dense' } },
      ],
      outputs: ['y', 'p'],
    });
    await assertPeerMatches(net);
  }
});

test('the ONNX export refuses what it cannot express, naming the edge', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  assert.throws(() => networkModel(net, initParameters(net)), /edge "h1->h1" feeds back; export the network with its state carried/);
});

test('a network with feedback exported with its state carried computes, fed back run after run, what the sequential rollout computes', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  assert.deepEqual(
    carriedNodes(net).map((v) => net.nodes[v].name),
    ['h1'],
  );
  // Enough frames for the recurrent state to matter: frame 0 reads zeros.
  await assertPeerMatches(net, true, 6);
  // A carried node that is also an output is listed once; two feedback edges from one source, one into an earlier node.
  const loop = validateNetwork({
    name: 'two-loops',
    nodes: [
      { name: 'x', shape: [4] },
      { name: 'a', shape: [5], activation: 'tanh' },
      { name: 'b', shape: [3], activation: 'relu' },
    ],
    edges: [
      { from: 'x', to: 'a', op: { type: 'dense' } },
      { from: 'a', to: 'b', op: { type: 'dense' } },
      { from: 'b', to: 'a', op: { type: 'dense' } },
      { from: 'b', to: 'b', op: { type: 'dense' } },
    ],
    outputs: ['b'],
  });
  assert.deepEqual(carriedNodes(loop), [2]);
  await assertPeerMatches(loop, true, 5);
});
