import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli } from './helpers/cli.js';
import { loadModel } from '../src/io/model-file.js';
import { importModel } from '../src/import/index.js';

const dir = await mkdtemp(join(tmpdir(), 'streamroll-train-'));
after(() => rm(dir, { recursive: true, force: true }));
const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

test('train writes a checkpointed model file; resume continues the epoch count; eval reports accuracy per frame on the paper clock', async () => {
  const out = join(dir, 's.srm');
  const a = await cli('train', example('mnist-s'), '--rollout', 'sequential', '--epochs', '1', '--train-digits', '128', '--frames', '2', '--out', out);
  assert.equal(a.code, 0, a.err);
  assert.match(a.err, /TensorFlow.js backend: (wasm|tensorflow)/);
  const first = await loadModel(out);
  assert.equal(first.meta.epoch, 1);
  assert.equal(first.rollout.kind, 'sequential');
  assert.match(String(first.meta.command), /streamroll train .*mnist-s.json --rollout sequential/);
  const b = await cli('train', example('mnist-s'), '--rollout', 'sequential', '--epochs', '1', '--train-digits', '128', '--frames', '2', '--resume', out, '--out', out);
  assert.equal(b.code, 0, b.err);
  assert.equal((await loadModel(out)).meta.epoch, 2);
  const e = await cli('eval', out, '--data', 'mnist-noise', '--digits', '30', '--frames', '4', '--json');
  assert.equal(e.code, 0, e.err);
  const doc = JSON.parse(e.out) as { rollout: string; frames: { tick: number; updateSteps: number; accuracy: number }[]; firstResponseStep: number; inferenceFactor: number };
  assert.equal(doc.rollout, 'sequential');
  assert.equal(doc.inferenceFactor, 3);
  assert.equal(doc.firstResponseStep, 3);
  // Sequential: input edges have R = 0, so tick k sits at update step k * F.
  assert.deepEqual(
    doc.frames.map((f) => f.updateSteps),
    [3, 6, 9, 12],
  );
  for (const f of doc.frames) assert.ok(f.accuracy >= 0 && f.accuracy <= 1);
});

test('train and eval refuse bad input clearly', async () => {
  assert.match((await cli('train', example('mnist-s'), '--data', 'cifar')).err, /--data must be mnist-noise/);
  assert.match((await cli('train', example('densenet'), '--epochs', '1')).err, /needs one \[1,28,28\] input/);
  assert.match((await cli('eval', example('mnist-s'))).err, /invalid model file|not a readable streamroll model/);
});

test('train --from fine-tunes an imported model from its own weights into the streaming rollout', async () => {
  // A small Keras model for MNIST, saved as TensorFlow.js saves it.
  const tf = await import('@tensorflow/tfjs');
  const input = tf.input({ shape: [28, 28, 1], name: 'digit' });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu', name: 'conv' }).apply(input) as InstanceType<typeof tf.SymbolicTensor>;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(conv) as InstanceType<typeof tf.SymbolicTensor>;
  const probs = tf.layers.dense({ units: 10, activation: 'softmax', name: 'probs' }).apply(flat) as InstanceType<typeof tf.SymbolicTensor>;
  const folder = join(dir, 'keras-mnist');
  await mkdir(folder);
  await tf.model({ inputs: input, outputs: probs }).save(
    tf.io.withSaveHandler(async (a) => {
      await writeFile(join(folder, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }));
      await writeFile(join(folder, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const path = join(folder, 'model.json');
  const out = join(dir, 'tuned.srm');
  // A learning rate so small that one step barely moves the weights: what comes out must be
  // the imported weights, nudged, not a fresh initialisation.
  const r = await cli('train', '--from', path, '--epochs', '1', '--train-digits', '64', '--batch', '64', '--frames', '2', '--lr', '1e-7', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /starting from .*model\.json \(imported weights/);
  const tuned = await loadModel(out);
  assert.equal(tuned.rollout.kind, 'streaming');
  assert.equal(tuned.meta.from, path);
  const imported = await importModel(path);
  let moved = 0;
  imported.params.weights.forEach((w, i) => {
    if (w === null) return;
    const t = tuned.params.weights[i];
    assert.ok(t !== null && t.length === w.length, `edge ${i}`);
    for (let k = 0; k < w.length; k++) moved = Math.max(moved, Math.abs(t[k] - w[k]));
  });
  assert.ok(moved > 0 && moved < 1e-5, `weights moved by ${moved}`);
  assert.match((await cli('train', '--from', path, '--resume', out)).err, /--from and --resume exclude each other/);
  assert.match((await cli('train', '--from', example('mnist-s'))).err, /holds no weights to start from/);
});
