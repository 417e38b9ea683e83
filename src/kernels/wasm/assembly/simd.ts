// Helpers shared by the kernels. Built twice: plain SIMD, and relaxed SIMD where the
// multiply-add may fuse (ASC_FEATURE_RELAXED_SIMD is a compile-time constant).

/** a * b + c, fused where relaxed SIMD allows. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** *p += v for the first `lanes` lanes (1..4); lanes past a tensor's end are never written. */
@inline export function addStore(p: usize, v: v128, lanes: i32): void {
  if (lanes >= 4) {
    v128.store(p, f32x4.add(v128.load(p), v));
    return;
  }
  store<f32>(p, load<f32>(p) + f32x4.extract_lane(v, 0));
  if (lanes > 1) store<f32>(p, load<f32>(p, 4) + f32x4.extract_lane(v, 1), 4);
  if (lanes > 2) store<f32>(p, load<f32>(p, 8) + f32x4.extract_lane(v, 2), 8);
}

/** *p += [v0 v1 v2 v3] over the first `lanes` of 16 channels (1..16), as addStore does for 4. */
@inline export function addStore16(p: usize, v0: v128, v1: v128, v2: v128, v3: v128, lanes: i32): void {
  addStore(p, v0, lanes);
  if (lanes > 4) addStore(p + 16, v1, lanes - 4);
  if (lanes > 8) addStore(p + 32, v2, lanes - 8);
  if (lanes > 12) addStore(p + 48, v3, lanes - 12);
}
