import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { conv2d, dense, NetworkBuilder } from '../src/graph/builder.js';
import { SpecError } from '../src/graph/errors.js';

test('the builder produces exactly the object of examples/mnist-sr.json', async () => {
  const json = JSON.parse(await readFile(new URL('../../examples/mnist-sr.json', import.meta.url), 'utf8')) as unknown;
  const built = new NetworkBuilder('mnist-sr')
    .describe("The paper's MNIST net with a skip edge h1 -> prediction and a recurrent 3x3 conv h1 -> h1.")
    .node('image', [1, 28, 28])
    .node('h1', [16, 7, 7], 'relu')
    .node('h2', [128], 'relu')
    .node('prediction', [10], 'softmax')
    .edge('image', 'h1', conv2d({ kernel: 7, stride: 4, padding: 'same' }))
    .edge('h1', 'h2', dense())
    .edge('h2', 'prediction', dense())
    .edge('h1', 'prediction', dense())
    .edge('h1', 'h1', conv2d({ kernel: 3, stride: 1, padding: 'same' }))
    .output('prediction')
    .build();
  assert.deepEqual(JSON.parse(JSON.stringify(built)), json);
});

test('builder.validate() reports problems like a JSON spec would', () => {
  const b = new NetworkBuilder('bad').node('x', [4]).node('y', [3], 'relu').edge('x', 'z', dense()).output('y');
  assert.throws(
    () => b.validate(),
    (err: unknown) => err instanceof SpecError && err.issues.some((i) => i.path === 'edges[0].to' && i.message.includes('"z"')),
  );
});
