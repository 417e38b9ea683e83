import type { PoolGeometry } from '../../graph/geometry.js';
import type { EdgeKernel } from '../kernel.js';

/**
 * Max or average over each window, per channel. Padded positions are skipped, so an
 * average divides by the number of real elements (TensorFlow's convention).
 */
export function poolKernel(g: PoolGeometry): EdgeKernel {
  const { inC, inH, inW, outH, outW, kh, kw, sh, sw, padTop, padLeft } = g;
  const isMax = g.type === 'maxpool';
  return {
    run(src, dst) {
      for (let c = 0; c < inC; c++) {
        for (let oy = 0; oy < outH; oy++) {
          for (let ox = 0; ox < outW; ox++) {
            let acc = isMax ? -Infinity : 0;
            let count = 0;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - padTop + ky;
              if (iy < 0 || iy >= inH) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sw - padLeft + kx;
                if (ix < 0 || ix >= inW) continue;
                const v = src[(c * inH + iy) * inW + ix];
                acc = isMax ? Math.max(acc, v) : acc + v;
                count++;
              }
            }
            dst[(c * outH + oy) * outW + ox] += isMax ? acc : acc / count;
          }
        }
      }
    },
  };
}
