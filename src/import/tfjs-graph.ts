// TensorFlow.js graph models (TensorFlow SavedModels converted by tensorflowjs_converter):
// model.json's GraphDef nodes read into the import graph. Constants (weights) come from the
// weights manifest under their node's name; the converter's fused ops (_FusedConv2D,
// FusedDepthwiseConv2dNative, _FusedMatMul with their fused_ops) are split back into their
// parts. Tensors are NHWC; the import graph is [C,H,W], so filters are transposed here.
import type { Activation } from '../graph/spec.js';
import type { IrGraph, IrNode, IrOp, IrShape, Pads, Unsupported } from './ir.js';
import { ImportError, OpUnsupported as Fail } from './ir.js';
import { depthwiseToOihw, foldBatchNorm, hwioToOihw, perChannel, samePads, windowOut } from './window.js';
import type { Weight } from './tfjs-weights.js';

/** An attribute value as model.json stores a GraphDef AttrValue. */
interface AttrValue {
  readonly i?: string | number;
  readonly f?: number;
  readonly s?: string;
  readonly b?: boolean;
  readonly type?: string;
  readonly list?: { readonly i?: (string | number)[]; readonly s?: string[]; readonly f?: number[] };
  readonly shape?: { readonly dim?: { readonly size?: string | number }[]; readonly unknownRank?: boolean };
  readonly tensor?: unknown;
}

interface GraphNodeDef {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Readonly<Record<string, AttrValue>>;
}

const text = (s: string | undefined): string => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));
/** A tensor reference "name", "name:1" or a control input "^name" as the producing node and output. */
const ref = (input: string): { node: string; output: number; control: boolean } => {
  const control = input.startsWith('^');
  const [node, index] = (control ? input.slice(1) : input).split(':');
  return { node, output: index === undefined ? 0 : Number(index), control };
};

const FUSED_ACTIVATIONS: Record<string, Activation> = { Relu: 'relu', Relu6: 'relu6', Elu: 'elu', Sigmoid: 'sigmoid', Tanh: 'tanh', LeakyRelu: 'leaky_relu' };

/** TensorFlow's SAME / VALID / EXPLICIT padding as [top, bottom, left, right]. */
function tfPads(padding: string, explicit: readonly number[], x: IrShape, kernel: readonly number[], stride: readonly number[], dilation: readonly number[]): Pads {
  if (padding === 'VALID') return [0, 0, 0, 0];
  if (padding === 'EXPLICIT') {
    // NHWC pairs: [[0,0],[top,bottom],[left,right],[0,0]] flattened.
    if (explicit.length !== 8 || explicit[0] !== 0 || explicit[1] !== 0 || explicit[6] !== 0 || explicit[7] !== 0) throw new Fail(`explicit paddings [${explicit.join(',')}] (only of H and W)`);
    return [explicit[2], explicit[3], explicit[4], explicit[5]];
  }
  if (padding !== 'SAME') throw new Fail(`padding ${padding}`);
  return samePads(x, kernel, stride, dilation);
}

