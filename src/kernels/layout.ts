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

/**
 * The order of a node's values in arrays that cross the API: row-major `[C,H,W]` (`chw`, the
 * default), or `[H,W,C]` (`hwc`: how TensorFlow.js and Keras models keep their tensors).
 */
export type ExternalOrder = 'chw' | 'hwc';

/** True when values in `order` must be transposed to or from a state in `layout`. */
export const crossesOrder = (shape: Shape, layout: StateLayout, order: ExternalOrder): boolean => shape.length === 3 && shape[0] > 1 && (layout === 'hwc') !== (order === 'hwc');

/** [C][P] -> [P][C] (P = H*W pixels), or back with `inverse`. */
function transpose(src: ArrayLike<number>, out: Float32Array, C: number, P: number, inverse: boolean): void {
  if (!inverse) {
    for (let c = 0; c < C; c++) {
      const base = c * P;
      for (let p = 0; p < P; p++) out[p * C + c] = src[base + p];
    }
  } else {
    for (let c = 0; c < C; c++) {
      const base = c * P;
      for (let p = 0; p < P; p++) out[base + p] = src[p * C + c];
    }
  }
}

/** Copies values given in `order` (row-major `[C,H,W]` by default) into a state in the backend's internal order. */
export function toInternal(values: ArrayLike<number>, out: Float32Array, shape: Shape, layout: StateLayout, order: ExternalOrder = 'chw'): void {
  if (!crossesOrder(shape, layout, order)) {
    if (ArrayBuffer.isView(values)) out.set(values as Float32Array);
    else for (let i = 0; i < out.length; i++) out[i] = values[i];
    return;
  }
  // chw values into hwc states, or hwc values into chw states.
  transpose(values, out, shape[0], (shape[1] as number) * (shape[2] as number), order === 'hwc');
}

/** Copies a state in internal order out in `order` (row-major `[C,H,W]` by default). */
export function fromInternal(internal: Float32Array, out: Float32Array, shape: Shape, layout: StateLayout, order: ExternalOrder = 'chw'): void {
  if (!crossesOrder(shape, layout, order)) {
    out.set(internal.subarray(0, out.length));
    return;
  }
  // hwc states out as chw values, or chw states out as hwc values.
  transpose(internal, out, shape[0], (shape[1] as number) * (shape[2] as number), layout === 'hwc');
}
