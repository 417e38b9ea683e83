import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../src/cli/main.js';

const dir = await mkdtemp(join(tmpdir(), 'streamroll-bench-'));
after(() => rm(dir, { recursive: true, force: true }));

test('bench --json measures every rollout x worker count, with speedups, latency, placement and accuracy curves; --html writes the report', async () => {
  let out = '';
  let err = '';
  const html = join(dir, 'report.html');
  const code = await main(['bench', '--frames', '200', '--sequences', '5', '--workers', '1,2', '--json', '--html', html, '--log-level', 'silent'], { out: (t) => (out += t), err: (t) => (err += t) });
  assert.equal(code, 0, err);
  const doc = JSON.parse(out) as {
    baselineFramesPerSec: number;
    results: { rollout: string; workers: number; framesPerSec: number; speedup: number; latencyUs: { p50: number; p99: number }; placement: string[][] }[];
    accuracy: Record<string, { tick: number; updateSteps: number; accuracy: number }[]>;
  };
  assert.ok(doc.baselineFramesPerSec > 0);
  assert.deepEqual(
    doc.results.map((r) => `${r.rollout}/${r.workers}`),
    ['streaming/1', 'streaming/2', 'sequential/1', 'sequential/2'],
  );
  for (const r of doc.results) {
    assert.ok(r.framesPerSec > 0 && r.speedup > 0 && r.latencyUs.p99 >= r.latencyUs.p50);
    assert.equal(r.placement.length, r.workers);
  }
  // The paper's clock: streaming answers every update step, sequential every F = 3.
  assert.deepEqual(doc.accuracy.streaming.map((p) => p.updateSteps).slice(0, 3), [0, 1, 2]);
  assert.deepEqual(doc.accuracy.sequential.map((p) => p.updateSteps).slice(0, 3), [3, 6, 9]);
  const page = await readFile(html, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.equal((page.match(/<svg /g) ?? []).length, 3);
  assert.match(page, /Accuracy against update steps/);
});
