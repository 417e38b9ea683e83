import type { Shape } from '../graph/spec.js';
import type { StateLayout } from './kernel.js';

/**
 * Position in the internal order of each element of a state, by its row-major `[C,H,W]`
 * index: `perm[chwIndex] = internalIndex`. Null when the two orders agree (vectors, `chw`).
 */
export function internalOrder(shape: Shape, layout: StateLayout): Int32Array | null {
  if (layout === 'chw' || shape.length === 1) return null;
  const [C, H, W] = shape;
  if (C === 1) return null;
  const perm = new Int32Array(C * H * W);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) perm[(c * H + y) * W + x] = (y * W + x) * C + c;
  return perm;
}

/** Copies a row-major `[C,H,W]` array into the backend's internal order. */
export function toInternal(chw: ArrayLike<number>, out: Float32Array, perm: Int32Array | null): void {
  if (perm === null) {
    for (let i = 0; i < out.length; i++) out[i] = chw[i];
    return;
  }
  for (let i = 0; i < perm.length; i++) out[perm[i]] = chw[i];
}

/** Copies an internal-order state out as a row-major `[C,H,W]` array. */
export function fromInternal(internal: Float32Array, out: Float32Array, perm: Int32Array | null): void {
  if (perm === null) {
    out.set(internal.subarray(0, out.length));
    return;
  }
  for (let i = 0; i < perm.length; i++) out[i] = internal[perm[i]];
}
