import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'streamroll-alive-'));
after(() => rm(dir, { recursive: true, force: true }));
const index = new URL('../src/index.js', import.meta.url).href;

/** Runs a module in a fresh process; the timeout is a hang guard: a process kept alive by an idle runtime never exits. */
async function script(body: string): Promise<string> {
  const file = join(dir, `s${Math.random().toString(36).slice(2)}.mjs`);
  await writeFile(file, `import { Runtime, validateNetwork } from ${JSON.stringify(index)};\n${body}`);
  const { stdout } = await run(process.execPath, [file], { timeout: 20_000 });
  return stdout;
}

test('a runtime never closed does not keep the process alive once idle, but every pending call is finished first', { timeout: 60_000 }, async () => {
  // Exits after its last step although close() is never called.
  assert.equal(
    await script(`const rt = await Runtime.create(${JSON.stringify(new URL('../../examples/mnist-sr.json', import.meta.url).pathname)}, { seed: 1, workers: 2 });
const r = await rt.step(new Float32Array(784));
console.log('stepped', r.prediction.length);`),
    'stepped 10\n',
  );
  // A slow frame (reference kernels, a large dense layer) is awaited with nothing else alive:
  // the threads keep the process alive while the call waits.
  assert.equal(
    await script(`const net = validateNetwork({ name: 'slow', nodes: [{ name: 'x', shape: [3000] }, { name: 'y', shape: [3000] }], edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }], outputs: ['y'] });
const rt = await Runtime.create(net, { backend: 'reference', workers: 1, calibrate: false });
let n = 0;
for await (const { outputs } of rt.run(Array.from({ length: 20 }, () => new Float32Array(3000).fill(1)))) n += outputs.y.length;
const s = await rt.open().catch((e) => e.message);
console.log(n, typeof s);`),
    '60000 string\n',
  );
});
