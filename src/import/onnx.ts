// ONNX models (PyTorch exports and others) into the import graph. Decoded with onnx-proto,
// the published ONNX schema compiled by protobufjs. Shapes are worked out here from the
// inputs' static shapes (batch 1); shape arithmetic that exporters emit around a flatten
// (Shape, Gather, Unsqueeze, Concat of int64 tensors) is evaluated at import time.
import onnxProto from 'onnx-proto';
import type { Activation } from '../graph/spec.js';
import type { IrGraph, IrNode, IrOp, IrShape, Pads, Unsupported } from './ir.js';
import { ImportError, OpUnsupported as Fail } from './ir.js';
import { foldBatchNorm, perChannel, samePads, windowOut } from './window.js';

const { onnx } = onnxProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type NodeProto = onnxProto.onnx.INodeProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

/** A number from protobufjs's int64 (a number or a Long). */
const num = (v: number | { toNumber(): number } | null | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());

/** A constant: float values, or int64 values (shapes, axes, pads). */
interface Const {
  readonly dims: readonly number[];
  readonly floats?: Float32Array;
  readonly ints?: readonly number[];
}

/** float16 bits to a float. */
function half(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Decodes a tensor's values (float32/16/64 as floats, int32/64 as ints); a message saying why not. */
function decodeTensor(t: TensorProto): Const | string {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
    return `its data is in an external file (${(t.externalData ?? []).map((e) => e.value).join(', ')}); save the model with the weights inside`;
  const raw = t.rawData !== null && t.rawData !== undefined && t.rawData.length > 0 ? new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength) : undefined;
  const T = onnx.TensorProto.DataType;
  switch (t.dataType) {
    case T.FLOAT:
      return { dims, floats: raw === undefined ? Float32Array.from(t.floatData ?? []) : Float32Array.from({ length: count }, (_, i) => raw.getFloat32(i * 4, true)) };
    case T.FLOAT16:
      return { dims, floats: Float32Array.from({ length: count }, (_, i) => half(raw === undefined ? (t.int32Data ?? [])[i] : raw.getUint16(i * 2, true))) };
    case T.DOUBLE:
      return { dims, floats: raw === undefined ? Float32Array.from(t.doubleData ?? []) : Float32Array.from({ length: count }, (_, i) => raw.getFloat64(i * 8, true)) };
    case T.INT64:
      return { dims, ints: raw === undefined ? (t.int64Data ?? []).map(num) : Array.from({ length: count }, (_, i) => Number(raw.getBigInt64(i * 8, true))) };
    case T.INT32:
      return { dims, ints: raw === undefined ? [...(t.int32Data ?? [])] : Array.from({ length: count }, (_, i) => raw.getInt32(i * 4, true)) };
    default:
      return `its data type ${onnx.TensorProto.DataType[t.dataType ?? 0] ?? t.dataType} is not supported (float32, float16, float64, int32, int64 are)`;
  }
}

