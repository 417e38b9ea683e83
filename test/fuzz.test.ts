import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { SpecError } from '../src/graph/errors.js';
import { parseJsonText } from '../src/graph/json-text.js';
import { LimitError } from '../src/graph/limits.js';
import { validateNetwork, type Network } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import { decodeMessage, encodeMessage, MessageError, MessageFramer, toSourceFrame } from '../src/io/frame-stream.js';
import { analyzeRollout } from '../src/rollout/analyze.js';
import { resolveRollout } from '../src/rollout/pattern.js';
import { assertValidRollout, RolloutCycleError } from '../src/rollout/validity.js';

/*
 * Hostile input must come back as the error made for it (a SpecError or LimitError naming the
 * place, a MessageError for a frame), never as a TypeError, RangeError or stack overflow from
 * deep inside, and never hang: every property runs under a timeout. Inputs are either random
 * or a valid document with one part replaced by something awkward, which reaches deeper.
 */

const example = async (name: string): Promise<unknown> => JSON.parse(await readFile(new URL(`../../examples/${name}.json`, import.meta.url), 'utf8')) as unknown;
const specs = await Promise.all(['mnist-sr', 'mnist-ff', 'conv-chain-4', 'densenet'].map(example));
const mnist = validateNetwork(specs[0]);

/** Values that sit on the edges of what a field accepts. */
const awkward: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    -1,
    0,
    1,
    2,
    3,
    7,
    1.5,
    -0.5,
    1e9,
    1e300,
    -1e300,
    2 ** 31,
    2 ** 53,
    '',
    'x',
    'relu',
    'same',
    'valid',
    'conv2d',
    'dense',
    'image',
    'h1',
    null,
    true,
    false,
    [],
    {},
    [0],
    [1, 1],
    [0, 0, 0],
    [1e9, 1e9],
    [-1, 28, 28],
    '__proto__',
    'constructor',
    'toString',
  ),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Every path into a JSON value (object keys and array indices), the root excluded. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (ArrayBuffer.isView(value)) return out; // a tensor is one value
  if (Array.isArray(value)) value.forEach((v, i) => (out.push([...prefix, i]), paths(v, [...prefix, i], out)));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) out.push([...prefix, k]), paths(v, [...prefix, k], out);
  return out;
}

/** A deep copy of `doc` with the value at one path replaced (or removed when `value` is undefined). */
function mutate(doc: unknown, pick: number, value: unknown): unknown {
  const copy = structuredClone(doc);
  const all = paths(copy);
  if (all.length === 0) return value;
  const path = all[pick % all.length];
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else parent[last] = value;
  return copy;
}

/** A copy of `doc` with one number nudged: sizes, kernels, strides and delays that stay plausible. */
function nudge(doc: unknown, pick: number, how: number): unknown {
  const copy = structuredClone(doc);
  const numeric = paths(copy).filter((path) => typeof path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], copy) === 'number');
  if (numeric.length === 0) return copy;
  const path = numeric[pick % numeric.length];
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  const n = parent[last] as number;
  parent[last] = [n + 1, n - 1, n * 2, Math.floor(n / 2), 1, 0, n + 2][how % 7];
  return copy;
}

const mutatedOrRandom = (docs: readonly unknown[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...docs), fc.nat(), fc.nat(), fc.nat(), fc.nat()).map(([doc, a, x, b, y]) => nudge(nudge(doc, a, x), b, y)) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...docs), fc.nat(), fc.option(awkward, { nil: undefined })).map(([doc, pick, value]) => mutate(doc, pick, value)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...docs), fc.nat(), awkward, fc.nat(), awkward).map(([doc, a, x, b, y]) => mutate(mutate(doc, a, x), b, y)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  );

/** Runs `f`; an error must be one of `allowed` (the errors made for bad input). */
function refusedOnlyAs<T>(allowed: readonly (abstract new (...args: never[]) => Error)[], f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    assert.ok(
      allowed.some((E) => err instanceof E),
      `unexpected ${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack ?? ''}`,
    );
    return undefined;
  }
}

/** The smallest networks run one tick in the executor too: shapes that validate must compute. */
function smallEnough(net: Network): boolean {
  const states = net.nodes.reduce((s, n) => s + n.size, 0);
  const weights = net.edges.reduce((s, e) => s + (e.weightShape === null ? 0 : e.weightSize), 0);
  return states <= 200_000 && weights <= 2_000_000;
}

