import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Packr } from 'msgpackr';
import { SpecError } from '../src/graph/errors.js';
import { initParameters } from '../src/engine/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { decodeModel, encodeModel, loadModel, saveModel, type Model } from '../src/io/model-file.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { resolveRollout } from '../src/rollout/pattern.js';
import { sameBits } from './helpers/numeric.js';

const dir = await mkdtemp(join(tmpdir(), 'streamroll-model-'));
after(() => rm(dir, { recursive: true, force: true }));

async function srModel(): Promise<Model> {
  const network = await loadNetworkFile(new URL('../../examples/mnist-sr.json', import.meta.url).pathname);
  const rollout = resolveRollout(network, { default: 1, edges: { 'image->h1': 0 } });
  return { network, rollout, params: initParameters(network, { seed: 11, bias: 'uniform' }), meta: { seed: 11 } };
}

function issuesOf(bytes: Uint8Array): string[] {
  try {
    decodeModel(bytes, 'm.srm');
  } catch (err) {
    assert.ok(err instanceof SpecError, String(err));
    assert.match(err.message, /^m\.srm: invalid model file/);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('accepted');
}

test('a model file round-trips: same spec, rollout, bit-identical parameters and outputs', async () => {
  const model = await srModel();
  const path = join(dir, 'sr.srm');
  await saveModel(path, model);
  const loaded = await loadModel(path);
  assert.deepEqual(loaded.network.spec, model.network.spec);
  assert.deepEqual([...loaded.rollout.delays], [...model.rollout.delays]);
  assert.deepEqual(loaded.meta, { seed: 11 });
  model.params.weights.forEach((w, i) => assert.ok(w === null ? loaded.params.weights[i] === null : sameBits(w, loaded.params.weights[i] as Float32Array)));
  const a = new ReferenceExecutor(model.network, model.rollout, model.params);
  const b = new ReferenceExecutor(loaded.network, loaded.rollout, loaded.params);
  const x = Float32Array.from({ length: 784 }, (_, i) => (i % 7) / 7);
  for (let t = 0; t < 4; t++) assert.ok(sameBits(a.step(x).prediction, b.step(x).prediction));
});

test('weights are stored in the documented layouts: dense [out,in], conv [outC,inC,kh,kw]', async () => {
  const model = await srModel();
  const raw = new Packr({ moreTypes: true, useRecords: false }).unpack(encodeModel(model)) as { weights: Record<string, Float32Array> };
  assert.equal(raw.weights['image->h1'].length, 16 * 1 * 7 * 7);
  assert.equal(raw.weights['h1->h2'].length, 128 * 784);
  assert.equal(raw.weights['h1->h1'].length, 16 * 16 * 3 * 3);
  assert.ok(sameBits(raw.weights['h1->h2'], model.params.weights[model.network.edge('h1->h2').index] as Float32Array));
});

test('corrupt, truncated or foreign files are clear errors', async () => {
  const bytes = encodeModel(await srModel());
  assert.match(issuesOf(bytes.subarray(0, bytes.length >> 1))[0], /corrupt or truncated/);
  assert.match(issuesOf(new TextEncoder().encode('{"name": "not msgpack"}'))[0], /looks like JSON: a network spec is not a model file/);
  assert.match(issuesOf(new Packr().pack({ name: 'x' }))[0], /^format: not a streamroll model/);
  assert.match(issuesOf(new Packr().pack({ format: 'streamroll-model', version: 99 }))[0], /^version: unsupported version 99/);
  const path = join(dir, 'junk.srm');
  await writeFile(path, Buffer.from([0xc1, 0xc1, 0xc1]));
  await assert.rejects(loadModel(path), /junk\.srm: invalid model file/);
  await assert.rejects(loadModel(join(dir, 'missing.srm')), /cannot read model file .*missing\.srm: no such file/);
});

test('a model whose tensors do not match its spec names each tensor', async () => {
  const packr = new Packr({ moreTypes: true, useRecords: false });
  const doc = packr.unpack(encodeModel(await srModel())) as Record<string, Record<string, unknown>>;
  doc.weights['h1->h2'] = new Float32Array(100);
  delete doc.weights['h1->h1'];
  doc.weights['nope->x'] = new Float32Array(1);
  doc.biases.h2 = Float32Array.of(...new Array<number>(127).fill(0), NaN);
  doc.biases.image = new Float32Array(1);
  const issues = issuesOf(packr.pack(doc));
  assert.ok(issues.includes('weights["h1->h2"]: expected 100352 float32 values ([128,784]), found 100'), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('weights["h1->h1"]: missing')));
  assert.ok(issues.some((i) => i.startsWith('weights["nope->x"]: no such edge')));
  assert.ok(issues.some((i) => i.startsWith('biases["h2"]: non-finite value NaN at index 127')));
  assert.ok(issues.some((i) => i.startsWith('biases["image"]: this node is an input')));
});

test('a model whose spec or rollout is broken says so', async () => {
  const packr = new Packr({ moreTypes: true, useRecords: false });
  const doc = packr.unpack(encodeModel(await srModel())) as Record<string, unknown>;
  doc.rollout = { default: 0 };
  assert.match(issuesOf(packr.pack(doc))[0], /invalid rollout: the cycle h1 -> h1/);
  const bytes = await readFile(join(dir, 'sr.srm'));
  assert.ok(decodeModel(bytes).network.hasNode('h1'));
});