/** Reads an ONNX model into the import graph; throws an ImportError listing every op that does not map. */
export function readOnnx(bytes: Uint8Array, name: string): IrGraph {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ImportError(name, [{ name, opType: 'file', why: `not an ONNX model (${(err as Error).message})` }]);
  }
  const graph = model.graph;
  if (graph === null || graph === undefined) throw new ImportError(name, [{ name, opType: 'file', why: 'the model has no graph' }]);
  const opset = Math.max(0, ...(model.opsetImport ?? []).filter((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx').map((o) => num(o.version)));
  const unsupported: Unsupported[] = [];
  const consts = new Map<string, Const>();
  for (const t of graph.initializer ?? []) {
    const c = decodeTensor(t);
    if (typeof c === 'string') unsupported.push({ name: t.name ?? '?', opType: 'initializer', why: c });
    else consts.set(t.name ?? '', c);
  }
  const shapes = new Map<string, IrShape>();
  const inputs: { name: string; shape: IrShape }[] = [];
  // Ops downstream of one that does not map (or of an input that does not) are not listed:
  // only the ones to blame are.
  const failed = new Set<string>();
  for (const input of graph.input ?? []) {
    const inputName = input.name ?? '';
    if (consts.has(inputName)) continue;
    const dims = input.type?.tensorType?.shape?.dim ?? [];
    const values = dims.map((d) => (d.dimValue !== null && d.dimValue !== undefined && num(d.dimValue) > 0 ? num(d.dimValue) : -1));
    const batch = values[0];
    const rest = values.slice(1);
    if ((values.length !== 2 && values.length !== 4) || (batch !== 1 && batch !== -1) || rest.some((d) => d < 1)) {
      unsupported.push({
        name: inputName,
        opType: 'input',
        why: `shape [${dims.map((d) => d.dimParam ?? num(d.dimValue)).join(',')}]: an input must be [N,C,H,W] or [N,n] with N = 1 or symbolic and the rest fixed`,
      });
      failed.add(inputName);
      continue;
    }
    inputs.push({ name: inputName, shape: rest });
    shapes.set(inputName, rest);
  }

  const nodes: IrNode[] = [];
  let counter = 0;
  for (const node of graph.node ?? []) {
    const nodeName = node.name !== null && node.name !== undefined && node.name !== '' ? node.name : `${node.opType ?? 'op'}_${counter}`;
    counter++;
    if ((node.input ?? []).some((x) => failed.has(x ?? ''))) {
      for (const o of node.output ?? []) failed.add(o ?? '');
      // Downstream of a failure only ops that would not map anyway are listed.
      if (!SUPPORTED.has(node.opType ?? '')) unsupported.push({ name: nodeName, opType: node.opType ?? '?', why: unsupportedWhy(node.opType ?? '') });
      continue;
    }
    try {
      translate(node, nodeName);
    } catch (err) {
      if (!(err instanceof Fail)) throw err;
      for (const o of node.output ?? []) failed.add(o ?? '');
      unsupported.push({ name: nodeName, opType: node.opType ?? '?', why: err.message });
    }
  }
  if (unsupported.length > 0) throw new ImportError(name, unsupported);
  // Named after the file: exporters name their graphs "main_graph", "torch_jit" and the like.
  return { name, inputs, nodes, outputs: (graph.output ?? []).map((o) => o.name ?? ''), layout: 'nchw' };

  function translate(node: NodeProto, nodeName: string): void {
    const op = node.opType ?? '';
    const ins = (node.input ?? []).map((x) => x ?? '');
    const out = (node.output ?? [])[0] ?? '';
    const attrs = new Map<string, AttributeProto>((node.attribute ?? []).map((a) => [a.name ?? '', a]));
    const int = (key: string, fallback: number): number => (attrs.has(key) ? num(attrs.get(key)?.i) : fallback);
    const float = (key: string, fallback: number): number => (attrs.has(key) ? (attrs.get(key)?.f ?? fallback) : fallback);
    const ints = (key: string): number[] | undefined => (attrs.has(key) ? (attrs.get(key)?.ints ?? []).map(num) : undefined);
    const str = (key: string, fallback: string): string => (attrs.has(key) ? new TextDecoder().decode(attrs.get(key)?.s ?? new Uint8Array()) : fallback);
    const shapeOf = (x: string): IrShape => {
      const s = shapes.get(x);
      if (s === undefined) throw new Fail(consts.has(x) ? `input "${x}" is a constant where a tensor computed from the model's input is expected` : `input "${x}" is unknown`);
      return s;
    };
    const constOf = (x: string, what: string): Const => {
      const c = consts.get(x);
      if (c === undefined) throw new Fail(`its ${what} ("${x}") must be a constant (an initializer or a Constant node)`);
      return c;
    };
    const floatsOf = (x: string, what: string): Float32Array => {
      const c = constOf(x, what);
      if (c.floats === undefined) throw new Fail(`its ${what} ("${x}") must hold floats`);
      return c.floats;
    };
    const emit = (kind: IrOp, shape: IrShape): void => {
      nodes.push({ name: nodeName, opType: op, op: kind, output: out, shape });
      shapes.set(out, shape);
    };
    const setConst = (c: Const): void => void consts.set(out, c);
    const allConst = ins.filter((x) => x !== '').every((x) => consts.has(x) && !shapes.has(x));

    switch (op) {
      case 'Constant': {
        const t = attrs.get('value')?.t;
        if (t === null || t === undefined) throw new Fail('only a Constant with a tensor "value" is supported');
        const c = decodeTensor(t);
        if (typeof c === 'string') throw new Fail(c);
        return setConst(c);
      }
      case 'Identity':
      case 'Dropout': {
        if (consts.has(ins[0]) && !shapes.has(ins[0])) return setConst(consts.get(ins[0]) as Const);
        return emit({ kind: 'identity', x: ins[0] }, shapeOf(ins[0]));
      }
      case 'Shape': {
        const s = shapeOf(ins[0]);
        return setConst({ dims: [s.length + 1], ints: [1, ...s] });
      }
      case 'Gather':
      case 'Unsqueeze':
      case 'Squeeze':
      case 'Concat':
      case 'Cast':
        if (allConst)
          return setConst(
            foldInts(
              op,
              ins.map((x) => consts.get(x)),
              attrs,
              opset,
            ),
          );
        break;
      default:
        break;
    }

    switch (op) {
      case 'Conv': {
        const x = shapeOf(ins[0]);
        if (x.length !== 3) throw new Fail(`a Conv over a tensor of rank ${x.length + 1} (only 2-D convolutions of [N,C,H,W])`);
        const w = constOf(ins[1], 'weight');
        if (w.dims.length !== 4) throw new Fail(`weights of rank ${w.dims.length} (only 2-D convolutions)`);
        const [outC, cig, kh, kw] = w.dims;
        const groups = int('group', 1);
        if (cig * groups !== x[0]) throw new Fail(`weights for ${cig * groups} input channels, the input has ${x[0]}`);
        const stride = ints('strides') ?? [1, 1];
        const dilation = ints('dilations') ?? [1, 1];
        const pads = windowPads(str('auto_pad', 'NOTSET'), ints('pads'), x, [kh, kw], stride, dilation);
        const shape = [outC, ...windowOut(x, [kh, kw], stride, dilation, pads)];
        return emit(
          {
            kind: 'conv',
            x: ins[0],
            weight: floatsOf(ins[1], 'weight'),
            kernel: [kh, kw],
            ...(ins[2] !== undefined && ins[2] !== '' ? { bias: floatsOf(ins[2], 'bias') } : {}),
            stride: [stride[0], stride[1]],
            dilation: [dilation[0], dilation[1]],
            pads,
            groups,
          },
          shape,
        );
      }
      case 'Gemm':
      case 'MatMul': {
        const x = shapeOf(ins[0]);
        if (x.length !== 1) throw new Fail(`a ${op} of a tensor of rank ${x.length + 1}; only [N,n] inputs (flatten first)`);
        if (op === 'Gemm' && int('transA', 0) !== 0) throw new Fail('transA = 1');
        const b = constOf(ins[1], 'second operand (an element-wise product of two computed tensors does not map)');
        if (b.dims.length !== 2 || b.floats === undefined) throw new Fail('a weight matrix that is not a 2-D float constant');
        const transB = op === 'Gemm' && int('transB', 0) === 1;
        const [rows, cols] = b.dims;
        const [inN, outN] = transB ? [cols, rows] : [rows, cols];
        if (inN !== x[0]) throw new Fail(`weights for ${inN} inputs, the input has ${x[0]}`);
        const alpha = op === 'Gemm' ? float('alpha', 1) : 1;
        const beta = op === 'Gemm' ? float('beta', 1) : 1;
        // Our dense weights are [out, in].
        const weight = new Float32Array(outN * inN);
        for (let o = 0; o < outN; o++) for (let i = 0; i < inN; i++) weight[o * inN + i] = alpha * (transB ? b.floats[o * inN + i] : b.floats[i * outN + o]);
        let bias: Float32Array | undefined;
        if (op === 'Gemm' && ins[2] !== undefined && ins[2] !== '') bias = broadcastTo(constOf(ins[2], 'bias'), [outN]).map((v) => beta * v);
        return emit({ kind: 'dense', x: ins[0], weight, ...(bias === undefined ? {} : { bias }) }, [outN]);
      }
      case 'BatchNormalization': {
        const x = shapeOf(ins[0]);
        const [scale, shift, mean, variance] = [1, 2, 3, 4].map((i, k) => floatsOf(ins[i], ['scale', 'bias', 'mean', 'variance'][k]));
        const eps = float('epsilon', 1e-5);
        return emit({ kind: 'affine', x: ins[0], ...foldBatchNorm(scale, shift, mean, variance, eps) }, x);
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div': {
        const [a, b] = ins;
        const aConst = consts.has(a) && !shapes.has(a);
        const bConst = consts.has(b) && !shapes.has(b);
        if (!aConst && !bConst) {
          if (op !== 'Add') throw new Fail(`an element-wise ${op === 'Mul' ? 'product' : op === 'Div' ? 'quotient' : 'difference'} of two computed tensors (only sums map: a node sums its inputs)`);
          const sa = shapeOf(a);
          const sb = shapeOf(b);
          if (sa.join() !== sb.join()) throw new Fail(`adds tensors of shapes [${sa.join(',')}] and [${sb.join(',')}] (only equal shapes add)`);
          return emit({ kind: 'add', xs: [a, b] }, sa);
        }
        if (aConst && bConst) throw new Fail('both operands are constants');
        const x = aConst ? b : a;
        const shape = shapeOf(x);
        const c = broadcastTo(constOf(aConst ? a : b, 'constant operand'), shape);
        if (op === 'Add') return emit({ kind: 'bias', x, bias: c }, shape);
        if (op === 'Sub') {
          if (aConst) throw new Fail('a constant minus a tensor (a negative scale) does not map');
          return emit({ kind: 'bias', x, bias: c.map((v) => -v) }, shape);
        }
        // Mul / Div by a constant: a per-channel scale.
        const per = perChannel(c, shape);
        if (per === null) throw new Fail(`${op === 'Mul' ? 'a product' : 'a quotient'} with a constant that varies within a channel`);
        if (op === 'Div' && aConst) throw new Fail('a constant divided by a tensor');
        const scale = op === 'Div' ? per.map((v) => 1 / v) : per;
        return emit({ kind: 'affine', x, scale, shift: new Float32Array(scale.length) }, shape);
      }
      case 'Relu':
      case 'LeakyRelu':
      case 'Elu':
      case 'Sigmoid':
      case 'Tanh':
      case 'HardSigmoid':
      case 'HardSwish':
      case 'Clip':
      case 'Softmax': {
        const shape = shapeOf(ins[0]);
        let activation: Activation;
        let alpha: number | undefined;
        let beta: number | undefined;
        if (op === 'Relu') activation = 'relu';
        else if (op === 'LeakyRelu') [activation, alpha] = ['leaky_relu', float('alpha', 0.01)];
        else if (op === 'Elu') [activation, alpha] = ['elu', float('alpha', 1)];
        else if (op === 'Sigmoid') activation = 'sigmoid';
        else if (op === 'Tanh') activation = 'tanh';
        else if (op === 'HardSigmoid') [activation, alpha, beta] = ['hard_sigmoid', float('alpha', 0.2), float('beta', 0.5)];
        else if (op === 'HardSwish') activation = 'hard_swish';
        else if (op === 'Softmax') {
          const axis = int('axis', opset >= 13 ? -1 : 1);
          const rank = shape.length + 1;
          const a = axis < 0 ? axis + rank : axis;
          if (a !== 1) throw new Fail(`softmax over axis ${axis} of a rank-${rank} tensor (only over channels, axis 1)`);
          if (opset < 13 && rank > 2) throw new Fail('softmax before opset 13 flattens the trailing axes; only [N,n] inputs map');
          activation = 'softmax';
        } else {
          const lo = ins[1] !== undefined && ins[1] !== '' ? floatsOf(ins[1], 'min')[0] : attrs.has('min') ? float('min', -Infinity) : -Infinity;
          const hi = ins[2] !== undefined && ins[2] !== '' ? floatsOf(ins[2], 'max')[0] : attrs.has('max') ? float('max', Infinity) : Infinity;
          if (lo === 0 && hi === 6) activation = 'relu6';
          else if (lo === 0 && hi === Infinity) activation = 'relu';
          else throw new Fail(`Clip to [${lo}, ${hi}] (only [0, 6] as ReLU6 and [0, inf) as ReLU map)`);
        }
        return emit({ kind: 'activation', x: ins[0], activation, ...(alpha === undefined ? {} : { alpha }), ...(beta === undefined ? {} : { beta }) }, shape);
      }
      case 'MaxPool':
      case 'AveragePool': {
        const x = shapeOf(ins[0]);
        if (x.length !== 3) throw new Fail('pooling of a tensor that is not [N,C,H,W]');
        const kernel = ints('kernel_shape') ?? [];
        if (kernel.length !== 2) throw new Fail('only 2-D pooling');
        if ((ints('dilations') ?? [1, 1]).some((d) => d !== 1)) throw new Fail('dilated pooling');
        const stride = ints('strides') ?? [1, 1];
        const pads = windowPads(str('auto_pad', 'NOTSET'), ints('pads'), x, kernel, stride, [1, 1]);
        if (op === 'AveragePool' && int('count_include_pad', 0) !== 0 && pads.some((p) => p > 0)) throw new Fail('count_include_pad = 1 with padding (averages here leave padding out)');
        const size = windowOut(x, kernel, stride, [1, 1], pads);
        if (int('ceil_mode', 0) !== 0) {
          const ceil = windowOut(x, kernel, stride, [1, 1], pads, true);
          if (ceil[0] !== size[0] || ceil[1] !== size[1]) throw new Fail('ceil_mode = 1 where it changes the output size');
        }
        return emit({ kind: 'pool', x: ins[0], pool: op === 'MaxPool' ? 'max' : 'avg', kernel: [kernel[0], kernel[1]], stride: [stride[0], stride[1]], pads }, [x[0], ...size]);
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool': {
        const x = shapeOf(ins[0]);
        if (x.length !== 3) throw new Fail('global pooling of a tensor that is not [N,C,H,W]');
        if (op === 'GlobalAveragePool') return emit({ kind: 'globalpool', x: ins[0] }, [x[0], 1, 1]);
        return emit({ kind: 'pool', x: ins[0], pool: 'max', kernel: [x[1], x[2]], stride: [x[1], x[2]], pads: [0, 0, 0, 0] }, [x[0], 1, 1]);
      }
      case 'ReduceMean':
      case 'ReduceMax': {
        // PyTorch's x.mean((2, 3)): a global pool. Axes are an attribute, or from opset 18 an input.
        const x = shapeOf(ins[0]);
        const given = ins[1] !== undefined && ins[1] !== '' ? [...(constOf(ins[1], 'axes').ints ?? [])] : (ints('axes') ?? []);
        const axes = given.map((a) => (a < 0 ? a + x.length + 1 : a)).sort();
        if (x.length !== 3 || axes.join() !== '2,3')
          throw new Fail(
            `a ${op === 'ReduceMean' ? 'mean' : 'maximum'} over axes [${given.join(',')}] of a tensor of rank ${x.length + 1} (only over H and W of [N,C,H,W], a global pool; a layer norm's mean over features does not map)`,
          );
        const out = int('keepdims', 1) === 1 ? [x[0], 1, 1] : [x[0]];
        if (op === 'ReduceMean') return emit({ kind: 'globalpool', x: ins[0] }, out);
        return emit({ kind: 'pool', x: ins[0], pool: 'max', kernel: [x[1], x[2]], stride: [x[1], x[2]], pads: [0, 0, 0, 0] }, out);
      }
      case 'Concat': {
        const parts = ins.map(shapeOf);
        const rank = parts[0].length + 1;
        const axis = int('axis', 1);
        if ((axis < 0 ? axis + rank : axis) !== 1) throw new Fail(`concatenation along axis ${axis} (only channels, axis 1)`);
        if (parts.some((p) => p.length !== parts[0].length || p.slice(1).join() !== parts[0].slice(1).join())) throw new Fail('parts whose other axes differ');
        return emit({ kind: 'concat', xs: ins }, [parts.reduce((a, p) => a + p[0], 0), ...parts[0].slice(1)]);
      }
      case 'Flatten': {
        const x = shapeOf(ins[0]);
        const axis = int('axis', 1);
        if (axis !== 1) throw new Fail(`Flatten at axis ${axis} (only 1: keep the batch)`);
        return emit({ kind: 'reshape', x: ins[0], order: 'chw' }, [x.reduce((a, b) => a * b, 1)]);
      }
      case 'Reshape':
      case 'Squeeze':
      case 'Unsqueeze': {
        const x = shapeOf(ins[0]);
        const total = x.reduce((a, b) => a * b, 1);
        let target: number[];
        if (op === 'Reshape') {
          const spec = constOf(ins[1], 'target shape').ints ?? [];
          const full = [1, ...x];
          target = spec.map((d, i) => (d === 0 ? full[i] : d));
          const known = target.filter((d) => d > 0).reduce((a, b) => a * b, 1);
          target = target.map((d) => (d === -1 ? total / known : d));
        } else {
          const axes = ins[1] !== undefined && ins[1] !== '' ? (constOf(ins[1], 'axes').ints ?? []) : (ints('axes') ?? []);
          const full = [1, ...x];
          if (op === 'Squeeze') {
            const rank = full.length;
            const drop = new Set((axes.length === 0 ? full.map((d, i) => (d === 1 && i > 0 ? i : -1)).filter((i) => i >= 0) : axes).map((a) => (a < 0 ? a + rank : a)));
            target = full.filter((_, i) => !drop.has(i));
          } else {
            target = [...full];
            const rank = full.length + axes.length;
            for (const a of [...axes].map((v) => (v < 0 ? v + rank : v)).sort((p, q) => p - q)) target.splice(a, 0, 1);
          }
        }
        if (target[0] !== 1 || (target.length !== 2 && target.length !== 4) || target.slice(1).reduce((a, b) => a * b, 1) !== total || target.some((d) => !Number.isInteger(d) || d < 1)) {
          throw new Fail(`to [${target.join(',')}] (only to [1,n] or [1,C,H,W] of the same ${total} elements)`);
        }
        return emit({ kind: 'reshape', x: ins[0], order: 'chw' }, target.slice(1));
      }
      case 'Pad': {
        const x = shapeOf(ins[0]);
        const mode = str('mode', 'constant');
        if (mode !== 'constant') throw new Fail(`mode "${mode}" (only constant zeros)`);
        const value = ins[2] !== undefined && ins[2] !== '' ? floatsOf(ins[2], 'value')[0] : float('value', 0);
        if (value !== 0) throw new Fail(`padding with ${value} (only zeros)`);
        const p = ins[1] !== undefined && ins[1] !== '' ? (constOf(ins[1], 'pads').ints ?? []) : (ints('pads') ?? []);
        if (x.length !== 3 || p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[4] !== 0 || p[5] !== 0 || p.some((v) => v < 0))
          throw new Fail(`pads [${p.join(',')}] (only non-negative zero padding of H and W)`);
        const pads: Pads = [p[2], p[6], p[3], p[7]];
        return emit({ kind: 'pad', x: ins[0], pads }, [x[0], x[1] + p[2] + p[6], x[2] + p[3] + p[7]]);
      }
      default:
        throw new Fail(unsupportedWhy(op));
    }
  }
}

/** The ONNX ops this reader maps (some only with certain attributes or constant operands). */
const SUPPORTED = new Set([
  'Constant',
  'Identity',
  'Dropout',
  'Shape',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Cast',
  'Conv',
  'Gemm',
  'MatMul',
  'BatchNormalization',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Relu',
  'LeakyRelu',
  'Elu',
  'Sigmoid',
  'Tanh',
  'HardSigmoid',
  'HardSwish',
  'Clip',
  'Softmax',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'ReduceMean',
  'ReduceMax',
  'Flatten',
  'Reshape',
  'Pad',
]);

/** Why a known op does not map. */
function unsupportedWhy(op: string): string {
  const why: Record<string, string> = {
    LSTM: 'recurrent layers are not supported (express recurrence as edges of a network spec instead)',
    GRU: 'recurrent layers are not supported (express recurrence as edges of a network spec instead)',
    RNN: 'recurrent layers are not supported (express recurrence as edges of a network spec instead)',
    Resize: 'resizing (upsampling) has no op here',
    Upsample: 'resizing (upsampling) has no op here',
    ConvTranspose: 'transposed convolutions have no op here',
    Attention: 'attention has no op here',
    MatMulInteger: 'integer arithmetic is not supported',
    QLinearConv: 'quantised arithmetic is not supported (float weights only)',
    If: 'control flow is not supported',
    Loop: 'control flow is not supported',
    Scan: 'control flow is not supported',
    Pow: 'powers of computed tensors do not map (a layer norm, for one, has no op here)',
    Sqrt: 'roots of computed tensors do not map (a layer norm, for one, has no op here)',
    LayerNormalization: 'layer norms normalise each frame by its own statistics: no op here computes that',
    InstanceNormalization: 'instance norms normalise each frame by its own statistics: no op here computes that',
  };
  return why[op] ?? 'no op here computes it';
}

/** Explicit [top, bottom, left, right] padding from ONNX pads or auto_pad. */
function windowPads(autoPad: string, pads: readonly number[] | undefined, x: IrShape, kernel: readonly number[], stride: readonly number[], dilation: readonly number[]): Pads {
  if (autoPad === 'NOTSET' || autoPad === '') {
    const p = pads ?? [0, 0, 0, 0];
    if (p.length !== 4) throw new Fail(`pads of ${p.length} values (a 2-D window takes 4)`);
    // ONNX: [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right].
    return [p[0], p[2], p[1], p[3]];
  }
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  return samePads(x, kernel, stride, dilation, autoPad === 'SAME_UPPER');
}

/** A float constant broadcast (numpy rules, batch axis of 1 allowed) to a tensor of `shape` (without batch). */
function broadcastTo(c: Const, shape: IrShape): Float32Array {
  const values = c.floats ?? Float32Array.from(c.ints ?? []);
  const target = [1, ...shape];
  const dims = [...c.dims];
  while (dims.length < target.length) dims.unshift(1);
  if (dims.length > target.length || dims.some((d, i) => d !== 1 && d !== target[i])) throw new Fail(`a constant of shape [${c.dims.join(',')}] does not broadcast to [${target.join(',')}]`);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const tStrides = target.map((_, i) => target.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let a = 0; a < target.length; a++) {
      const coord = Math.floor(i / tStrides[a]) % target[a];
      src += (dims[a] === 1 ? 0 : coord) * strides[a];
    }
    out[i] = values[src];
  }
  return out;
}

/** Shape arithmetic on int64 constants, evaluated at import time. */
function foldInts(op: string, ins: readonly (Const | undefined)[], attrs: Map<string, AttributeProto>, opset: number): Const {
  const vals = (c: Const | undefined): number[] => [...(c?.ints ?? Array.from(c?.floats ?? []))];
  const axesOf = (): number[] => (ins[1] !== undefined ? vals(ins[1]) : (attrs.get('axes')?.ints ?? []).map(num));
  switch (op) {
    case 'Cast':
      return { dims: ins[0]?.dims ?? [], ints: vals(ins[0]) };
    case 'Gather': {
      const data = vals(ins[0]);
      const idx = vals(ins[1]).map((i) => (i < 0 ? i + data.length : i));
      if ((ins[0]?.dims.length ?? 1) !== 1) throw new Fail('Gather on a constant of rank > 1');
      return { dims: ins[1]?.dims ?? [], ints: idx.map((i) => data[i]) };
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const dims = [...(ins[0]?.dims ?? [])];
      const axes = axesOf();
      if (op === 'Unsqueeze') for (const a of axes.sort((p, q) => p - q)) dims.splice(a < 0 ? a + dims.length + 1 : a, 0, 1);
      else for (const a of axes.sort((p, q) => q - p)) dims.splice(a < 0 ? a + dims.length : a, 1);
      return { dims, ints: vals(ins[0]) };
    }
    default: {
      const parts = ins.map(vals);
      void opset;
      return { dims: [parts.reduce((a, p) => a + p.length, 0)], ints: parts.flat() };
    }
  }
}
