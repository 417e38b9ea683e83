/**
 * Small seeded PRNG (mulberry32): the same seed gives the same stream on every platform,
 * which deterministic weight init and reproducible tests need. Not for cryptography.
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box-Muller). */
  gaussian(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

/** A seeded Fisher-Yates shuffle of a copy of `items`. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rng = new Random(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

let normalTable: Float32Array | undefined;

/** The standard normal quantile function (Acklam's rational approximation, |error| < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * Adds Gaussian noise of standard deviation `std` to `values` into `out`, clipped to [0, 1],
 * at a few nanoseconds a value: each value draws 16 random bits and looks up that quantile of
 * the standard normal in a table of 65,536 (built once). The noise is a 65,536-level quantised
 * Gaussian, exact in mean and variance to 1e-4 and cut off at ±4.3 σ, which clipping makes
 * indistinguishable here; Box-Muller costs ~40 ns a value, too much for a 100 Hz camera that
 * must stay cheap. Draws one 32-bit number per two values.
 */
export function addClippedNoise(values: ArrayLike<number>, std: number, rng: Random, out: Float32Array): void {
  normalTable ??= Float32Array.from({ length: 65536 }, (_, i) => normalQuantile((i + 0.5) / 65536));
  const table = normalTable;
  for (let i = 0; i < out.length; i += 2) {
    const bits = rng.uint32();
    const a = values[i] + std * table[bits & 0xffff];
    out[i] = Math.min(1, Math.max(0, a));
    if (i + 1 < out.length) {
      const b = values[i + 1] + std * table[bits >>> 16];
      out[i + 1] = Math.min(1, Math.max(0, b));
    }
  }
}
