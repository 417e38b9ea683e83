// The graph every importer (ONNX, TensorFlow.js layers and graph models) translates into
// before it is lowered to a network spec: tensors without the batch axis in row-major
// [C,H,W] (NCHW) or [n], and a few ops with their constants already decoded to float32.
import type { Activation } from '../graph/spec.js';
import { StreamrollError } from '../util/errors.js';

/** A tensor's shape without the batch axis: [C,H,W] or [n]. */
export type IrShape = readonly number[];

/** Zero padding per side: [top, bottom, left, right]. */
export type Pads = readonly [number, number, number, number];

export type IrOp =
  /** Convolution; weight [outC, inC/groups, kh, kw]. */
  | {
      readonly kind: 'conv';
      readonly x: string;
      readonly weight: Float32Array;
      readonly kernel: readonly [number, number];
      readonly bias?: Float32Array;
      readonly stride: readonly [number, number];
      readonly dilation: readonly [number, number];
      readonly pads: Pads;
      readonly groups: number;
    }
  /**
   * Fully connected; weight [out, in]. `order: 'hwc'` says the input columns follow a
   * spatial source flattened in [H,W,C] order (Keras Flatten), to be permuted to [C,H,W].
   */
  | { readonly kind: 'dense'; readonly x: string; readonly weight: Float32Array; readonly bias?: Float32Array; readonly order?: 'chw' | 'hwc' }
  /** y = x * scale[c] + shift[c] per channel (a batch norm, its statistics already folded). */
  | { readonly kind: 'affine'; readonly x: string; readonly scale: Float32Array; readonly shift: Float32Array }
  | { readonly kind: 'activation'; readonly x: string; readonly activation: Activation; readonly alpha?: number; readonly beta?: number }
  /** Pooling; `pads` are ignored positions (max over / average over the real elements). */
  | { readonly kind: 'pool'; readonly x: string; readonly pool: 'max' | 'avg'; readonly kernel: readonly [number, number]; readonly stride: readonly [number, number]; readonly pads: Pads }
  /** Average over H and W (to [C,1,1] or [C], as the output shape says). */
  | { readonly kind: 'globalpool'; readonly x: string }
  /** Sum of tensors of the same shape. */
  | { readonly kind: 'add'; readonly xs: readonly string[] }
  /** x + a constant, already broadcast to x's shape. */
  | { readonly kind: 'bias'; readonly x: string; readonly bias: Float32Array }
  /** Concatenation along channels (or a vector's only axis). */
  | { readonly kind: 'concat'; readonly xs: readonly string[] }
  /** The same elements in another shape; `order: 'hwc'` says a spatial source is read in [H,W,C] order. */
  | { readonly kind: 'reshape'; readonly x: string; readonly order: 'chw' | 'hwc' }
  /** Zero padding of a spatial tensor. */
  | { readonly kind: 'pad'; readonly x: string; readonly pads: Pads }
  | { readonly kind: 'identity'; readonly x: string };

/** One op of the source model, with where it came from for messages. */
export interface IrNode {
  /** The source model's name for the op (or its output). */
  readonly name: string;
  /** The source model's op type (`Conv`, `_FusedConv2D`, `Conv2D` layer...). */
  readonly opType: string;
  readonly op: IrOp;
  readonly output: string;
  readonly shape: IrShape;
}

/** A whole model, its nodes in topological order. */
export interface IrGraph {
  readonly name: string;
  readonly inputs: readonly { readonly name: string; readonly shape: IrShape }[];
  readonly nodes: readonly IrNode[];
  readonly outputs: readonly string[];
  /** How the source model lays out its spatial tensors at its boundary. */
  readonly layout: 'nchw' | 'nhwc';
}

/** One source op that cannot be imported, and why. */
export interface Unsupported {
  readonly name: string;
  readonly opType: string;
  readonly why: string;
}

/** Why one op of a source model does not map; readers collect these into an ImportError. */
export class OpUnsupported extends Error {}

/** A model that cannot be imported as a whole: every op that does not map, each with why. */
export class ImportError extends StreamrollError {
  readonly unsupported: readonly Unsupported[];

  constructor(model: string, unsupported: readonly Unsupported[]) {
    const lines = unsupported.map((u) => `  ${u.name} (${u.opType}): ${u.why}`);
    super('IMPORT_UNSUPPORTED', `cannot import ${model}: ${unsupported.length === 1 ? 'one op does not map' : `${unsupported.length} ops do not map`}\n${lines.join('\n')}`);
    this.name = 'ImportError';
    this.unsupported = unsupported;
  }
}
