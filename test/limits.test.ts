import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LIMITS, LimitError } from '../src/graph/limits.js';
import { validateNetwork, SpecError } from '../src/graph/network.js';
import { parseJsonText } from '../src/graph/json-text.js';
import { Runtime } from '../src/engine/runtime.js';
import { analyzeRollout } from '../src/rollout/analyze.js';
import { cli } from './helpers/cli.js';

const dir = await mkdtemp(join(tmpdir(), 'streamroll-limits-'));
after(() => rm(dir, { recursive: true, force: true }));
const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

/** A CLI run that must fail with one line naming the problem: exit 1, no stack trace. */
async function refused(args: string[], pattern: RegExp): Promise<void> {
  const r = await cli(...args);
  assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}\n${r.err}`);
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

// Each test has a timeout: hostile input must be refused, not hang or exhaust the machine.
test('patterns: huge delays are refused before anything is allocated; huge analysis windows too', { timeout: 20_000 }, async () => {
  const huge = join(dir, 'huge.json');
  await writeFile(huge, '{"default": 1000000000}');
  await refused(['analyze', example('mnist-sr'), '--rollout', huge], /delay 1000000000 is over the limit of 4096 frames/);
  await refused(['run', example('mnist-sr'), '--rollout', huge, '--duration', '0.1'], /over the limit of 4096 frames/);
  // Within the delay limit, a window that would hold millions of tableau entries is refused.
  const far = join(dir, 'far.json');
  await writeFile(far, `{"default": ${LIMITS.delay}}`);
  const net = validateNetwork(parseJsonText(await (await import('node:fs/promises')).readFile(example('densenet'), 'utf8'), 'spec'));
  assert.throws(
    () => analyzeRollout(net, 'streaming', { window: 10_000_000 }),
    (e: unknown) => e instanceof LimitError && /tableau entries, over the limit of 2,000,000/.test(e.message),
  );
  const r = await cli('analyze', example('mnist-sr'), '--rollout', far, '--json');
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.length < 1e6, `${r.out.length} bytes of JSON`);
});

test('specs: shapes, weights and nesting over the limits are spec errors at their place', { timeout: 20_000 }, () => {
  assert.throws(
    () =>
      validateNetwork({
        name: 'big',
        nodes: [
          { name: 'x', shape: [1e300] },
          { name: 'y', shape: [4] },
        ],
        edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
        outputs: ['y'],
      }),
    (e: unknown) => e instanceof SpecError && /nodes\[0\]\.shape: \[1e\+300\] is .* values, over the limit of 268,435,456 per tensor/.test(e.message),
  );
  assert.throws(
    () =>
      validateNetwork({
        name: 'wide',
        nodes: [
          { name: 'x', shape: [100000] },
          { name: 'y', shape: [100000] },
        ],
        edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
        outputs: ['y'],
      }),
    (e: unknown) => e instanceof SpecError && /edges\[0\]: edge "x->y" \(dense\) would have 10,000,000,000 weights/.test(e.message),
  );
  assert.throws(
    () =>
      validateNetwork({
        name: 'kernel',
        nodes: [
          { name: 'x', shape: [1, 8, 8] },
          { name: 'y', shape: [1, 8, 8] },
        ],
        edges: [{ from: 'x', to: 'y', op: { type: 'conv2d', kernel: 1e9 } }],
        outputs: ['y'],
      }),
    (e: unknown) => e instanceof SpecError && /edges\[0\]/.test(e.message),
  );
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.throws(
    () => parseJsonText(deep, 'network spec'),
    (e: unknown) => e instanceof SpecError && /nested deeper than 256 levels/.test(e.message),
  );
  const unbalanced = '{"a": ' + '['.repeat(100_000);
  assert.throws(() => parseJsonText(unbalanced, 'network spec'), /nested deeper than 256 levels/);
});

test('runtimes: an arena over the limit is refused naming the node and why, before any memory is taken', { timeout: 20_000 }, async () => {
  const spec = {
    name: 'deep-memory',
    nodes: [
      { name: 'x', shape: [64, 64, 64] as [number, number, number] },
      { name: 'h', shape: [64, 64, 64] as [number, number, number], activation: 'relu' as const },
    ],
    edges: [
      { from: 'x', to: 'h', op: { type: 'conv2d' as const, kernel: 1 } },
      { from: 'h', to: 'h', op: { type: 'conv2d' as const, kernel: 1 } },
    ],
    outputs: ['h'],
  };
  const rss0 = process.memoryUsage().rss;
  await assert.rejects(
    Runtime.create(spec, { rollout: { default: 1, edges: { 'h->h': 4096 } }, calibrate: false, workers: 1 }),
    (e: unknown) => e instanceof LimitError && /needs an arena of .* GiB, over the limit .* node "h" \(\[64,64,64\], 1 stream x 4,131 frames of ring/.test(e.message),
  );
  assert.ok(process.memoryUsage().rss - rss0 < 512 * 2 ** 20, 'nothing large was allocated');
  await assert.rejects(Runtime.create(example('mnist-sr'), { streams: 1e6, calibrate: false }), /streams must be an integer from 0 to 4096/);
});

test('placement is bounded: a chain of 2,000 layers starts (the search stops at its budget) and runs exactly', { timeout: 60_000 }, async () => {
  const n = 2000;
  const nodes = [{ name: 'x', shape: [8] as [number] }, ...Array.from({ length: n }, (_, i) => ({ name: `h${i}`, shape: [8] as [number], activation: 'tanh' as const }))];
  const edges = Array.from({ length: n }, (_, i) => ({ from: i === 0 ? 'x' : `h${i - 1}`, to: `h${i}`, op: { type: 'dense' as const } }));
  const net = validateNetwork({ name: 'chain-2000', nodes, edges, outputs: [`h${n - 1}`] });
  const rt = await Runtime.create(net, { workers: 2, warmUp: 1 });
  try {
    assert.equal(rt.placement.nodesOf.flat().length, n);
    const y = await rt.repeat(new Float32Array(8).fill(0.5), 4);
    assert.equal(y[`h${n - 1}`].length, 8);
  } finally {
    await rt.close();
  }
});
