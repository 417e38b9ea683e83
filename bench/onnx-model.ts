// Hand-encoded ONNX models, so the onnxruntime-node peer runs exactly what we time, with no
// converter in between: single ops (bench:kernels) and whole feedforward networks
// (bench:peer). Protobuf wire format, the few fields ONNX needs.

type Field = Uint8Array;

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

const concat = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const intField = (field: number, value: number): Field => Uint8Array.from([...varint(field << 3), ...varint(value)]);
const bytesField = (field: number, bytes: Uint8Array): Field => concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(bytes.length)]), bytes]);
const stringField = (field: number, s: string): Field => bytesField(field, new TextEncoder().encode(s));
const message = (field: number, parts: readonly Field[]): Field => bytesField(field, concat(parts));

const FLOAT = 1;

/** An op attribute: an integer, an integer list or a float. */
export type Attribute =
  | { readonly name: string; readonly int: number }
  | { readonly name: string; readonly ints: readonly number[] }
  | { readonly name: string; readonly float: number };

function attribute(a: Attribute): Field {
  if ('int' in a) return message(5, [stringField(1, a.name), intField(20, 2), intField(3, a.int)]);
  if ('float' in a) {
    const f = new Uint8Array(4);
    new DataView(f.buffer).setFloat32(0, a.float, true);
    return message(5, [stringField(1, a.name), intField(20, 1), concat([Uint8Array.of((2 << 3) | 5), f])]);
  }
  return message(5, [stringField(1, a.name), intField(20, 7), ...a.ints.map((v) => intField(8, v))]);
}

function valueInfo(field: number, name: string, dims: readonly number[]): Field {
  const shape = message(2, dims.map((d) => message(1, [intField(1, d)])));
  const tensorType = message(1, [intField(1, FLOAT), shape]);
  return message(field, [stringField(1, name), message(2, [tensorType])]);
}

function initializer(name: string, dims: readonly number[], data: Float32Array): Field {
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return message(5, [...dims.map((d) => intField(1, d)), intField(2, FLOAT), stringField(8, name), bytesField(9, raw)]);
}

/** One node of a graph: `op(inputs) -> outputs`. */
export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly Attribute[];
}

/** A float tensor: a constant of the graph, or one of its inputs or outputs. */
export interface TensorInfo {
  readonly name: string;
  readonly dims: readonly number[];
}

/** A model of `nodes` (in topological order) with float constants; opset 14. */
export function graphModel(graph: {
  readonly nodes: readonly GraphNode[];
  readonly constants: readonly (TensorInfo & { readonly data: Float32Array })[];
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}): Uint8Array {
  const nodes = graph.nodes.map((n, i) =>
    message(1, [...n.inputs.map((x) => stringField(1, x)), ...n.outputs.map((y) => stringField(2, y)), stringField(3, `n${i}`), stringField(4, n.op), ...(n.attributes ?? []).map(attribute)]),
  );
  const body = message(7, [
    ...nodes,
    stringField(2, 'bench'),
    ...graph.constants.map((c) => initializer(c.name, c.dims, c.data)),
    ...graph.inputs.map((t) => valueInfo(11, t.name, t.dims)),
    ...graph.outputs.map((t) => valueInfo(12, t.name, t.dims)),
  ]);
  return concat([intField(1, 8), stringField(2, 'streamroll-bench'), body, message(8, [stringField(1, ''), intField(2, 14)])]);
}

/** A model computing `y = op(x, W)` with W a float initializer; opset 14. */
export function singleOpModel(op: string, x: readonly number[], w: readonly number[], weights: Float32Array, y: readonly number[], attributes: readonly Attribute[]): Uint8Array {
  return graphModel({
    nodes: [{ op, inputs: ['x', 'W'], outputs: ['y'], attributes }],
    constants: [{ name: 'W', dims: w, data: weights }],
    inputs: [{ name: 'x', dims: x }],
    outputs: [{ name: 'y', dims: y }],
  });
}
