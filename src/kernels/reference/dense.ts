import type { DenseGeometry } from '../../graph/geometry.js';
import type { EdgeKernel } from '../kernel.js';

/** dst[o] += sum_i W[o, i] * src[i], with W `[out, in]` row-major. */
export function denseKernel(g: DenseGeometry, weights: Float32Array): EdgeKernel {
  const { inSize, outSize } = g;
  return {
    run(src, dst) {
      for (let o = 0; o < outSize; o++) {
        let sum = 0;
        const row = o * inSize;
        for (let i = 0; i < inSize; i++) sum += weights[row + i] * src[i];
        dst[o] += sum;
      }
    },
  };
}
