// TensorFlow.js layers models (Keras models converted by tensorflowjs_converter, or saved by
// tfjs-layers): model.json's Keras config read layer by layer into the import graph. Keras
// tensors are NHWC; the import graph is [C,H,W], so kernels are transposed here ([kh,kw,in,
// out] -> [out,in,kh,kw]) and a Flatten of a spatial tensor is marked as reading it in
// [H,W,C] order (the dense layer after it gets its weight columns permuted).
import type { Activation } from '../graph/spec.js';
import type { IrGraph, IrNode, IrOp, IrShape, Pads, Unsupported } from './ir.js';
import { ImportError, OpUnsupported as Fail } from './ir.js';
import { depthwiseToOihw, foldBatchNorm, hwioToOihw, samePads, windowOut } from './window.js';
import type { Weight } from './tfjs-weights.js';

/** One Keras layer as model.json stores it. */
interface KerasLayer {
  readonly class_name: string;
  readonly name?: string;
  readonly config: Record<string, unknown>;
  readonly inbound_nodes?: unknown;
}

/** The names of the layers feeding one call of a layer (Keras 2 and Keras 3 inbound formats). */
function inboundOf(layer: KerasLayer): string[] {
  const nodes = layer.inbound_nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) return [];
  if (nodes.length > 1) throw new Fail(`the layer is called ${nodes.length} times (shared layers are not supported)`);
  const first = nodes[0] as unknown;
  const names: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === 'string' && typeof v[1] === 'number') {
        if (v[1] !== 0) throw new Fail('it reads a second output of a shared layer');
        names.push(v[0]);
      } else v.forEach(visit);
    } else if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      const history = (o.config as Record<string, unknown> | undefined)?.keras_history;
      if (o.class_name === '__keras_tensor__' && Array.isArray(history)) names.push(String(history[0]));
      else if ('args' in o) visit(o.args);
    }
  };
  visit(first);
  return names;
}

const pair = (v: unknown, fallback: number): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1])] : typeof v === 'number' ? [v, v] : [fallback, fallback]);

/** Keras's `same` / `valid` padding as [top, bottom, left, right]. */
function kerasPads(padding: unknown, x: IrShape, kernel: readonly number[], stride: readonly number[], dilation: readonly number[]): Pads {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new Fail(`padding "${String(padding)}" (same and valid are supported)`);
  return samePads(x, kernel, stride, dilation);
}

/** A Keras activation name as ours (with its parameters), or why not. */
function kerasActivation(name: unknown): { activation: Activation; alpha?: number; beta?: number } {
  switch (name) {
    case undefined:
    case null:
    case 'linear':
      return { activation: 'linear' };
    case 'relu':
    case 'relu6':
    case 'elu':
    case 'tanh':
    case 'sigmoid':
    case 'softmax':
      return { activation: name };
    case 'hard_sigmoid':
      // Keras 2 and tfjs-layers: 0.2 x + 0.5, clipped.
      return { activation: 'hard_sigmoid', alpha: 0.2, beta: 0.5 };
    case 'hard_swish':
      return { activation: 'hard_swish' };
    default:
      throw new Fail(`activation "${String(name)}" is not supported (relu, relu6, elu, tanh, sigmoid, hard_sigmoid, hard_swish, softmax, linear are)`);
  }
}

