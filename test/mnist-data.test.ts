import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { mnistByClass, mnistSplit } from '../src/io/mnist-data.js';

interface MnistClass {
  readonly length: number;
  get(i: number): number[];
}

test("the shipped digits are the mnist package's 10,000, pixel for pixel, in its order", () => {
  // `mnist` is a dev dependency only: the package ships the compact file instead.
  const classes = createRequire(import.meta.url)('mnist') as MnistClass[];
  const shipped = mnistByClass();
  assert.deepEqual(
    shipped.map((c) => c.length),
    classes.map((c) => c.length),
  );
  classes.forEach((c, label) => {
    for (let i = 0; i < c.length; i++) {
      const want = Float32Array.from(c.get(i));
      const got = shipped[label][i];
      assert.equal(got.label, label);
      assert.ok(
        got.pixels.every((v, k) => Object.is(v, want[k])),
        `class ${label} digit ${i}`,
      );
    }
  });
  const { train, test: held } = mnistSplit();
  assert.deepEqual([train.length, held.length], [8000, 2000]);
});
