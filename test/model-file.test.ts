import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { SpecError } from '../src/graph/errors.js';
import { initParameters } from '../src/graph/parameters.js';
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

const packr = new Packr({ moreTypes: true, useRecords: false });

/** Packs an edited document the way the format documents it: the last 64 bytes are the hex SHA-256 of all before. */
function sealed(doc: Record<string, unknown>): Uint8Array {
  const bytes = packr.pack({ ...doc, sha256: '0'.repeat(64) });
  const covered = bytes.length - 64;
  bytes.set(new TextEncoder().encode(createHash('sha256').update(bytes.subarray(0, covered)).digest('hex')), covered);
  return bytes;
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
  const doc = packr.unpack(encodeModel(await srModel())) as Record<string, Record<string, unknown>>;
  doc.weights['h1->h2'] = new Float32Array(100);
  delete doc.weights['h1->h1'];
  doc.weights['nope->x'] = new Float32Array(1);
  doc.biases.h2 = Float32Array.of(...new Array<number>(127).fill(0), NaN);
  doc.biases.image = new Float32Array(1);
  const issues = issuesOf(sealed(doc));
  assert.ok(issues.includes('weights["h1->h2"]: expected 100352 float32 values ([128,784]), found 100'), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('weights["h1->h1"]: missing')));
  assert.ok(issues.some((i) => i.startsWith('weights["nope->x"]: no such edge')));
  assert.ok(issues.some((i) => i.startsWith('biases["h2"]: non-finite value NaN at index 127')));
  assert.ok(issues.some((i) => i.startsWith('biases["image"]: this node is an input')));
});

test('a model whose spec or rollout is broken says so', async () => {
  const doc = packr.unpack(encodeModel(await srModel())) as Record<string, unknown>;
  doc.rollout = { default: 0 };
  assert.match(issuesOf(sealed(doc))[0], /invalid rollout: the cycle h1 -> h1/);
  const bytes = await readFile(join(dir, 'sr.srm'));
  assert.ok(decodeModel(bytes).network.hasNode('h1'));
});

test('the file ends in a SHA-256 of everything before it, and every single-byte change is refused', async () => {
  const bytes = encodeModel(await srModel());
  const doc = packr.unpack(bytes) as Record<string, unknown>;
  assert.equal(doc.version, 2);
  assert.equal(
    doc.sha256,
    createHash('sha256')
      .update(bytes.subarray(0, bytes.length - 64))
      .digest('hex'),
  );
  assert.ok(Buffer.from(sealed(doc)).equals(bytes), 're-sealing the decoded document reproduces the file');
  const flipped = (at: number, mask: number): Uint8Array => {
    const copy = Uint8Array.from(bytes);
    copy[at] ^= mask;
    return copy;
  };
  // The header, the checksum trailer and its digest are where a checksum scheme is most easily
  // fooled; the property covers the tensors in between.
  for (const at of [0, 1, 2, 3, bytes.length - 80, ...Array.from({ length: 73 }, (_, i) => bytes.length - 73 + i)]) {
    assert.throws(() => decodeModel(flipped(at, 0x01)), SpecError, `flip at ${at}`);
  }
  fc.assert(
    fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, mask) => {
      assert.throws(
        () => decodeModel(flipped(at, mask), 'm.srm'),
        (err: unknown) => err instanceof SpecError && /^m\.srm: invalid model file/.test(err.message),
      );
    }),
    { numRuns: 200 },
  );
  assert.match(issuesOf(flipped(bytes.length >> 1, 0x10))[0], /^sha256: checksum mismatch: the file is corrupt/);
});

test('version 1 files (no checksum) still load; a version 2 file without its checksum is refused', async () => {
  const doc = packr.unpack(encodeModel(await srModel())) as Record<string, unknown>;
  delete doc.sha256;
  assert.match(issuesOf(packr.pack(doc))[0], /^sha256: checksum missing or damaged/);
  doc.version = 1;
  const v1 = decodeModel(packr.pack(doc));
  assert.ok(v1.network.hasNode('h2'));
});

test('saving replaces a model atomically and leaves no temporary file, even when the write fails', async () => {
  const sub = join(dir, 'atomic');
  await mkdir(sub);
  const path = join(sub, 'ckpt.srm');
  const first = await srModel();
  await saveModel(path, first);
  const second: Model = { ...first, meta: { epoch: 2 } };
  await saveModel(path, second);
  assert.deepEqual((await loadModel(path)).meta, { epoch: 2 });
  assert.deepEqual(await readdir(sub), ['ckpt.srm']);
  const blocked = join(sub, 'is-a-directory.srm');
  await mkdir(blocked);
  await assert.rejects(saveModel(blocked, first));
  assert.deepEqual((await readdir(sub)).sort(), ['ckpt.srm', 'is-a-directory.srm']);
  await assert.rejects(saveModel(join(sub, 'missing-dir', 'x.srm'), first), /ENOENT/);
});
