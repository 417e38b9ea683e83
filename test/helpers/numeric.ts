import assert from 'node:assert/strict';

/**
 * max |a - b| / max |b|: the error measure of "relative error < 1e-5". With `floor`, the
 * scale is at least that: for outputs that may all lie near zero after cancellation (a
 * hard_sigmoid cut just above 0), where a float32 sum's absolute error is all there is.
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 0): number {
  assert.equal(actual.length, expected.length, 'length');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    if (Number.isNaN(actual[i])) return Infinity;
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  scale = Math.max(scale, floor);
  return scale === 0 ? diff : diff / scale;
}

/** Random floats in [-1, 1) from a seed. */
export function randomArray(n: number, rng: { uniform(lo: number, hi: number): number }): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** True when two float arrays hold the same bits. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
