/**
 * The network spec: the JSON contract of DESIGN.md §3, as TypeScript types.
 * A spec is plain data; {@link validateNetwork} turns it into a checked {@link Network}.
 */

/** A node state shape: `[C, H, W]` (spatial) or `[n]` (vector), row-major. */
export type Shape = readonly [number] | readonly [number, number, number];

/** Activation applied after the sum of a node's incoming edges plus its bias. */
export type Activation = 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid' | 'softmax' | 'linear';

/** All activations the runtime implements, in documentation order. */
export const ACTIVATIONS: readonly Activation[] = ['relu', 'leaky_relu', 'tanh', 'sigmoid', 'softmax', 'linear'];

/** Slope of `leaky_relu` for negative inputs (TensorFlow's default). */
export const LEAKY_RELU_ALPHA = 0.2;

/** A size that may differ per spatial axis: `k` or `[kh, kw]`. */
export type Size2 = number | readonly [number, number];

/** Padding of a spatial op: TensorFlow's `same`/`valid`, or explicit zero rows/columns per side. */
export type Padding = 'same' | 'valid' | number;

/** Fully connected: the source is flattened (row-major); weights `[out, in]`. */
export interface DenseOp {
  readonly type: 'dense';
}

/** 2-D convolution over `[C,H,W]`; weights `[outC, inC, kh, kw]`. */
export interface Conv2dOp {
  readonly type: 'conv2d';
  readonly kernel: Size2;
  /** Default 1. */
  readonly stride?: Size2;
  /** Default `same`. */
  readonly padding?: Padding;
  /** Default 1. */
  readonly dilation?: Size2;
}

/** Max or average pooling per channel (channels are kept). */
export interface PoolOp {
  readonly type: 'maxpool' | 'avgpool';
  readonly kernel: Size2;
  /** Default: the kernel size. */
  readonly stride?: Size2;
  /** Default `valid`. Padded positions are ignored (average over the real elements only). */
  readonly padding?: Padding;
}

/** Copies the source unchanged; source and target must hold the same number of elements. */
export interface IdentityOp {
  readonly type: 'identity';
}

/** The transform an edge applies to its source state. */
export type EdgeOp = DenseOp | Conv2dOp | PoolOp | IdentityOp;

/** Every op type the runtime implements. */
export const OP_TYPES: readonly EdgeOp['type'][] = ['dense', 'conv2d', 'maxpool', 'avgpool', 'identity'];

/** One layer of the network. */
export interface NodeSpec {
  readonly name: string;
  readonly shape: Shape;
  /** Default `linear`. Input nodes take their state from outside and allow only `linear`. */
  readonly activation?: Activation;
}

/** One connection; its transform runs where the target node lives. */
export interface EdgeSpec {
  readonly from: string;
  readonly to: string;
  readonly op: EdgeOp;
  /** Edge id; defaults to `"from->to"`. Required when two edges join the same pair. */
  readonly name?: string;
}

/** A whole network (DESIGN.md §3). Input nodes are those without incoming edges. */
export interface NetworkSpec {
  readonly name: string;
  /** One line saying what the network is for. */
  readonly description?: string;
  readonly nodes: readonly NodeSpec[];
  readonly edges: readonly EdgeSpec[];
  readonly outputs: readonly string[];
}

/** The id of an edge as used in rollout patterns and model files. */
export function edgeId(edge: Pick<EdgeSpec, 'from' | 'to' | 'name'>): string {
  return edge.name ?? `${edge.from}->${edge.to}`;
}
