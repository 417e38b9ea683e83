import { addStore, hsum, madd } from './simd';

/**
 * y[o] += sum_i w[o, i] * x[i]; w is [out][in] row-major (columns already in the source's
 * internal order). Four rows at a time, two vectors of x per step: eight independent
 * accumulators, and each x vector loaded once for the four rows.
 */
export function dense(x: usize, w: usize, y: usize, inSize: i32, outSize: i32): void {
  const rowBytes = <usize>inSize << 2;
  const n8 = inSize & ~7;
  let o = 0;
  for (; o + 4 <= outSize; o += 4) {
    const r0 = w + <usize>o * rowBytes;
    const r1 = r0 + rowBytes;
    const r2 = r1 + rowBytes;
    const r3 = r2 + rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let i = 0; i < n8; i += 8) {
      const off = <usize>i << 2;
      const xa = v128.load(x + off);
      const xb = v128.load(x + off, 16);
      a0 = madd(v128.load(r0 + off), xa, a0);
      b0 = madd(v128.load(r0 + off, 16), xb, b0);
      a1 = madd(v128.load(r1 + off), xa, a1);
      b1 = madd(v128.load(r1 + off, 16), xb, b1);
      a2 = madd(v128.load(r2 + off), xa, a2);
      b2 = madd(v128.load(r2 + off, 16), xb, b2);
      a3 = madd(v128.load(r3 + off), xa, a3);
      b3 = madd(v128.load(r3 + off, 16), xb, b3);
    }
    let s0 = hsum(f32x4.add(a0, b0));
    let s1 = hsum(f32x4.add(a1, b1));
    let s2 = hsum(f32x4.add(a2, b2));
    let s3 = hsum(f32x4.add(a3, b3));
    for (let i = n8; i < inSize; i++) {
      const off = <usize>i << 2;
      const xi = load<f32>(x + off);
      s0 += load<f32>(r0 + off) * xi;
      s1 += load<f32>(r1 + off) * xi;
      s2 += load<f32>(r2 + off) * xi;
      s3 += load<f32>(r3 + off) * xi;
    }
    const yo = y + (<usize>o << 2);
    addStore(yo, f32x4(s0, s1, s2, s3), 4);
  }
  for (; o < outSize; o++) {
    const r = w + <usize>o * rowBytes;
    let a = f32x4.splat(0), b = f32x4.splat(0);
    for (let i = 0; i < n8; i += 8) {
      const off = <usize>i << 2;
      a = madd(v128.load(r + off), v128.load(x + off), a);
      b = madd(v128.load(r + off, 16), v128.load(x + off, 16), b);
    }
    let s = hsum(f32x4.add(a, b));
    for (let i = n8; i < inSize; i++) s += load<f32>(r + (<usize>i << 2)) * load<f32>(x + (<usize>i << 2));
    const yo = y + (<usize>o << 2);
    store<f32>(yo, load<f32>(yo) + s);
  }
}
