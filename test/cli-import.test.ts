import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { Runtime } from '../src/engine/runtime.js';
import { networkModel } from '../src/io/onnx-export.js';
import { graphModel } from '../src/io/onnx-writer.js';
import { loadModel } from '../src/io/model-file.js';
import { cli } from './helpers/cli.js';

const dir = await mkdtemp(join(tmpdir(), 'streamroll-cli-import-'));
after(() => rm(dir, { recursive: true, force: true }));

const net = validateNetwork({
  name: 'small',
  nodes: [
    { name: 'image', shape: [3, 8, 8] },
    { name: 'c1', shape: [4, 4, 4], activation: 'relu6' },
    { name: 'c2', shape: [4, 4, 4], activation: 'relu' },
    { name: 'logits', shape: [5], activation: 'softmax' },
  ],
  edges: [
    { from: 'image', to: 'c1', op: { type: 'conv2d', kernel: 3, stride: 2 } },
    { from: 'c1', to: 'c2', op: { type: 'conv2d', kernel: 3, groups: 4 } },
    { from: 'c2', to: 'logits', op: { type: 'dense' } },
    { from: 'c1', to: 'logits', op: { type: 'dense' } },
  ],
  outputs: ['logits'],
});

test('streamroll import maps an ONNX file, prints it, saves a .srm; analyze and Runtime.create take the .onnx itself', async () => {
  const onnxPath = join(dir, 'small.onnx');
  await writeFile(onnxPath, networkModel(net, initParameters(net, { seed: 2, bias: 'uniform' })));
  const out = join(dir, 'small.srm');
  const json = await cli('import', onnxPath, '-o', out, '--json');
  assert.equal(json.code, 0, json.err);
  const doc = JSON.parse(json.out) as { rollout: string; outputs: Record<string, { delay: number }>; nodes: { name: string }[]; flopsPerFrame: number; written: string };
  assert.equal(doc.rollout, 'pipelined');
  // image -> c1 -> c2 -> logits is the longest path: logits answers its input of 2 ticks before.
  assert.deepEqual(doc.outputs, { logits: { delay: 2 } });
  assert.ok(doc.flopsPerFrame > 0);
  assert.equal(doc.written, out);
  assert.deepEqual(
    doc.nodes.map((n) => n.name),
    ['image', 'c1', 'c2', 'logits'],
    "nodes named after the model's tensors",
  );
  const saved = await loadModel(out);
  assert.equal(saved.rollout.kind, 'pipelined');
  assert.deepEqual(
    saved.network.outputs.map((o) => saved.network.nodes[o].name),
    ['logits'],
  );
  const text = await cli('import', onnxPath);
  assert.match(text.out, /onnx model "small"/);
  assert.match(text.out, /rollout pipelined: F = 1, logits answers its input of 2 ticks before/);
  const analyze = await cli('analyze', onnxPath, '--json');
  assert.equal(analyze.code, 0, analyze.err);
  const a = JSON.parse(analyze.out) as { inferenceFactor: number; modelParallel: boolean };
  assert.deepEqual([a.inferenceFactor, a.modelParallel], [1, true]);
  const rt = await Runtime.create(onnxPath, { workers: 2, calibrate: false });
  try {
    assert.equal(rt.weights, 'imported');
    assert.equal(rt.rollout.kind, 'pipelined');
    const y = await rt.step({ image: new Float32Array(3 * 64).fill(0.5) });
    assert.equal(y.logits.length, 5);
  } finally {
    await rt.close();
  }
});

test('an ONNX file with ops that do not map: exit 1, every op named on stderr, nothing written', async () => {
  const path = join(dir, 'gated.onnx');
  await writeFile(
    path,
    graphModel({
      nodes: [
        { name: 'gate', op: 'Sigmoid', inputs: ['x'], outputs: ['g'] },
        { name: 'glu', op: 'Mul', inputs: ['x', 'g'], outputs: ['m'] },
        { name: 'lstm', op: 'LSTM', inputs: ['m'], outputs: ['y'] },
      ],
      constants: [],
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
    }),
  );
  const out = join(dir, 'gated.srm');
  const r = await cli('import', path, '-o', out);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot import gated: 2 ops do not map/);
  assert.match(r.err, /glu \(Mul\): an element-wise product of two computed tensors/);
  assert.match(r.err, /lstm \(LSTM\): recurrent layers are not supported/);
  await assert.rejects(loadModel(out));
  assert.match((await cli('import', join(dir, 'x.json'))).err, /import reads ONNX files/);
});
