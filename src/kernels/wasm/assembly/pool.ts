import { addStore } from './simd';

/**
 * Max (kind 0) or average (kind 1) pooling over HWC, accumulated into y. Vectorised over
 * channels; padded positions are skipped, and an average divides by the real elements.
 * Channel tails are read and written lane by lane so no byte past the tensor is touched.
 */
export function pool(
  x: usize, y: usize, kind: i32, C: i32, inH: i32, inW: i32, outH: i32, outW: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padT: i32, padL: i32,
): void {
  const c4 = C & ~3;
  for (let oy = 0; oy < outH; oy++) {
    const iy0 = oy * sh - padT;
    const ya = max(iy0, 0);
    const yb = min(iy0 + kh, inH);
    for (let ox = 0; ox < outW; ox++) {
      const ix0 = ox * sw - padL;
      const xa = max(ix0, 0);
      const xb = min(ix0 + kw, inW);
      const q = y + (<usize>((oy * outW + ox) * C) << 2);
      const scale = f32(1) / <f32>((yb - ya) * (xb - xa));
      for (let c = 0; c < c4; c += 4) {
        let acc = kind == 0 ? f32x4.splat(-Infinity) : f32x4.splat(0);
        for (let iy = ya; iy < yb; iy++) {
          for (let ix = xa; ix < xb; ix++) {
            const v = v128.load(x + (<usize>((iy * inW + ix) * C + c) << 2));
            acc = kind == 0 ? f32x4.max(acc, v) : f32x4.add(acc, v);
          }
        }
        addStore(q + (<usize>c << 2), kind == 0 ? acc : f32x4.mul(acc, f32x4.splat(scale)), 4);
      }
      for (let c = c4; c < C; c++) {
        let acc: f32 = kind == 0 ? -Infinity : 0;
        for (let iy = ya; iy < yb; iy++) {
          for (let ix = xa; ix < xb; ix++) {
            const v = load<f32>(x + (<usize>((iy * inW + ix) * C + c) << 2));
            acc = kind == 0 ? max<f32>(acc, v) : acc + v;
          }
        }
        const p = q + (<usize>c << 2);
        store<f32>(p, load<f32>(p) + (kind == 0 ? acc : acc * scale));
      }
    }
  }
}
