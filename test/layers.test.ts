import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';

// The layers of src/, lowest first: a file imports only from its own layer and those below,
// so data flows one way (spec -> network -> rollout -> kernels -> frames -> engine -> training
// -> the live view and the command line), and a lower layer never needs a higher one to be understood.
const LAYERS = ['util', 'graph', 'rollout', 'kernels', 'io', 'import', 'engine', 'train', 'ui', 'cli', 'api'];
const src = new URL('../../src/', import.meta.url).pathname;

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'assembly') out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

test('each layer of src/ imports only from itself and the layers below it', async () => {
  const wrong: string[] = [];
  for (const file of await sources(src)) {
    const layer = relative(src, file).split('/')[0];
    if (!LAYERS.includes(layer)) continue;
    const text = await readFile(file, 'utf8');
    for (const [, spec] of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const target = relative(src, join(file, '..', spec)).split('/')[0];
      if (target !== layer && LAYERS.indexOf(target) > LAYERS.indexOf(layer)) wrong.push(`${relative(src, file)} imports ${spec} (${target} is above ${layer})`);
    }
  }
  assert.deepEqual(wrong, []);
});
