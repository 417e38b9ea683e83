import { addStore, madd } from './simd';

/**
 * Depthwise convolution over HWC activations (groups = input channels, channel multiplier
 * M), accumulated into y: y[oy, ox, c*M + j] += sum w[ky, kx, c*M + j] * x[iy, ix, c] with
 * iy = oy*sh - padT + ky*dh (likewise ix); positions outside the input are zeros. w is packed
 * [kh][kw][C*M]. With M = 1 (MobileNets) every tap is one multiply-add over 16 channels at a
 * time; the kernel rows and columns that fall outside the input are skipped per pixel.
 */
export function depthwise(
  x: usize, w: usize, y: usize,
  C: i32, M: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, padT: i32, padL: i32,
): void {
  const outC = C * M;
  const rowStep = <usize>(dh * inW * C) << 2;
  const colStep = <usize>(dw * C) << 2;
  const wRow = <usize>(kw * outC) << 2;
  const wCol = <usize>outC << 2;
  for (let oy = 0; oy < outH; oy++) {
    const iy0 = oy * sh - padT;
    let ky0 = 0;
    while (ky0 < kh && iy0 + ky0 * dh < 0) ky0++;
    let ky1 = kh;
    while (ky1 > ky0 && iy0 + (ky1 - 1) * dh >= inH) ky1--;
    for (let ox = 0; ox < outW; ox++) {
      const ix0 = ox * sw - padL;
      let kx0 = 0;
      while (kx0 < kw && ix0 + kx0 * dw < 0) kx0++;
      let kx1 = kw;
      while (kx1 > kx0 && ix0 + (kx1 - 1) * dw >= inW) kx1--;
      const yp = y + (<usize>((oy * outW + ox) * outC) << 2);
      const first = x + (<usize>(((iy0 + ky0 * dh) * inW + ix0 + kx0 * dw) * C) << 2);
      const wFirst = w + <usize>ky0 * wRow + <usize>kx0 * wCol;
      if (M == 1) {
        let c = 0;
        for (; c + 16 <= C; c += 16) {
          const off = <usize>c << 2;
          let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
          let xr = first + off;
          let wr = wFirst + off;
          for (let ky = ky0; ky < ky1; ky++) {
            let xp = xr;
            let wp = wr;
            for (let kx = kx0; kx < kx1; kx++) {
              a0 = madd(v128.load(xp), v128.load(wp), a0);
              a1 = madd(v128.load(xp, 16), v128.load(wp, 16), a1);
              a2 = madd(v128.load(xp, 32), v128.load(wp, 32), a2);
              a3 = madd(v128.load(xp, 48), v128.load(wp, 48), a3);
              xp += colStep;
              wp += wCol;
            }
            xr += rowStep;
            wr += wRow;
          }
          const o = yp + off;
          v128.store(o, f32x4.add(v128.load(o), a0));
          v128.store(o, f32x4.add(v128.load(o, 16), a1), 16);
          v128.store(o, f32x4.add(v128.load(o, 32), a2), 32);
          v128.store(o, f32x4.add(v128.load(o, 48), a3), 48);
        }
        for (; c < C; c += 4) {
          const off = <usize>c << 2;
          const lanes = C - c < 4 ? C - c : 4;
          let a = f32x4.splat(0);
          let xr = first + off;
          let wr = wFirst + off;
          for (let ky = ky0; ky < ky1; ky++) {
            let xp = xr;
            let wp = wr;
            for (let kx = kx0; kx < kx1; kx++) {
              // A tail of fewer than 4 channels reads past its own: the loads stay inside the
              // memory (a spare line ends the arena) and the extra lanes are never stored.
              a = madd(v128.load(xp), v128.load(wp), a);
              xp += colStep;
              wp += wCol;
            }
            xr += rowStep;
            wr += wRow;
          }
          addStore(yp + off, a, lanes);
        }
      } else {
        for (let c = 0; c < C; c++) {
          for (let j = 0; j < M; j++) {
            const oc = c * M + j;
            let acc: f32 = 0;
            for (let ky = ky0; ky < ky1; ky++) {
              for (let kx = kx0; kx < kx1; kx++) {
                const xv = load<f32>(x + (<usize>(((iy0 + ky * dh) * inW + ix0 + kx * dw) * C + c) << 2));
                acc += xv * load<f32>(w + (<usize>((ky * kw + kx) * outC + oc) << 2));
              }
            }
            const o = yp + (<usize>oc << 2);
            store<f32>(o, load<f32>(o) + acc);
          }
        }
      }
    }
  }
}
