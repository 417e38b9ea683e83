// How far a contender's outputs are from the reference's, for the benches that check a
// peer computes what we compute before timing it.

/** Largest absolute difference, relative to the largest magnitude of `expected`. */
export function maxRelErr(actual: Float32Array, expected: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < actual.length; i++) {
    d = Math.max(d, Math.abs(actual[i] - expected[i]));
    s = Math.max(s, Math.abs(expected[i]));
  }
  return s === 0 ? d : d / s;
}