test('network specs: mutated and random specs validate or are refused with a SpecError/LimitError; valid ones analyse and compute', { timeout: 120_000 }, () => {
  const seen = { refused: 0, computed: 0 };
  fc.assert(
    fc.property(mutatedOrRandom(specs), (spec) => {
      const net = refusedOnlyAs([SpecError, LimitError], () => validateNetwork(spec, 'fuzz.json'));
      if (net === undefined) return void seen.refused++;
      const rollout = resolveRollout(net, 'streaming');
      refusedOnlyAs([LimitError], () => analyzeRollout(net, rollout, { window: 4 }));
      if (!smallEnough(net)) return;
      const ex = new ReferenceExecutor(net, rollout, initParameters(net, { seed: 1 }));
      const out = ex.step(Object.fromEntries(net.inputs.map((v) => [net.nodes[v].name, new Float32Array(net.nodes[v].size).fill(0.5)])));
      for (const v of net.outputs) assert.equal(out[net.nodes[v].name].length, net.nodes[v].size);
      seen.computed++;
    }),
    { numRuns: 400 },
  );
  // Both sides are reached: the mutations are neither all fatal nor all harmless.
  assert.ok(seen.refused >= 100 && seen.computed >= 12, JSON.stringify(seen));
});

test('JSON text: random and damaged text parses or is a SpecError with a line and column', { timeout: 60_000 }, () => {
  const text = JSON.stringify(specs[0], null, 2);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.tuple(fc.nat(text.length), fc.nat(40), fc.string({ maxLength: 8 })).map(([at, cut, insert]) => text.slice(0, at) + insert + text.slice(at + cut)),
        fc.tuple(fc.nat(3000), fc.constantFrom('[', '{"a":', '["', '[{"x":[')).map(([n, open]) => open.repeat(n)),
      ),
      (t) => {
        refusedOnlyAs([SpecError], () => parseJsonText(t, 'network spec', 'fuzz.json'));
      },
    ),
    { numRuns: 500 },
  );
});

test('rollout patterns: mutated and random patterns resolve or are refused; resolved ones are valid or name a cycle, and analyse', { timeout: 120_000 }, () => {
  const edges = Object.fromEntries(mnist.edges.map((e) => [e.id, 1]));
  const patterns = [{ default: 1 }, { default: 1, edges: { 'image->h1': 0 } }, { default: 0, edges }, { edges }];
  const seen = { refused: 0, cycle: 0, analysed: 0 };
  fc.assert(
    fc.property(mutatedOrRandom(patterns), (pattern) => {
      const rollout = refusedOnlyAs([SpecError, LimitError], () => resolveRollout(mnist, pattern, 'fuzz.rollout.json'));
      if (rollout === undefined) return void seen.refused++;
      for (const d of rollout.delays) assert.ok(Number.isInteger(d) && d >= 0, `delay ${d}`);
      const valid = refusedOnlyAs([RolloutCycleError], () => (assertValidRollout(mnist, rollout.delays), true));
      // Only a zero delay can close a cycle.
      if (valid === undefined) {
        assert.ok(rollout.delays.some((d) => d === 0));
        seen.cycle++;
      } else if (refusedOnlyAs([LimitError], () => analyzeRollout(mnist, rollout)) !== undefined) seen.analysed++;
    }),
    { numRuns: 400 },
  );
  assert.ok(seen.refused >= 60 && seen.cycle >= 8 && seen.analysed >= 50, JSON.stringify(seen));
});

