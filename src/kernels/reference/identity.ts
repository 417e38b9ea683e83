import type { IdentityGeometry } from '../../graph/geometry.js';
import type { EdgeKernel } from '../kernel.js';

/** dst[i] += src[i]: the source reinterpreted in the target's shape (row-major). */
export function identityKernel(g: IdentityGeometry): EdgeKernel {
  const { size } = g;
  return {
    run(src, dst) {
      for (let i = 0; i < size; i++) dst[i] += src[i];
    },
  };
}
