import { addStore, addStore16, madd } from './simd';

/**
 * Direct convolution over HWC activations, accumulated into y (HWC):
 * y[oy, ox, oc] += sum w[ky, kx, ic, oc] * x[oy*sh - padT + ky*dh, ox*sw - padL + kx*dw, ic].
 * w is packed [kh][kw][inC][outCp] with outCp = outC rounded up to 4, zero-filled; taps holds,
 * for each of the kh*kw*inC weight rows in that order, the byte offset of its input value
 * from the window's first one, so a window inside the image is one flat loop.
 * Output channels are vectorised: 16 channels x 2 pixels per step (8 accumulators) where
 * both pixels see the whole kernel row, one pixel with clipped kernel ranges at borders.
 * No padding copy, no im2col: borders clip the kernel loops instead.
 */
export function conv2d(
  x: usize, w: usize, taps: usize, y: usize,
  inC: i32, inH: i32, inW: i32, outC: i32, outH: i32, outW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, padT: i32, padL: i32,
): void {
  const outCp = (outC + 3) & ~3;
  for (let oy = 0; oy < outH; oy++) {
    const iy0 = oy * sh - padT;
    // Kernel rows whose input row lies inside the image.
    let ky0 = 0;
    while (ky0 < kh && iy0 + ky0 * dh < 0) ky0++;
    let ky1 = kh;
    while (ky1 > ky0 && iy0 + (ky1 - 1) * dh >= inH) ky1--;
    let ox = 0;
    while (ox < outW) {
      const ix0 = ox * sw - padL;
      const full0 = ix0 >= 0 && ix0 + (kw - 1) * dw < inW;
      const ix1 = ix0 + sw;
      const full1 = ox + 1 < outW && ix1 >= 0 && ix1 + (kw - 1) * dw < inW;
      if (full0 && full1 && ky0 == 0 && ky1 == kh) {
        const first = x + (<usize>((iy0 * inW + ix0) * inC) << 2);
        pixelPairFlat(first, first + (<usize>(sw * inC) << 2), w, taps, kh * kw * inC, y, outC, outCp, (oy * outW + ox) * outC);
        ox += 2;
      } else if (full0 && full1) {
        pixelPair(x, w, y, inC, inW, outC, outCp, kw, dh, dw, iy0, ky0, ky1, ix0, ix1, (oy * outW + ox) * outC);
        ox += 2;
      } else {
        let kx0 = 0;
        while (kx0 < kw && ix0 + kx0 * dw < 0) kx0++;
        let kx1 = kw;
        while (kx1 > kx0 && ix0 + (kx1 - 1) * dw >= inW) kx1--;
        onePixel(x, w, y, inC, inW, outC, outCp, kw, dh, dw, iy0, ky0, ky1, ix0, kx0, kx1, (oy * outW + ox) * outC);
        ox += 1;
      }
    }
  }
}

/** Two pixels whose windows lie wholly inside the input: one loop over the taps. */
@inline function pixelPairFlat(p0: usize, p1: usize, w: usize, taps: usize, T: i32, y: usize, outC: i32, outCp: i32, out0: i32): void {
  const wStep = <usize>outCp << 2;
  const y0 = y + (<usize>out0 << 2);
  const y1 = y0 + (<usize>outC << 2);
  let oc = 0;
  for (; oc + 16 <= outCp; oc += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    let wp = w + (<usize>oc << 2);
    for (let t = 0; t < T; t++) {
      const off = <usize>load<i32>(taps + (<usize>t << 2));
      const v0 = v128.load32_splat(p0 + off);
      const v1 = v128.load32_splat(p1 + off);
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      const w2 = v128.load(wp, 32);
      const w3 = v128.load(wp, 48);
      a0 = madd(w0, v0, a0);
      a1 = madd(w1, v0, a1);
      a2 = madd(w2, v0, a2);
      a3 = madd(w3, v0, a3);
      b0 = madd(w0, v1, b0);
      b1 = madd(w1, v1, b1);
      b2 = madd(w2, v1, b2);
      b3 = madd(w3, v1, b3);
      wp += wStep;
    }
    addStore16(y0 + (<usize>oc << 2), a0, a1, a2, a3, outC - oc);
    addStore16(y1 + (<usize>oc << 2), b0, b1, b2, b3, outC - oc);
  }
  for (; oc < outCp; oc += 4) {
    let a = f32x4.splat(0), b = f32x4.splat(0);
    let wp = w + (<usize>oc << 2);
    for (let t = 0; t < T; t++) {
      const off = <usize>load<i32>(taps + (<usize>t << 2));
      const wv = v128.load(wp);
      a = madd(wv, v128.load32_splat(p0 + off), a);
      b = madd(wv, v128.load32_splat(p1 + off), b);
      wp += wStep;
    }
    addStore(y0 + (<usize>oc << 2), a, outC - oc);
    addStore(y1 + (<usize>oc << 2), b, outC - oc);
  }
}

