import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { cli } from './helpers/cli.js';
import { initParameters } from '../src/graph/parameters.js';
import { saveModel } from '../src/io/model-file.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { resolveRollout } from '../src/rollout/pattern.js';

const root = new URL('../../', import.meta.url).pathname;
const example = (name: string): string => join(root, 'examples', name);
const dir = await mkdtemp(join(tmpdir(), 'streamroll-cli-'));
after(() => rm(dir, { recursive: true, force: true }));

test('analyze --json prints exactly the contract document for a valid rollout', async () => {
  const { code, out, err } = await cli('analyze', example('mnist-sr.json'), '--rollout', 'sequential', '--window', '3', '--json');
  assert.equal(code, 0, err);
  assert.equal(err, '');
  const doc = JSON.parse(out) as Record<string, unknown>;
  assert.equal(doc.valid, true);
  assert.equal(doc.inferenceFactor, 3);
  assert.equal(doc.modelParallel, false);
  assert.deepEqual(doc.rollout, { 'image->h1': 0, 'h1->h2': 0, 'h2->prediction': 0, 'h1->prediction': 0, 'h1->h1': 1 });
  assert.deepEqual(doc.tableau, { image: [0, 0, 0, 0], h1: [0, 1, 2, 3], h2: [0, 2, 3, 4], prediction: [0, 3, 4, 5] });
  assert.deepEqual(doc.outputs, { prediction: { delay: 0, firstResponseStep: 3, firstResponseFrame: 1, responsePeriod: 3 } });
});

test('analyze of an invalid pattern exits 1 with {"valid": false, "cycle": [...]} and says why on stderr', async () => {
  const svg = join(dir, 'bad.svg');
  const { code, out, err } = await cli('analyze', example('mnist-sr.json'), '--rollout', example('mnist-sr.invalid.rollout.json'), '--json', '--svg', svg);
  assert.equal(code, 1);
  const doc = JSON.parse(out) as Record<string, unknown>;
  assert.equal(doc.valid, false);
  assert.deepEqual(doc.cycle, ['h1', 'h1']);
  assert.match(err, /the cycle h1 -> h1 has R=0 on every edge \(h1->h1\)/);
  const picture = await readFile(svg, 'utf8');
  assert.match(picture, /INVALID/);
  assert.match(picture, /#d62728/);
});

test('the readable report has the rollout, the tableau, the outputs and the fastest model-parallel pattern', async () => {
  const { code, out } = await cli('analyze', example('mnist-s.json'), '--rollout', 'streaming');
  assert.equal(code, 0);
  assert.match(out, /rollout streaming: valid, fully model-parallel/);
  assert.match(out, /inference factor F\(R\) = 1 update step per frame/);
  assert.match(out, /h1->prediction\s+dense\s+1/);
  assert.match(out, /prediction\s+\[10\]\s+0\s+1\s+2\s+3\s+3/);
  assert.match(out, /prediction\s+2\s+2\s+1/);
  assert.match(out, /fastest fully model-parallel pattern .*F=1, prediction delay 1/);
});

test('--svg draws one labelled circle per node instance and one arrow per window edge', async () => {
  const svg = join(dir, 's.svg');
  const { code } = await cli('analyze', example('mnist-s.json'), '--rollout', 'streaming', '--window', '4', '--svg', svg);
  assert.equal(code, 0);
  const picture = await readFile(svg, 'utf8');
  assert.match(picture, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((picture.match(/<circle [^>]*><title>/g) ?? []).length, 4 * 5);
  // 4 edges, each drawn into frames 1..4 (all R=1, sources from frame 0 on).
  assert.equal((picture.match(/marker-end="url\(#a1\)"/g) ?? []).length, 4 * 4 + 1);
  assert.match(picture, /<title>prediction, frame 2: T = 2<\/title>/);
  assert.match(picture, /stroke="#2ca02c" stroke-width="3.5"><title>prediction, frame 2/);
});

test('a model file can be analyzed with its own rollout', async () => {
  const network = await loadNetworkFile(example('mnist-sr.json'));
  const path = join(dir, 'm.srm');
  await saveModel(path, { network, rollout: resolveRollout(network, { default: 1, edges: { 'image->h1': 0 } }), params: initParameters(network), meta: {} });
  const doc = JSON.parse((await cli('analyze', path, '--json')).out) as { outputs: Record<string, { delay: number }>; modelParallel: boolean };
  assert.equal(doc.outputs.prediction.delay, 1);
  assert.equal(doc.modelParallel, true);
});

test('bad input: clear message on stderr, exit 1, and one JSON error document with --json', async () => {
  const bad = join(dir, 'bad.json');
  await writeFile(
    bad,
    JSON.stringify({
      name: 'x',
      nodes: [
        { name: 'a', shape: [2] },
        { name: 'b', shape: [2] },
      ],
      edges: [{ from: 'a', to: 'c', op: { type: 'dense' } }],
      outputs: ['b'],
    }),
  );
  const r = await cli('analyze', bad, '--json');
  assert.equal(r.code, 1);
  assert.match(r.err, /bad\.json: invalid network spec/);
  assert.match(r.err, /edges\[0\]\.to: unknown node "c"/);
  const doc = JSON.parse(r.out) as { error: { issues: { path: string }[] } };
  assert.equal(doc.error.issues[0].path, 'edges[0].to');
  const missing = await cli('analyze', join(dir, 'nope.json'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /cannot read network spec .*nope\.json: no such file/);
  assert.equal((await cli('analyze', example('mnist-s.json'), '--window', '0')).code, 1);
  const unknown = await cli('analyze', example('mnist-s.json'), '--frobnicate');
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /Unknown option '--frobnicate'/);
  const pattern = join(dir, 'p.json');
  await writeFile(pattern, '{"edges": {"h1->h9": 0}}');
  assert.match((await cli('analyze', example('mnist-s.json'), '--rollout', pattern)).err, /p\.json: invalid rollout pattern\n\s+edges\["h1->h9"\]: unknown edge id/);
  assert.equal((await cli('bogus')).code, 1);
});

test('--help texts match the options the commands accept', async () => {
  const top = await cli('--help');
  assert.equal(top.code, 0);
  assert.match(top.out, /analyze\s+validity, tableau/);
  const help = await cli('analyze', '--help');
  assert.equal(help.code, 0);
  for (const option of ['--rollout', '--window', '--json', '--svg']) assert.ok(help.out.includes(option), option);
});

test('the installed binary runs by itself after a rebuild (execute bit, shebang): exit codes and a single JSON document on stdout', async () => {
  const run = promisify(execFile);
  const bin = join(root, 'dist/src/cli/main.js');
  // Executed directly, as npx's link does: a build that drops the execute bit fails here.
  const { stdout } = await run(bin, ['analyze', example('mnist-ff.json'), '--json']);
  assert.equal((JSON.parse(stdout) as { outputs: { prediction: { firstResponseStep: number } } }).outputs.prediction.firstResponseStep, 3);
  await assert.rejects(run(process.execPath, [bin, 'analyze', example('mnist-sr.json'), '--rollout', example('mnist-sr.invalid.rollout.json')]), (err: { code?: number }) => err.code === 1);
});
