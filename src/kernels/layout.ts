import type { Shape } from '../graph/spec.js';
import type { StateLayout } from './kernel.js';

/**
 * Position in the internal order of each element of a state, by its row-major `[C,H,W]`
 * index: `perm[chwIndex] = internalIndex`. Null when the two orders agree (vectors, `chw`,
 * one channel). For packing weights; per-frame copies use {@link toInternal}.
 */
export function internalOrder(shape: Shape, layout: StateLayout): Int32Array | null {
  if (!needsTranspose(shape, layout)) return null;
  const [C, H, W] = shape as readonly [number, number, number];
  const perm = new Int32Array(C * H * W);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) perm[(c * H + y) * W + x] = (y * W + x) * C + c;
  return perm;
}

/** True when a state's internal order differs from row-major `[C,H,W]`. */
export const needsTranspose = (shape: Shape, layout: StateLayout): boolean => layout === 'hwc' && shape.length === 3 && shape[0] > 1;

/** Copies a row-major `[C,H,W]` array into a state in the backend's internal order. */
export function toInternal(chw: ArrayLike<number>, out: Float32Array, shape: Shape, layout: StateLayout): void {
  if (!needsTranspose(shape, layout)) {
    if (ArrayBuffer.isView(chw)) out.set(chw as Float32Array);
    else for (let i = 0; i < out.length; i++) out[i] = chw[i];
    return;
  }
  const [C, H, W] = shape as readonly [number, number, number];
  const plane = H * W;
  // Read each channel plane sequentially; write with stride C.
  for (let c = 0; c < C; c++) {
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[p * C + c] = chw[base + p];
  }
}

/** Copies a state in internal order out as a row-major `[C,H,W]` array. */
export function fromInternal(internal: Float32Array, out: Float32Array, shape: Shape, layout: StateLayout): void {
  if (!needsTranspose(shape, layout)) {
    out.set(internal.subarray(0, out.length));
    return;
  }
  const [C, H, W] = shape as readonly [number, number, number];
  const plane = H * W;
  for (let c = 0; c < C; c++) {
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[base + p] = internal[p * C + c];
  }
}
