// Arithmetic every importer shares: where a windowed op's padding goes, how big its output
// is, TensorFlow's [kh,kw,in,out] kernels in our [out,in,kh,kw] order, and a batch norm's
// statistics folded into a per-channel scale and shift.
import type { IrShape, Pads } from './ir.js';
import { OpUnsupported } from './ir.js';

/**
 * SAME padding as [top, bottom, left, right]: the output keeps ceil(len / stride) positions
 * and the odd pad goes after (TensorFlow's SAME, ONNX's SAME_UPPER) or before (SAME_LOWER).
 */
export function samePads(x: IrShape, kernel: readonly number[], stride: readonly number[], dilation: readonly number[], oddPadAfter = true): Pads {
  const p: number[] = [];
  for (let a = 0; a < 2; a++) {
    const len = x[a + 1];
    const out = Math.ceil(len / stride[a]);
    const total = Math.max(0, (out - 1) * stride[a] + (kernel[a] - 1) * dilation[a] + 1 - len);
    const small = Math.floor(total / 2);
    p.push(...(oddPadAfter ? [small, total - small] : [total - small, small]));
  }
  return [p[0], p[1], p[2], p[3]];
}

/** Output height and width of a window over [C,H,W] `x`; throws when it does not fit. */
export function windowOut(x: IrShape, kernel: readonly number[], stride: readonly number[], dilation: readonly number[], pads: Pads, ceil = false): [number, number] {
  const round = ceil ? Math.ceil : Math.floor;
  const h = round((x[1] + pads[0] + pads[1] - ((kernel[0] - 1) * dilation[0] + 1)) / stride[0]) + 1;
  const w = round((x[2] + pads[2] + pads[3] - ((kernel[1] - 1) * dilation[1] + 1)) / stride[1]) + 1;
  if (h < 1 || w < 1) throw new OpUnsupported(`a window of ${kernel.join('x')} does not fit a ${x[1]}x${x[2]} input`);
  return [h, w];
}

/** A TensorFlow kernel [kh, kw, in, out] as [out, in, kh, kw]. */
export function hwioToOihw(values: Float32Array, kh: number, kw: number, cin: number, outC: number): Float32Array {
  const w = new Float32Array(outC * cin * kh * kw);
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++) for (let i = 0; i < cin; i++) for (let o = 0; o < outC; o++) w[((o * cin + i) * kh + ky) * kw + kx] = values[((ky * kw + kx) * cin + i) * outC + o];
  return w;
}

/** A TensorFlow depthwise kernel [kh, kw, C, mult] as [C*mult, 1, kh, kw] (output channel c*mult + j). */
export function depthwiseToOihw(values: Float32Array, kh: number, kw: number, C: number, mult: number): Float32Array {
  const w = new Float32Array(C * mult * kh * kw);
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++) for (let c = 0; c < C; c++) for (let j = 0; j < mult; j++) w[((c * mult + j) * kh + ky) * kw + kx] = values[((ky * kw + kx) * C + c) * mult + j];
  return w;
}

/** Batch-norm statistics as y = x * scale[c] + shift[c]. */
export function foldBatchNorm(gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array, eps: number): { scale: Float32Array; shift: Float32Array } {
  const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + eps));
  return { scale, shift: beta.map((b, c) => b - mean[c] * scale[c]) };
}

/** One value per channel if a [C,H,W] (or [n]) tensor is constant within each channel, else null. */
export function perChannel(values: Float32Array, shape: IrShape): Float32Array | null {
  const plane = shape.length === 3 ? shape[1] * shape[2] : 1;
  const out = new Float32Array(shape[0]);
  for (let c = 0; c < shape[0]; c++) {
    out[c] = values[c * plane];
    for (let p = 1; p < plane; p++) if (values[c * plane + p] !== out[c]) return null;
  }
  return out;
}
