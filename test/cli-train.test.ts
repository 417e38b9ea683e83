import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli } from './helpers/cli.js';
import { loadModel } from '../src/io/model-file.js';

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
  assert.deepEqual(doc.frames.map((f) => f.updateSteps), [3, 6, 9, 12]);
  for (const f of doc.frames) assert.ok(f.accuracy >= 0 && f.accuracy <= 1);
});

test('train and eval refuse bad input clearly', async () => {
  assert.match((await cli('train', example('mnist-s'), '--data', 'cifar')).err, /--data must be mnist-noise/);
  assert.match((await cli('train', example('densenet'), '--epochs', '1')).err, /needs one \[1,28,28\] input/);
  assert.match((await cli('eval', example('mnist-s'))).err, /invalid model file|not a readable streamroll model/);
});
