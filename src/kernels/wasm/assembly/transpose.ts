// Layout conversions between row-major [C][P] (CHW, P = H*W pixels) and [P][C] (HWC),
// 4 channels x 4 pixels at a time with SIMD shuffles; scalar tails.

@inline function transpose4(a: v128, b: v128, c: v128, d: v128, out: usize, stride: usize): void {
  const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(out + stride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(out + 2 * stride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(out + 3 * stride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/** dst[p*C + c] = src[c*P + p]: CHW to HWC. */
export function chwToHwc(src: usize, dst: usize, C: i32, P: i32): void {
  const c4 = C & ~3;
  const p4 = P & ~3;
  const plane = <usize>P << 2;
  const row = <usize>C << 2;
  for (let c = 0; c < c4; c += 4) {
    const r0 = src + <usize>c * plane;
    for (let p = 0; p < p4; p += 4) {
      const off = <usize>p << 2;
      transpose4(v128.load(r0 + off), v128.load(r0 + plane + off), v128.load(r0 + 2 * plane + off), v128.load(r0 + 3 * plane + off), dst + (<usize>(p * C + c) << 2), row);
    }
    for (let p = p4; p < P; p++) for (let k = 0; k < 4; k++) store<f32>(dst + (<usize>(p * C + c + k) << 2), load<f32>(src + (<usize>((c + k) * P + p) << 2)));
  }
  for (let c = c4; c < C; c++) for (let p = 0; p < P; p++) store<f32>(dst + (<usize>(p * C + c) << 2), load<f32>(src + (<usize>(c * P + p) << 2)));
}

/**
 * dst[c*P + p] = src[p*C + c]: HWC to CHW. Four channels at a time over all pixels, so the
 * writes stream along four planes: walking pixels outermost wrote to C planes P*4 bytes apart
 * at once, which alias in the cache (4 KB apart for 32x32 maps) and ran 4x slower.
 */
export function hwcToChw(src: usize, dst: usize, C: i32, P: i32): void {
  const c4 = C & ~3;
  const p4 = P & ~3;
  const plane = <usize>P << 2;
  const row = <usize>C << 2;
  for (let c = 0; c < c4; c += 4) {
    const coff = <usize>c << 2;
    const d0 = dst + <usize>c * plane;
    for (let p = 0; p < p4; p += 4) {
      const r0 = src + <usize>p * row + coff;
      transpose4(v128.load(r0), v128.load(r0 + row), v128.load(r0 + 2 * row), v128.load(r0 + 3 * row), d0 + (<usize>p << 2), plane);
    }
    for (let p = p4; p < P; p++) for (let k = 0; k < 4; k++) store<f32>(dst + (<usize>((c + k) * P + p) << 2), load<f32>(src + (<usize>(p * C + c + k) << 2)));
  }
  for (let c = c4; c < C; c++) for (let p = 0; p < P; p++) store<f32>(dst + (<usize>(c * P + p) << 2), load<f32>(src + (<usize>(p * C + c) << 2)));
}
