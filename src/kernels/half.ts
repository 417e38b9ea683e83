// 16-bit weight formats: rounding float32 to bfloat16 and IEEE half (to nearest, ties to
// even), and back. The native kernels store weights in them; every other backend rounds a
// node's weights the same way and keeps them as float32, so a precision means the same
// numbers on every backend.
import type { WeightPrecision } from '../graph/spec.js';

/** Rounds half-to-even: x.5 goes to the even neighbour. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Rounds a number (as float32) to an IEEE half float (to nearest, ties to even) and returns
 * its 16 bits; subnormal halves included.
 * @throws RangeError for values outside half precision's range (beyond +-65504 after rounding) or not finite
 */
export function toFp16(value: number): number {
  const f = Math.fround(value);
  const sign = f < 0 || Object.is(f, -0) ? 0x8000 : 0;
  const abs = Math.abs(f);
  if (!Number.isFinite(abs)) throw new RangeError(`${value} has no half-precision value`);
  if (abs < 2 ** -14) return sign | roundEven(abs * 2 ** 24); // subnormal (1024 rounds up to the smallest normal)
  let e = Math.floor(Math.log2(abs));
  // log2 can miss by one at exact powers of two.
  if (2 ** e > abs) e--;
  else if (2 ** (e + 1) <= abs) e++;
  let m = roundEven((abs / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) throw new RangeError(`${value} is outside half precision's range (+-65504)`);
  return sign | ((e + 15) << 10) | m;
}

/** Rounds float32 to bfloat16 (to nearest, ties to even): the top 16 bits of the rounded value. */
export function toBf16(value: number): number {
  const bits = new Uint32Array(Float32Array.of(value).buffer)[0];
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A bfloat16's value. */
export function fromBf16(h: number): number {
  return new Float32Array(Uint32Array.of((h & 0xffff) << 16).buffer)[0];
}

/** An IEEE half's value. */
export function fromFp16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m === 0 ? sign * Infinity : Number.NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * `value` rounded to `precision` and widened back (float32 unchanged).
 * @throws RangeError for fp16 beyond +-65504 or a value that is not finite
 */
export function roundWeight(value: number, precision: WeightPrecision): number {
  if (precision === 'bf16') return fromBf16(toBf16(value));
  if (precision === 'fp16') return fromFp16(toFp16(value));
  return value;
}
