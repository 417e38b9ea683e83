import type { Padding, Shape, Size2, WeightPrecision } from './spec.js';

/**
 * The resolved geometry of one edge transform: everything a kernel needs, with defaults
 * filled in and padding turned into explicit offsets. Kernels of every backend take this.
 */
export type EdgeGeometry = DenseGeometry | Conv2dGeometry | PoolGeometry | IdentityGeometry;

export interface DenseGeometry {
  readonly type: 'dense';
  readonly inSize: number;
  readonly outSize: number;
  /** Shapes of both ends: a backend with another internal layout permutes weights by them. */
  readonly inShape: Shape;
  readonly outShape: Shape;
  /** Width of the stored weights, from the target node; absent: the backend's default. */
  readonly precision?: WeightPrecision;
}

/** Sliding-window placement shared by convolution and pooling. */
export interface Window2d {
  readonly inC: number;
  readonly inH: number;
  readonly inW: number;
  readonly outH: number;
  readonly outW: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh: number;
  readonly dw: number;
  /** Zero rows above / columns left of the input (TensorFlow puts the odd one below/right). */
  readonly padTop: number;
  readonly padLeft: number;
}

export interface Conv2dGeometry extends Window2d {
  readonly type: 'conv2d';
  readonly outC: number;
  /** Channel groups (1: a full convolution; inC: depthwise). */
  readonly groups: number;
}

export interface PoolGeometry extends Window2d {
  readonly type: 'maxpool' | 'avgpool';
}

export interface IdentityGeometry {
  readonly type: 'identity';
  readonly size: number;
  readonly inShape: Shape;
  readonly outShape: Shape;
}

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** `[kh, kw]` from a {@link Size2}. */
export function pair(size: Size2): [number, number] {
  return typeof size === 'number' ? [size, size] : [size[0], size[1]];
}

/** Output length and leading padding along one axis, or an explanation why none fits. */
export function windowAxis(inLen: number, kernel: number, stride: number, dilation: number, padding: Exclude<Padding, readonly number[]>): { out: number; padBefore: number } | string {
  const span = (kernel - 1) * dilation + 1;
  if (padding === 'same') {
    const out = Math.ceil(inLen / stride);
    const total = Math.max((out - 1) * stride + span - inLen, 0);
    return { out, padBefore: Math.floor(total / 2) };
  }
  const pad = padding === 'valid' ? 0 : padding;
  const out = Math.floor((inLen + 2 * pad - span) / stride) + 1;
  if (out < 1) return `window of ${span} (kernel ${kernel}, dilation ${dilation}) does not fit input length ${inLen} with padding ${pad}`;
  return { out, padBefore: pad };
}

/** Renders a shape as `[16,7,7]`. */
export function showShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(',')}]`;
}
