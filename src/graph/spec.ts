/**
 * The network spec: the JSON contract of docs/spec-format.md, as TypeScript types.
 * A spec is plain data; {@link validateNetwork} turns it into a checked {@link Network}.
 */

/** A node state shape: `[C, H, W]` (spatial) or `[n]` (vector), row-major. */
export type Shape = readonly [number] | readonly [number, number, number];

/**
 * Activation applied after the sum of a node's incoming edges plus its bias:
 * relu max(x, 0); relu6 min(max(x, 0), 6); leaky_relu x or alpha*x below 0; elu x or
 * alpha*(e^x - 1) below 0; tanh; sigmoid; hard_sigmoid max(0, min(1, alpha*x + beta));
 * hard_swish x * max(0, min(1, x/6 + 1/2)); softmax (over a vector, or over the channels of
 * each pixel); linear.
 */
/**
 * Width at which weights are stored: float32, bfloat16 (float32's range, 8 significant bits)
 * or IEEE half (11 significant bits within +-65504). Arithmetic is float32 in every case.
 */
export type WeightPrecision = 'fp32' | 'bf16' | 'fp16';

export type Activation = 'relu' | 'relu6' | 'leaky_relu' | 'elu' | 'tanh' | 'sigmoid' | 'hard_sigmoid' | 'hard_swish' | 'softmax' | 'linear';

/** All activations the runtime implements, in documentation order. */
export const ACTIVATIONS: readonly Activation[] = ['relu', 'relu6', 'leaky_relu', 'elu', 'tanh', 'sigmoid', 'hard_sigmoid', 'hard_swish', 'softmax', 'linear'];

/** Slope of `leaky_relu` for negative inputs when a node gives none (TensorFlow's default). */
export const LEAKY_RELU_ALPHA = 0.2;

/** The numbers of a parametrised activation (0 where it takes none). */
export interface ActivationParams {
  readonly alpha: number;
  readonly beta: number;
}

/**
 * The activations that take parameters, with their defaults: `alpha` is leaky_relu's slope,
 * elu's scale and hard_sigmoid's slope; `beta` is hard_sigmoid's offset (ONNX's defaults).
 */
export const ACTIVATION_PARAMS: Readonly<Partial<Record<Activation, { readonly alpha?: number; readonly beta?: number }>>> = {
  leaky_relu: { alpha: LEAKY_RELU_ALPHA },
  elu: { alpha: 1 },
  hard_sigmoid: { alpha: 0.2, beta: 0.5 },
};

/** A node's activation parameters, its own or the defaults. */
export function activationParams(activation: Activation, alpha?: number, beta?: number): ActivationParams {
  const defaults = ACTIVATION_PARAMS[activation];
  return { alpha: alpha ?? defaults?.alpha ?? 0, beta: beta ?? defaults?.beta ?? 0 };
}

/** A size that may differ per spatial axis: `k` or `[kh, kw]`. */
export type Size2 = number | readonly [number, number];

/**
 * Padding of a spatial op: TensorFlow's `same`/`valid`, explicit zero rows/columns on every
 * side, or `[top, bottom, left, right]` (ONNX pads and Keras ZeroPadding2D can be uneven).
 */
export type Padding = 'same' | 'valid' | number | readonly [number, number, number, number];

/** Fully connected: the source is flattened (row-major); weights `[out, in]`. */
export interface DenseOp {
  readonly type: 'dense';
}

/**
 * 2-D convolution over `[C,H,W]`; weights `[outC, inC/groups, kh, kw]`. With `groups` g the
 * channels split into g groups, each output group seeing only its input group; g = inC is a
 * depthwise convolution (MobileNets).
 */
export interface Conv2dOp {
  readonly type: 'conv2d';
  readonly kernel: Size2;
  /** Default 1. */
  readonly stride?: Size2;
  /** Default `same`. */
  readonly padding?: Padding;
  /** Default 1. */
  readonly dilation?: Size2;
  /** Default 1. */
  readonly groups?: number;
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

/** Every op type the runtime implements (see src/graph/ops.ts, which owns their rules). */
export const OP_TYPES: readonly EdgeOp['type'][] = ['dense', 'conv2d', 'maxpool', 'avgpool', 'identity'];

/** One layer of the network. */
export interface NodeSpec {
  readonly name: string;
  readonly shape: Shape;
  /** Default `linear`. Input nodes take their state from outside and allow only `linear`. */
  readonly activation?: Activation;
  /** The activation's `alpha` (leaky_relu, elu, hard_sigmoid only; see {@link ACTIVATION_PARAMS}). */
  readonly alpha?: number;
  /** The activation's `beta` (hard_sigmoid only). */
  readonly beta?: number;
  /**
   * For a spatial input or output node: the order of its values in the arrays that cross the
   * API, `chw` (row-major [C,H,W], the default) or `hwc` ([H,W,C], as TensorFlow.js and Keras
   * models keep their tensors). The shape stays [C,H,W].
   */
  readonly layout?: 'chw' | 'hwc';
  /**
   * Training only: the fraction of the node's state values dropped (zeroed, the rest scaled
   * by 1 / (1 - p)) in every frame of the training window, as Keras's Dropout after a layer.
   * Inference ignores it. Default 0.
   */
  readonly dropout?: number;
  /**
   * Width at which the weights of dense edges into this node are stored (see
   * {@link WeightPrecision}); other edges keep float32. Default: the runtime's `precision`
   * (float32 unless set). Every backend computes with the weights rounded to that width; the
   * native kernels also read them at 16 bits (half the bytes of a memory-bound layer).
   */
  readonly precision?: WeightPrecision;
}

/** One connection; its transform runs where the target node lives. */
export interface EdgeSpec {
  readonly from: string;
  readonly to: string;
  readonly op: EdgeOp;
  /** Edge id; defaults to `"from->to"`. Required when two edges join the same pair. */
  readonly name?: string;
}

/** A whole network (docs/spec-format.md). Input nodes are those without incoming edges. */
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