/** Reads a graph model (its model.json object and decoded weights) into the import graph. */
export function readTfjsGraph(modelJson: Record<string, unknown>, weights: ReadonlyMap<string, Weight>, name: string): IrGraph {
  const topology = (modelJson.modelTopology ?? {}) as { node?: GraphNodeDef[] };
  const defs = topology.node ?? [];
  const signature = (modelJson.signature ?? (modelJson.userDefinedMetadata as Record<string, unknown> | undefined)?.signature) as { outputs?: Record<string, { name: string }> } | undefined;
  const unsupported: Unsupported[] = [];
  const nodes: IrNode[] = [];
  const shapes = new Map<string, IrShape>();
  const consts = new Map<string, Weight>();
  const inputs: { name: string; shape: IrShape }[] = [];
  const failed = new Set<string>();
  const consumed = new Set<string>();
  for (const d of defs) for (const i of d.input ?? []) if (!i.startsWith('^')) consumed.add(ref(i).node);

  // Topological order: converters emit nodes in order, but nothing promises it.
  const byName = new Map(defs.map((d) => [d.name, d]));
  const order: GraphNodeDef[] = [];
  const state = new Map<string, number>();
  const visit = (d: GraphNodeDef): void => {
    if (state.get(d.name) === 2) return;
    if (state.get(d.name) === 1) throw new ImportError(name, [{ name: d.name, opType: d.op, why: 'the graph has a cycle (control flow is not supported)' }]);
    state.set(d.name, 1);
    for (const i of d.input ?? []) {
      const src = byName.get(ref(i).node);
      if (src !== undefined) visit(src);
    }
    state.set(d.name, 2);
    order.push(d);
  };
  defs.forEach(visit);

  for (const d of order) {
    const ins = (d.input ?? []).filter((i) => !i.startsWith('^'));
    if (ins.some((i) => failed.has(ref(i).node))) {
      failed.add(d.name);
      continue;
    }
    try {
      translate(d, ins);
    } catch (err) {
      if (!(err instanceof Fail)) throw err;
      failed.add(d.name);
      unsupported.push({ name: d.name, opType: d.op, why: err.message });
    }
  }
  // Outputs: the signature's, else every computed node no other node reads.
  const outputs =
    signature?.outputs !== undefined
      ? Object.values(signature.outputs).map((o) => ref(o.name).node)
      : defs.filter((d) => !consumed.has(d.name) && shapes.has(d.name) && d.op !== 'NoOp').map((d) => d.name);
  if (unsupported.length > 0) throw new ImportError(name, unsupported);
  return { name, inputs, nodes, outputs, layout: 'nhwc' };

  function translate(d: GraphNodeDef, ins: readonly string[]): void {
    const attr = d.attr ?? {};
    const ints = (key: string): number[] => (attr[key]?.list?.i ?? []).map(Number);
    const str = (key: string): string => text(attr[key]?.s);
    const shapeOf = (i: string): IrShape => {
      const r = ref(i);
      if (r.output !== 0) throw new Fail(`it reads output ${r.output} of "${r.node}" (only first outputs are supported)`);
      const s = shapes.get(r.node);
      if (s === undefined) throw new Fail(consts.has(r.node) ? `its input "${r.node}" is a constant where a computed tensor is expected` : `its input "${r.node}" is unknown`);
      return s;
    };
    const constOf = (i: string, what: string): Weight => {
      const c = consts.get(ref(i).node);
      if (c === undefined) throw new Fail(`its ${what} ("${ref(i).node}") must be a constant`);
      return c;
    };
    const isConst = (i: string): boolean => consts.has(ref(i).node) && !shapes.has(ref(i).node);
    const x = ins.length > 0 ? ref(ins[0]).node : '';
    const emit = (output: string, op: IrOp, shape: IrShape): void => {
      nodes.push({ name: d.name, opType: d.op, op, output, shape });
      shapes.set(output, shape);
    };
    /** Emits a weighted op, then what `fused_ops` adds after it (BiasAdd, an activation). */
    const emitFused = (op: IrOp, shape: IrShape, fusedArgs: readonly string[]): void => {
      const fused = (attr.fused_ops?.list?.s ?? []).map(text);
      // Each step holds its own tensor; the last holds the node's.
      const step = (k: number): string => (k === fused.length ? d.name : `${d.name}:${k === 0 ? 'op' : fused[k - 1]}`);
      let current = step(0);
      let args = 0;
      emit(current, op, shape);
      for (const [k, f] of fused.entries()) {
        const next = step(k + 1);
        if (f === 'BiasAdd') {
          const b = constOf(fusedArgs[args++], 'bias');
          emit(next, { kind: 'bias', x: current, bias: expandChannels(b.values, shape) }, shape);
        } else if (f in FUSED_ACTIVATIONS) {
          const activation = FUSED_ACTIVATIONS[f];
          emit(next, { kind: 'activation', x: current, activation, ...(activation === 'leaky_relu' ? { alpha: attr.leakyrelu_alpha?.f ?? 0.2 } : {}) }, shape);
        } else if (f === 'FusedBatchNorm') {
          const [scale, offset, mean, variance] = [0, 1, 2, 3].map((k) => constOf(fusedArgs[args++], ['scale', 'offset', 'mean', 'variance'][k]).values);
          emit(next, { kind: 'affine', x: current, ...foldBatchNorm(scale, offset, mean, variance, attr.epsilon?.f ?? 1e-3) }, shape);
        } else {
          throw new Fail(`fused op ${f}`);
        }
        current = next;
      }
    };
    switch (d.op) {
      case 'Const': {
        const w = weights.get(d.name);
        if (w === undefined) throw new Fail('a constant whose value is not in the weights manifest');
        consts.set(d.name, w);
        return;
      }
      case 'Placeholder': {
        const dims = (attr.shape?.shape?.dim ?? []).map((v) => Number(v.size ?? -1));
        const rest = dims.slice(1);
        if ((dims.length !== 2 && dims.length !== 4) || (dims[0] !== 1 && dims[0] !== -1) || rest.some((v) => v < 1))
          throw new Fail(`shape [${dims.join(',')}]: an input must be [batch, n] or [batch, H, W, C] with fixed sizes`);
        const shape = rest.length === 3 ? [rest[2], rest[0], rest[1]] : rest;
        inputs.push({ name: d.name, shape });
        shapes.set(d.name, shape);
        return;
      }
      case 'Identity':
      case 'NoOp':
      case 'StopGradient':
        if (d.op === 'NoOp') return;
        if (isConst(ins[0])) return void consts.set(d.name, constOf(ins[0], 'input'));
        return emit(d.name, { kind: 'identity', x }, shapeOf(ins[0]));
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative': {
        const s = shapeOf(ins[0]);
        if (s.length !== 3) throw new Fail('a convolution of a vector');
        if (str('data_format') !== '' && str('data_format') !== 'NHWC') throw new Fail(`data_format ${str('data_format')} (NHWC is supported)`);
        const f = constOf(ins[1], 'filter');
        const [kh, kw, cin, last] = f.shape;
        const strides = ints('strides');
        const dil = ints('dilations');
        const stride: [number, number] = strides.length === 4 ? [strides[1], strides[2]] : [1, 1];
        const dilation: [number, number] = dil.length === 4 ? [dil[1], dil[2]] : [1, 1];
        const pads = tfPads(str('padding'), ints('explicit_paddings'), s, [kh, kw], stride, dilation);
        const [oh, ow] = windowOut(s, [kh, kw], stride, dilation, pads);
        const depthwise = d.op.includes('Depthwise');
        let weight: Float32Array;
        let outC: number;
        let groups: number;
        if (depthwise) {
          // [kh, kw, C, multiplier] -> [C*mult, 1, kh, kw], output channel c*mult + j.
          outC = cin * last;
          groups = cin;
          weight = depthwiseToOihw(f.values, kh, kw, cin, last);
        } else {
          outC = last;
          groups = s[0] / cin;
          if (!Number.isInteger(groups)) throw new Fail(`filter for ${cin} input channels, the input has ${s[0]}`);
          weight = hwioToOihw(f.values, kh, kw, cin, outC);
        }
        const conv: IrOp = { kind: 'conv', x, weight, kernel: [kh, kw], stride, dilation, pads, groups };
        if (d.op.startsWith('_Fused') || d.op.startsWith('Fused')) return emitFused(conv, [outC, oh, ow], ins.slice(2));
        return emit(d.name, conv, [outC, oh, ow]);
      }
      case 'MatMul':
      case '_FusedMatMul': {
        const s = shapeOf(ins[0]);
        if (s.length !== 1) throw new Fail('a MatMul of a tensor that is not [batch, n]');
        if (attr.transpose_a?.b === true) throw new Fail('transpose_a');
        const b = constOf(ins[1], 'second operand (a product of two computed tensors does not map)');
        const transB = attr.transpose_b?.b === true;
        const [rows, cols] = b.shape;
        const [inN, outN] = transB ? [cols, rows] : [rows, cols];
        if (inN !== s[0]) throw new Fail(`weights for ${inN} inputs, the input has ${s[0]}`);
        const weight = transB ? b.values.slice() : hwioToOihw(b.values, 1, 1, inN, outN);
        const dense: IrOp = { kind: 'dense', x, weight };
        if (d.op === '_FusedMatMul') return emitFused(dense, [outN], ins.slice(2));
        return emit(d.name, dense, [outN]);
      }
      case 'BiasAdd':
      case 'Add':
      case 'AddV2':
      case 'Sub':
      case 'Mul':
      case 'RealDiv': {
        const [a, b] = ins;
        if (!isConst(a) && !isConst(b)) {
          if (d.op === 'Add' || d.op === 'AddV2') {
            const sa = shapeOf(a);
            if (sa.join() !== shapeOf(b).join()) throw new Fail('adds tensors of different shapes (only equal shapes add)');
            return emit(d.name, { kind: 'add', xs: [ref(a).node, ref(b).node] }, sa);
          }
          throw new Fail(`an element-wise ${d.op === 'Mul' ? 'product' : d.op === 'Sub' ? 'difference' : 'quotient'} of two computed tensors (only sums map)`);
        }
        const tensor = isConst(a) ? b : a;
        const s = shapeOf(tensor);
        const c = constOf(isConst(a) ? a : b, 'constant operand');
        const values = broadcastNhwc(c, s);
        if (d.op === 'BiasAdd' || d.op === 'Add' || d.op === 'AddV2') return emit(d.name, { kind: 'bias', x: ref(tensor).node, bias: values }, s);
        if (d.op === 'Sub') {
          if (isConst(a)) throw new Fail('a constant minus a tensor');
          return emit(d.name, { kind: 'bias', x: ref(tensor).node, bias: values.map((v) => -v) }, s);
        }
        if (d.op === 'RealDiv' && isConst(a)) throw new Fail('a constant divided by a tensor');
        const per = perChannel(values, s);
        if (per === null) throw new Fail('a product with a constant that varies within a channel');
        const scale = d.op === 'RealDiv' ? per.map((v) => 1 / v) : per;
        return emit(d.name, { kind: 'affine', x: ref(tensor).node, scale, shift: new Float32Array(scale.length) }, s);
      }
      case 'AddN': {
        const s = shapeOf(ins[0]);
        if (ins.some((i) => shapeOf(i).join() !== s.join())) throw new Fail('adds tensors of different shapes');
        return emit(d.name, { kind: 'add', xs: ins.map((i) => ref(i).node) }, s);
      }
      case 'FusedBatchNorm':
      case 'FusedBatchNormV3': {
        const s = shapeOf(ins[0]);
        const [scale, offset, mean, variance] = [1, 2, 3, 4].map((k) => constOf(ins[k], ['scale', 'offset', 'mean', 'variance'][k - 1]).values);
        return emit(d.name, { kind: 'affine', x, ...foldBatchNorm(scale, offset, mean, variance, attr.epsilon?.f ?? 1e-3) }, s);
      }
      case 'Relu':
      case 'Relu6':
      case 'Elu':
      case 'Sigmoid':
      case 'Tanh':
      case 'LeakyRelu':
      case 'Softmax': {
        const s = shapeOf(ins[0]);
        const activation: Activation = d.op === 'Softmax' ? 'softmax' : FUSED_ACTIVATIONS[d.op];
        return emit(d.name, { kind: 'activation', x, activation, ...(d.op === 'LeakyRelu' ? { alpha: attr.alpha?.f ?? 0.2 } : {}) }, s);
      }
      case 'MaxPool':
      case 'AvgPool': {
        const s = shapeOf(ins[0]);
        if (s.length !== 3) throw new Fail('pooling a vector');
        const k = ints('ksize');
        const st = ints('strides');
        const kernel: [number, number] = [k[1], k[2]];
        const stride: [number, number] = [st[1], st[2]];
        const pads = tfPads(str('padding'), ints('explicit_paddings'), s, kernel, stride, [1, 1]);
        return emit(d.name, { kind: 'pool', x, pool: d.op === 'MaxPool' ? 'max' : 'avg', kernel, stride, pads }, [s[0], ...windowOut(s, kernel, stride, [1, 1], pads)]);
      }
      case 'Mean':
      case 'Max': {
        const s = shapeOf(ins[0]);
        const axes = [...constOf(ins[1], 'axes').values].map((a) => (a < 0 ? a + 4 : a)).sort();
        if (s.length !== 3 || axes.join() !== '1,2') throw new Fail(`a reduction over axes [${axes.join(',')}] (only over H and W, a global pool)`);
        const out = attr.keep_dims?.b === true ? [s[0], 1, 1] : [s[0]];
        if (d.op === 'Mean') return emit(d.name, { kind: 'globalpool', x }, out);
        return emit(d.name, { kind: 'pool', x, pool: 'max', kernel: [s[1], s[2]], stride: [s[1], s[2]], pads: [0, 0, 0, 0] }, out);
      }
      case 'ConcatV2': {
        const parts = ins.slice(0, -1);
        const axis = constOf(ins[ins.length - 1], 'axis').values[0];
        const shapesIn = parts.map(shapeOf);
        const rank = shapesIn[0].length + 1;
        if ((axis < 0 ? axis + rank : axis) !== rank - 1) throw new Fail(`concatenation along axis ${axis} (only the last, channels)`);
        return emit(d.name, { kind: 'concat', xs: parts.map((p) => ref(p).node) }, [shapesIn.reduce((a, p) => a + p[0], 0), ...shapesIn[0].slice(1)]);
      }
      case 'Pad': {
        const s = shapeOf(ins[0]);
        const p = [...constOf(ins[1], 'paddings').values];
        if (s.length !== 3 || p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0) throw new Fail(`paddings [${p.join(',')}] (only zero padding of H and W)`);
        const pads: Pads = [p[2], p[3], p[4], p[5]];
        return emit(d.name, { kind: 'pad', x, pads }, [s[0], s[1] + p[2] + p[3], s[2] + p[4] + p[5]]);
      }
      case 'Reshape':
      case 'Squeeze': {
        const s = shapeOf(ins[0]);
        const total = s.reduce((a, b) => a * b, 1);
        let target: number[];
        if (d.op === 'Reshape') {
          target = [...constOf(ins[1], 'shape').values];
          const known = target.filter((v) => v > 0).reduce((a, b) => a * b, 1);
          target = target.map((v) => (v === -1 ? total / known : v));
        } else {
          const full = s.length === 3 ? [1, s[1], s[2], s[0]] : [1, s[0]];
          const dims = ints('squeeze_dims');
          target = full.filter((v, i) => !(dims.length === 0 ? v === 1 && i > 0 : dims.map((a) => (a < 0 ? a + full.length : a)).includes(i)));
        }
        const flat = target.length === 2 && (target[0] === 1 || target[0] === -1) && target[1] === total;
        if (!flat && !(target.length === 1 && target[0] === total)) throw new Fail(`to [${target.join(',')}] (only flattening to [batch, n] maps: other reshapes of NHWC tensors reorder elements)`);
        return emit(d.name, { kind: 'reshape', x, order: 'hwc' }, [total]);
      }
      default:
        throw new Fail(unsupportedOp(d.op));
    }
  }
}