@inline function pixelPair(
  x: usize, w: usize, y: usize, inC: i32, inW: i32, outC: i32, outCp: i32, kw: i32, dh: i32, dw: i32,
  iy0: i32, ky0: i32, ky1: i32, ix0: i32, ix1: i32, out0: i32,
): void {
  const wStep = <usize>outCp << 2;
  const y0 = y + (<usize>out0 << 2);
  const y1 = y0 + (<usize>outC << 2);
  let oc = 0;
  for (; oc + 16 <= outCp; oc += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    for (let ky = ky0; ky < ky1; ky++) {
      const row = (iy0 + ky * dh) * inW;
      for (let kx = 0; kx < kw; kx++) {
        let p0 = x + (<usize>((row + ix0 + kx * dw) * inC) << 2);
        let p1 = x + (<usize>((row + ix1 + kx * dw) * inC) << 2);
        let wp = w + (<usize>(((ky * kw + kx) * inC) * outCp + oc) << 2);
        for (let ic = 0; ic < inC; ic++) {
          const v0 = v128.load32_splat(p0);
          const v1 = v128.load32_splat(p1);
          const w0 = v128.load(wp);
          const w1 = v128.load(wp, 16);
          const w2 = v128.load(wp, 32);
          const w3 = v128.load(wp, 48);
          a0 = madd(w0, v0, a0);
          a1 = madd(w1, v0, a1);
          a2 = madd(w2, v0, a2);
          a3 = madd(w3, v0, a3);
          b0 = madd(w0, v1, b0);
          b1 = madd(w1, v1, b1);
          b2 = madd(w2, v1, b2);
          b3 = madd(w3, v1, b3);
          p0 += 4;
          p1 += 4;
          wp += wStep;
        }
      }
    }
    addStore16(y0 + (<usize>oc << 2), a0, a1, a2, a3, outC - oc);
    addStore16(y1 + (<usize>oc << 2), b0, b1, b2, b3, outC - oc);
  }
  for (; oc < outCp; oc += 4) {
    let a = f32x4.splat(0), b = f32x4.splat(0);
    for (let ky = ky0; ky < ky1; ky++) {
      const row = (iy0 + ky * dh) * inW;
      for (let kx = 0; kx < kw; kx++) {
        let p0 = x + (<usize>((row + ix0 + kx * dw) * inC) << 2);
        let p1 = x + (<usize>((row + ix1 + kx * dw) * inC) << 2);
        let wp = w + (<usize>(((ky * kw + kx) * inC) * outCp + oc) << 2);
        for (let ic = 0; ic < inC; ic++) {
          const wv = v128.load(wp);
          a = madd(wv, v128.load32_splat(p0), a);
          b = madd(wv, v128.load32_splat(p1), b);
          p0 += 4;
          p1 += 4;
          wp += wStep;
        }
      }
    }
    addStore(y0 + (<usize>oc << 2), a, outC - oc);
    addStore(y1 + (<usize>oc << 2), b, outC - oc);
  }
}

@inline function onePixel(
  x: usize, w: usize, y: usize, inC: i32, inW: i32, outC: i32, outCp: i32, kw: i32, dh: i32, dw: i32,
  iy0: i32, ky0: i32, ky1: i32, ix0: i32, kx0: i32, kx1: i32, out0: i32,
): void {
  const wStep = <usize>outCp << 2;
  const y0 = y + (<usize>out0 << 2);
  let oc = 0;
  for (; oc + 16 <= outCp; oc += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let ky = ky0; ky < ky1; ky++) {
      const row = (iy0 + ky * dh) * inW;
      for (let kx = kx0; kx < kx1; kx++) {
        let p = x + (<usize>((row + ix0 + kx * dw) * inC) << 2);
        let wp = w + (<usize>(((ky * kw + kx) * inC) * outCp + oc) << 2);
        for (let ic = 0; ic < inC; ic++) {
          const v = v128.load32_splat(p);
          a0 = madd(v128.load(wp), v, a0);
          a1 = madd(v128.load(wp, 16), v, a1);
          a2 = madd(v128.load(wp, 32), v, a2);
          a3 = madd(v128.load(wp, 48), v, a3);
          p += 4;
          wp += wStep;
        }
      }
    }
    addStore16(y0 + (<usize>oc << 2), a0, a1, a2, a3, outC - oc);
  }
  for (; oc < outCp; oc += 4) {
    let a = f32x4.splat(0);
    for (let ky = ky0; ky < ky1; ky++) {
      const row = (iy0 + ky * dh) * inW;
      for (let kx = kx0; kx < kx1; kx++) {
        let p = x + (<usize>((row + ix0 + kx * dw) * inC) << 2);
        let wp = w + (<usize>(((ky * kw + kx) * inC) * outCp + oc) << 2);
        for (let ic = 0; ic < inC; ic++) {
          a = madd(v128.load(wp), v128.load32_splat(p), a);
          p += 4;
          wp += wStep;
        }
      }
    }
    addStore(y0 + (<usize>oc << 2), a, outC - oc);
  }
}