test('model files: random bytes and mutated documents (re-sealed, so the checksum holds) load or are a SpecError', { timeout: 120_000 }, async () => {
  const { createHash } = await import('node:crypto');
  const packr = new Packr({ moreTypes: true, useRecords: false });
  // A small model keeps each decode cheap; the mutations reach the spec, rollout, tensors and meta.
  const net = validateNetwork(specs[1]);
  const doc = packr.unpack(encodeModel({ network: net, rollout: resolveRollout(net, 'streaming'), params: initParameters(net, { seed: 3 }), meta: { seed: 3 } })) as Record<string, unknown>;
  const seal = (d: unknown): Uint8Array => {
    const bytes = packr.pack(typeof d === 'object' && d !== null && !Array.isArray(d) ? { ...d, sha256: '0'.repeat(64) } : d);
    if (bytes.length < 64) return bytes;
    const covered = bytes.length - 64;
    bytes.set(new TextEncoder().encode(createHash('sha256').update(bytes.subarray(0, covered)).digest('hex')), covered);
    return bytes;
  };
  const tensors = fc.oneof(
    fc.integer({ min: 0, max: 300 }).map((n) => new Float32Array(n)),
    fc.constantFrom(Float32Array.of(NaN), Float32Array.of(Infinity), new Float64Array(10), new Uint8Array(40), 'weights'),
  );
  const { sha256: _, ...plain } = doc;
  const seen = { refused: 0, loaded: 0 };
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => ({ bytes: b })),
        fc.tuple(fc.nat(), fc.oneof(awkward, tensors), fc.boolean()).map(([pick, value, remove]) => ({ bytes: seal(mutate(plain, pick, remove ? undefined : value)) })),
        // A tensor of the right length with one value replaced: loads unless the value is not finite.
        fc.tuple(fc.constantFrom(...Object.keys(plain.weights as object)), fc.nat(), fc.oneof(fc.float(), fc.constantFrom(NaN, Infinity, -Infinity, 3e38))).map(([key, at, x]) => {
          const weights = { ...(plain.weights as Record<string, Float32Array>) };
          const t = Float32Array.from(weights[key]);
          t[at % t.length] = x;
          weights[key] = t;
          return { bytes: seal({ ...plain, weights }), finite: Number.isFinite(Math.fround(x)) };
        }),
      ),
      ({ bytes, finite }: { bytes: Uint8Array; finite?: boolean }) => {
        const model = refusedOnlyAs([SpecError], () => decodeModel(bytes, 'fuzz.srm'));
        if (finite !== undefined) assert.equal(model !== undefined, finite, 'a same-shape tensor loads exactly when its values are finite');
        if (model === undefined) return void seen.refused++;
        seen.loaded++;
        model.params.weights.forEach((w, i) => assert.equal(w === null ? null : w.length, model.network.edges[i].weightShape === null ? null : model.network.edges[i].weightSize));
      },
    ),
    { numRuns: 400 },
  );
  assert.ok(seen.refused >= 100 && seen.loaded >= 30, JSON.stringify(seen));
});

/** A decoded message is refused, or becomes a frame of exactly 784 finite numbers. */
const frames = { refused: 0, accepted: 0 };
function acceptedFrameIsSound(message: unknown, index: number): void {
  const frame = toSourceFrame(message, mnist, index);
  if (frame instanceof MessageError) return void frames.refused++;
  frames.accepted++;
  const image = (frame.inputs as Record<string, ArrayLike<number>>).image;
  assert.equal(image.length, 784);
  for (let k = 0; k < image.length; k++) assert.ok(Number.isFinite(image[k]), `value ${k}`);
}

test('frame messages: random byte streams and mutated messages become frames or MessageErrors; accepted frames hold finite numbers of the right length', { timeout: 60_000 }, () => {
  const good = { t: 1, inputs: { image: new Float32Array(784).fill(0.25) }, label: 3 };
  const values = fc.oneof(
    awkward,
    fc.constantFrom(new Float32Array(784), new Float64Array(784), new Float32Array(783), new Uint8Array(784 * 4), new Uint8Array(3), Float32Array.of(NaN), new Array<unknown>(784).fill(null)),
    fc.array(fc.oneof(fc.double(), fc.constant('1'), fc.constant(null)), { minLength: 784, maxLength: 784 }),
  );
  const message = fc.oneof(
    fc.tuple(values, fc.constantFrom('image', 'inputs', 't', 'label', 'other')).map(([v, where]) => (where === 'image' ? { ...good, inputs: { image: v } } : { ...good, [where]: v })),
    fc.anything(),
  );
  fc.assert(
    fc.property(message, fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat(200), { maxLength: 6 }), (m, garbage, cuts) => {
      // The message framed, garbage after it, the whole cut into random chunks.
      let encoded: Buffer;
      try {
        encoded = encodeMessage(m);
      } catch {
        return; // not encodable by msgpack (e.g. a symbol): not something a peer can send
      }
      const stream = Buffer.concat([encoded, Buffer.from(garbage)]);
      const framer = new MessageFramer(1 << 20);
      const decoded: unknown[] = [];
      let at = 0;
      for (const cut of [...cuts, stream.length]) {
        const end = Math.min(stream.length, at + cut);
        decoded.push(...framer.push(stream.subarray(at, end)));
        at = end;
      }
      if (framer.end() !== undefined) decoded.push('truncated');
      assert.ok(decoded.length >= 1);
      for (const [i, d] of decoded.entries()) if (d !== 'truncated') acceptedFrameIsSound(d, i);
    }),
    { numRuns: 400 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (body) => acceptedFrameIsSound(decodeMessage(body, 0), 0)),
    { numRuns: 1000 },
  );
  assert.ok(frames.refused >= 500 && frames.accepted >= 40, JSON.stringify(frames));
});