/** A per-channel vector expanded to a [C,H,W] (or [n]) tensor. */
function expandChannels(values: Float32Array, shape: IrShape): Float32Array {
  const plane = shape.length === 3 ? shape[1] * shape[2] : 1;
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (values.length !== shape[0]) throw new Fail(`a bias of ${values.length} values for ${shape[0]} channels`);
  for (let i = 0; i < out.length; i++) out[i] = values[Math.floor(i / plane)];
  return out;
}

/** A constant of NHWC shape broadcast to a [C,H,W] tensor (scalars, per-channel, or full). */
function broadcastNhwc(c: Weight, shape: IrShape): Float32Array {
  const n = c.values.length;
  const total = shape.reduce((a, b) => a * b, 1);
  if (n === 1) return new Float32Array(total).fill(c.values[0]);
  if (n === shape[0]) return expandChannels(c.values, shape);
  if (n === total && shape.length === 3) {
    const [C, H, W] = shape;
    const out = new Float32Array(total);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let k = 0; k < C; k++) out[(k * H + y) * W + x] = c.values[(y * W + x) * C + k];
    return out;
  }
  if (n === total) return c.values.slice();
  throw new Fail(`a constant of shape [${c.shape.join(',')}] does not broadcast to the tensor`);
}

function unsupportedOp(op: string): string {
  const why: Record<string, string> = {
    ResizeBilinear: 'resizing (upsampling) has no op here',
    ResizeNearestNeighbor: 'resizing (upsampling) has no op here',
    Conv2DBackpropInput: 'transposed convolutions have no op here',
    While: 'control flow is not supported',
    If: 'control flow is not supported',
    StatelessWhile: 'control flow is not supported',
    BatchMatMul: 'a product of two computed tensors (attention) does not map',
    BatchMatMulV2: 'a product of two computed tensors (attention) does not map',
  };
  return why[op] ?? 'no op here computes it';
}
