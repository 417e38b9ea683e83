import type { Conv2dGeometry } from '../../graph/geometry.js';
import type { EdgeKernel } from '../kernel.js';

/**
 * Direct convolution over `[C,H,W]`: dst[oc,oy,ox] += sum W[oc,i,ky,kx] * src[g*cig + i, iy, ix]
 * over the cig = inC/groups input channels of the output channel's group g = oc / (outC/groups),
 * with iy = oy*sh - padTop + ky*dh (likewise ix); positions outside the input are zeros.
 */
export function conv2dKernel(g: Conv2dGeometry, weights: Float32Array): EdgeKernel {
  const { inH, inW, outC, outH, outW, kh, kw, sh, sw, dh, dw, padTop, padLeft } = g;
  const cig = g.inC / g.groups;
  const cog = outC / g.groups;
  return {
    run(src, dst) {
      for (let oc = 0; oc < outC; oc++) {
        const ic0 = Math.floor(oc / cog) * cig;
        for (let oy = 0; oy < outH; oy++) {
          for (let ox = 0; ox < outW; ox++) {
            let sum = 0;
            for (let i = 0; i < cig; i++) {
              const ic = ic0 + i;
              for (let ky = 0; ky < kh; ky++) {
                const iy = oy * sh - padTop + ky * dh;
                if (iy < 0 || iy >= inH) continue;
                for (let kx = 0; kx < kw; kx++) {
                  const ix = ox * sw - padLeft + kx * dw;
                  if (ix < 0 || ix >= inW) continue;
                  sum += weights[((oc * cig + i) * kh + ky) * kw + kx] * src[(ic * inH + iy) * inW + ix];
                }
              }
            }
            dst[(oc * outH + oy) * outW + ox] += sum;
          }
        }
      }
    },
  };
}
