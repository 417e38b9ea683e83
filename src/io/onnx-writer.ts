// Writes ONNX models, encoded with onnx-proto (the published ONNX schema): whole graphs of
// float constants and ops, the format bench:peer hands onnxruntime-node and tests build
// import cases with.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** An op attribute: an integer, an integer list, a float, a float list or a string. */
export type Attribute =
  | { readonly name: string; readonly int: number }
  | { readonly name: string; readonly ints: readonly number[] }
  | { readonly name: string; readonly float: number }
  | { readonly name: string; readonly floats: readonly number[] }
  | { readonly name: string; readonly string: string };

/** One node of a graph: `op(inputs) -> outputs`. */
export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly Attribute[];
  readonly name?: string;
}

/** A tensor's name and dims: a graph input or output. */
export interface TensorInfo {
  readonly name: string;
  readonly dims: readonly (number | string)[];
}

/** A constant of the graph: float32 (weights) or int64 (shapes, axes) values. */
export interface Constant {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

function attribute(a: Attribute): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return { name: a.name, type: T.INT, i: a.int };
  if ('ints' in a) return { name: a.name, type: T.INTS, ints: [...a.ints] };
  if ('float' in a) return { name: a.name, type: T.FLOAT, f: a.float };
  if ('floats' in a) return { name: a.name, type: T.FLOATS, floats: [...a.floats] };
  return { name: a.name, type: T.STRING, s: new TextEncoder().encode(a.string) };
}

function tensor(c: Constant): onnxProto.onnx.ITensorProto {
  const raw = new Uint8Array(c.data.buffer.slice(c.data.byteOffset, c.data.byteOffset + c.data.byteLength));
  return { name: c.name, dims: [...c.dims], dataType: c.data instanceof Float32Array ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64, rawData: raw };
}

function valueInfo(t: TensorInfo): onnxProto.onnx.IValueInfoProto {
  const dim = t.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name: t.name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } };
}

/** A model of `nodes` (in topological order) with constants as initializers; opset 14 by default. */
export function graphModel(graph: {
  readonly nodes: readonly GraphNode[];
  readonly constants: readonly Constant[];
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly name?: string;
  readonly opset?: number;
}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'streamroll',
    opsetImport: [{ domain: '', version: graph.opset ?? 14 }],
    graph: {
      name: graph.name ?? 'streamroll',
      node: graph.nodes.map((n, i) => ({ name: n.name ?? `n${i}`, opType: n.op, input: [...n.inputs], output: [...n.outputs], attribute: (n.attributes ?? []).map(attribute) })),
      initializer: graph.constants.map(tensor),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A model computing `y = op(x, W)` with W a float initializer. */
export function singleOpModel(op: string, x: readonly number[], w: readonly number[], weights: Float32Array, y: readonly number[], attributes: readonly Attribute[]): Uint8Array {
  return graphModel({
    nodes: [{ op, inputs: ['x', 'W'], outputs: ['y'], attributes }],
    constants: [{ name: 'W', dims: w, data: weights }],
    inputs: [{ name: 'x', dims: x }],
    outputs: [{ name: 'y', dims: y }],
  });
}