/** Reads a layers model (its model.json object and decoded weights) into the import graph. */
export function readTfjsLayers(modelJson: Record<string, unknown>, weights: ReadonlyMap<string, Weight>, name: string): IrGraph {
  const topology = (modelJson.modelTopology ?? {}) as Record<string, unknown>;
  const modelConfig = (topology.model_config ?? topology) as { class_name?: string; config?: unknown };
  const sequential = modelConfig.class_name === 'Sequential';
  const config = modelConfig.config as Record<string, unknown> | unknown[] | undefined;
  const layers = (Array.isArray(config) ? config : ((config?.layers as KerasLayer[] | undefined) ?? [])) as KerasLayer[];
  if (layers.length === 0) throw new ImportError(name, [{ name, opType: 'model.json', why: 'no layers in modelTopology.model_config (not a layers model?)' }]);
  const unsupported: Unsupported[] = [];
  const nodes: IrNode[] = [];
  const shapes = new Map<string, IrShape>();
  const inputs: { name: string; shape: IrShape }[] = [];
  const failed = new Set<string>();
  const layerName = (l: KerasLayer): string => String(l.name ?? l.config.name ?? '');

  // A Sequential model: each layer reads the one before; the first may carry the input shape.
  let previous: string | undefined;
  if (sequential) {
    const shape = layers[0].config.batch_input_shape ?? layers[0].config.batch_shape;
    if (layers[0].class_name !== 'InputLayer') {
      if (!Array.isArray(shape)) throw new ImportError(name, [{ name: layerName(layers[0]), opType: layers[0].class_name, why: 'the first layer of a Sequential model gives no batch_input_shape' }]);
      addInput('input', shape as unknown[]);
      previous = 'input';
    }
  }

  const weight = (layer: string, key: string): Weight => {
    const direct = weights.get(`${layer}/${key}`);
    if (direct !== undefined) return direct;
    for (const [k, w] of weights) if (k.endsWith(`/${layer}/${key}`) || k.endsWith(`/${layer}/${key}:0`) || k === `${layer}/${key}:0`) return w;
    throw new Fail(`weight "${layer}/${key}" is not in the weights manifest`);
  };

  for (const layer of layers) {
    const lname = layerName(layer);
    let ins: string[];
    try {
      ins = sequential ? (previous === undefined ? [] : [previous]) : inboundOf(layer);
    } catch (err) {
      if (!(err instanceof Fail)) throw err;
      unsupported.push({ name: lname, opType: layer.class_name, why: err.message });
      failed.add(lname);
      continue;
    }
    if (ins.some((x) => failed.has(x))) {
      failed.add(lname);
      previous = lname;
      continue;
    }
    try {
      translate(layer, lname, ins);
    } catch (err) {
      if (!(err instanceof Fail)) throw err;
      failed.add(lname);
      unsupported.push({ name: lname, opType: layer.class_name, why: err.message });
    }
    previous = lname;
  }
  const outputs = sequential ? [layerName(layers[layers.length - 1])] : (((config as Record<string, unknown>).output_layers as unknown[][] | undefined) ?? []).map((o) => String(o[0]));
  if (unsupported.length > 0) throw new ImportError(name, unsupported);
  return { name, inputs, nodes, outputs, layout: 'nhwc' };

  function addInput(inputName: string, batchShape: readonly unknown[]): void {
    const dims = batchShape.slice(1).map((d) => Number(d));
    if (dims.some((d) => !Number.isInteger(d) || d < 1) || (dims.length !== 1 && dims.length !== 3)) {
      throw new ImportError(name, [{ name: inputName, opType: 'InputLayer', why: `shape [${batchShape.join(',')}]: an input must be [batch, n] or [batch, H, W, C] with fixed sizes` }]);
    }
    const shape = dims.length === 3 ? [dims[2], dims[0], dims[1]] : dims;
    inputs.push({ name: inputName, shape });
    shapes.set(inputName, shape);
  }

  function translate(layer: KerasLayer, lname: string, ins: string[]): void {
    const c = layer.config;
    const shapeOf = (x: string): IrShape => {
      const s = shapes.get(x);
      if (s === undefined) throw new Fail(`its input "${x}" is unknown`);
      return s;
    };
    const emit = (output: string, op: IrOp, shape: IrShape, opType = layer.class_name): void => {
      nodes.push({ name: lname, opType, op, output, shape });
      shapes.set(output, shape);
    };
    /** Emits `op` as the layer's output, or as its pre-activation when it has an activation. */
    const withActivation = (op: IrOp, shape: IrShape): void => {
      const act = kerasActivation(c.activation);
      if (act.activation === 'linear') return emit(lname, op, shape);
      emit(`${lname}:pre`, op, shape);
      emit(lname, { kind: 'activation', x: `${lname}:pre`, ...act }, shape);
    };
    const x = ins[0];
    switch (layer.class_name) {
      case 'InputLayer': {
        const shape = (c.batch_input_shape ?? c.batch_shape) as unknown[] | undefined;
        if (!Array.isArray(shape)) throw new Fail('no batch_input_shape');
        return addInput(lname, shape);
      }
      case 'Dropout':
      case 'SpatialDropout2D':
      case 'GaussianNoise':
      case 'GaussianDropout':
      case 'ActivityRegularization':
        return emit(lname, { kind: 'identity', x }, shapeOf(x));
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        const s = shapeOf(x);
        if (s.length !== 3) throw new Fail('a convolution of a vector');
        if (c.data_format !== undefined && c.data_format !== 'channels_last') throw new Fail(`data_format ${String(c.data_format)} (channels_last is supported)`);
        const kernel = pair(c.kernel_size, 1);
        const stride = pair(c.strides, 1);
        const dilation = pair(c.dilation_rate, 1);
        const pads = kerasPads(c.padding ?? 'valid', s, kernel, stride, dilation);
        const [oh, ow] = windowOut(s, kernel, stride, dilation, pads);
        const [kh, kw] = kernel;
        const bias = c.use_bias === false ? undefined : weight(lname, 'bias').values;
        if (layer.class_name === 'Conv2D') {
          const k = weight(lname, 'kernel');
          const [, , cig, outC] = k.shape;
          const groups = s[0] / cig;
          if (!Number.isInteger(groups)) throw new Fail(`kernel for ${cig} input channels, the input has ${s[0]}`);
          const w = hwioToOihw(k.values, kh, kw, cig, outC);
          return withActivation({ kind: 'conv', x, weight: w, kernel, ...(bias === undefined ? {} : { bias }), stride, dilation, pads, groups }, [outC, oh, ow]);
        }
        const dk = weight(lname, 'depthwise_kernel');
        const [, , C, mult] = dk.shape;
        const dw = depthwiseToOihw(dk.values, kh, kw, C, mult);
        if (layer.class_name === 'DepthwiseConv2D')
          return withActivation({ kind: 'conv', x, weight: dw, kernel, ...(bias === undefined ? {} : { bias }), stride, dilation, pads, groups: C }, [C * mult, oh, ow]);
        // Separable: the depthwise step, then a pointwise 1x1 convolution with the bias.
        const pk = weight(lname, 'pointwise_kernel');
        const outC = pk.shape[3];
        const mid = C * mult;
        const pw = hwioToOihw(pk.values, 1, 1, mid, outC);
        emit(`${lname}:depthwise`, { kind: 'conv', x, weight: dw, kernel, stride, dilation, pads, groups: C }, [mid, oh, ow]);
        return withActivation(
          { kind: 'conv', x: `${lname}:depthwise`, weight: pw, kernel: [1, 1], ...(bias === undefined ? {} : { bias }), stride: [1, 1], dilation: [1, 1], pads: [0, 0, 0, 0], groups: 1 },
          [outC, oh, ow],
        );
      }
      case 'Dense': {
        const s = shapeOf(x);
        const k = weight(lname, 'kernel');
        const [inN, outN] = k.shape;
        const bias = c.use_bias === false ? undefined : weight(lname, 'bias').values;
        const w = hwioToOihw(k.values, 1, 1, inN, outN);
        // Keras applies Dense to the last axis: on [H,W,C] that is a 1x1 convolution.
        if (s.length === 3) {
          if (s[0] !== inN) throw new Fail(`kernel for ${inN} inputs, the input has ${s[0]} channels`);
          return withActivation({ kind: 'conv', x, weight: w, kernel: [1, 1], ...(bias === undefined ? {} : { bias }), stride: [1, 1], dilation: [1, 1], pads: [0, 0, 0, 0], groups: 1 }, [
            outN,
            s[1],
            s[2],
          ]);
        }
        if (s[0] !== inN) throw new Fail(`kernel for ${inN} inputs, the input has ${s[0]}`);
        return withActivation({ kind: 'dense', x, weight: w, ...(bias === undefined ? {} : { bias }) }, [outN]);
      }
      case 'BatchNormalization': {
        const s = shapeOf(x);
        const axis = Array.isArray(c.axis) ? c.axis[0] : c.axis;
        if (axis !== -1 && axis !== s.length) throw new Fail(`normalisation over axis ${String(axis)} (only the channel axis)`);
        const C = s[0];
        const gamma = c.scale === false ? new Float32Array(C).fill(1) : weight(lname, 'gamma').values;
        const beta = c.center === false ? new Float32Array(C) : weight(lname, 'beta').values;
        const mean = weight(lname, 'moving_mean').values;
        const variance = weight(lname, 'moving_variance').values;
        const eps = typeof c.epsilon === 'number' ? c.epsilon : 1e-3;
        return emit(lname, { kind: 'affine', x, ...foldBatchNorm(gamma, beta, mean, variance, eps) }, s);
      }
      case 'Activation':
        return emit(lname, { kind: 'activation', x, ...kerasActivation(c.activation) }, shapeOf(x));
      case 'ReLU': {
        const max = c.max_value === null || c.max_value === undefined ? undefined : Number(c.max_value);
        const slope = Number(c.negative_slope ?? 0);
        if (Number(c.threshold ?? 0) !== 0) throw new Fail('a ReLU threshold other than 0');
        let act: { activation: Activation; alpha?: number };
        if (max === 6 && slope === 0) act = { activation: 'relu6' };
        else if (max === undefined && slope === 0) act = { activation: 'relu' };
        else if (max === undefined) act = { activation: 'leaky_relu', alpha: slope };
        else throw new Fail(`ReLU with max_value ${max} and negative_slope ${slope} (max 6 or none, and a slope only without a max)`);
        return emit(lname, { kind: 'activation', x, ...act }, shapeOf(x));
      }
      case 'LeakyReLU':
        return emit(lname, { kind: 'activation', x, activation: 'leaky_relu', alpha: Number(c.alpha ?? c.negative_slope ?? 0.3) }, shapeOf(x));
      case 'ELU':
        return emit(lname, { kind: 'activation', x, activation: 'elu', alpha: Number(c.alpha ?? 1) }, shapeOf(x));
      case 'Softmax': {
        const s = shapeOf(x);
        const axis = Number(Array.isArray(c.axis) ? c.axis[0] : (c.axis ?? -1));
        // The last axis (channels): -1, or its index counting the batch axis.
        if (axis !== -1 && axis !== s.length) throw new Fail(`softmax over axis ${axis} (only the last, channels)`);
        return emit(lname, { kind: 'activation', x, activation: 'softmax' }, s);
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const s = shapeOf(x);
        if (s.length !== 3) throw new Fail('pooling a vector');
        const kernel = pair(c.pool_size, 2);
        const stride = c.strides === null || c.strides === undefined ? kernel : pair(c.strides, 1);
        const pads = kerasPads(c.padding ?? 'valid', s, kernel, stride, [1, 1]);
        return emit(lname, { kind: 'pool', x, pool: layer.class_name === 'MaxPooling2D' ? 'max' : 'avg', kernel, stride, pads }, [s[0], ...windowOut(s, kernel, stride, [1, 1], pads)]);
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const s = shapeOf(x);
        if (s.length !== 3) throw new Fail('global pooling of a vector');
        const out = c.keepdims === true ? [s[0], 1, 1] : [s[0]];
        if (layer.class_name === 'GlobalAveragePooling2D') return emit(lname, { kind: 'globalpool', x }, out);
        return emit(lname, { kind: 'pool', x, pool: 'max', kernel: [s[1], s[2]], stride: [s[1], s[2]], pads: [0, 0, 0, 0] }, out);
      }
      case 'ZeroPadding2D': {
        const s = shapeOf(x);
        const p = c.padding;
        let pads: Pads;
        if (typeof p === 'number') pads = [p, p, p, p];
        else if (Array.isArray(p) && Array.isArray(p[0])) pads = [Number(p[0][0]), Number(p[0][1]), Number((p[1] as unknown[])[0]), Number((p[1] as unknown[])[1])];
        else if (Array.isArray(p)) pads = [Number(p[0]), Number(p[0]), Number(p[1]), Number(p[1])];
        else throw new Fail(`padding ${JSON.stringify(p)}`);
        return emit(lname, { kind: 'pad', x, pads }, [s[0], s[1] + pads[0] + pads[1], s[2] + pads[2] + pads[3]]);
      }
      case 'Add':
        return emit(lname, { kind: 'add', xs: ins }, shapeOf(ins[0]));
      case 'Concatenate': {
        const parts = ins.map(shapeOf);
        const axis = Number(c.axis ?? -1);
        if (axis !== -1 && axis !== parts[0].length) throw new Fail(`concatenation along axis ${axis} (only the last, channels)`);
        return emit(lname, { kind: 'concat', xs: ins }, [parts.reduce((a, p) => a + p[0], 0), ...parts[0].slice(1)]);
      }
      case 'Flatten':
      case 'Reshape': {
        const s = shapeOf(x);
        const total = s.reduce((a, b) => a * b, 1);
        if (layer.class_name === 'Reshape') {
          const target = (c.target_shape as number[] | undefined) ?? [];
          if (target.length !== 1 || (target[0] !== -1 && target[0] !== total))
            throw new Fail(`to [${target.join(',')}] (only flattening to a vector maps: other reshapes of NHWC tensors reorder elements)`);
        }
        return emit(lname, { kind: 'reshape', x, order: 'hwc' }, [total]);
      }
      default:
        throw new Fail(unsupportedLayer(layer.class_name));
    }
  }
}

function unsupportedLayer(className: string): string {
  const why: Record<string, string> = {
    LSTM: 'recurrent layers are not supported (express recurrence as edges of a network spec instead)',
    GRU: 'recurrent layers are not supported (express recurrence as edges of a network spec instead)',
    SimpleRNN: 'recurrent layers are not supported (express recurrence as edges of a network spec instead)',
    Multiply: 'an element-wise product of two feature maps (only sums map: a node sums its inputs)',
    UpSampling2D: 'resizing (upsampling) has no op here',
    Conv2DTranspose: 'transposed convolutions have no op here',
    Attention: 'attention has no op here',
    MultiHeadAttention: 'attention has no op here',
    Lambda: 'a Lambda layer runs code that model.json does not hold',
    Embedding: 'embeddings have no op here',
  };
  return why[className] ?? 'no op here computes it';
}
