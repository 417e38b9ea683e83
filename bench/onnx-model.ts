// Hand-encoded ONNX models of a single op, so the onnxruntime-node peer runs exactly the op
// we time, with no converter in between. Protobuf wire format, the few fields ONNX needs.

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

/** An op attribute: integers or integer lists (all ONNX's Gemm and Conv need). */
export type Attribute = { readonly name: string; readonly int: number } | { readonly name: string; readonly ints: readonly number[] };

function attribute(a: Attribute): Field {
  if ('int' in a) return message(5, [stringField(1, a.name), intField(20, 2), intField(3, a.int)]);
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

/** A model computing `y = op(x, W)` with W a float initializer; opset 13. */
export function singleOpModel(op: string, x: readonly number[], w: readonly number[], weights: Float32Array, y: readonly number[], attributes: readonly Attribute[]): Uint8Array {
  const node = message(1, [stringField(1, 'x'), stringField(1, 'W'), stringField(2, 'y'), stringField(3, 'op'), stringField(4, op), ...attributes.map(attribute)]);
  const graph = message(7, [node, stringField(2, 'bench'), initializer('W', w, weights), valueInfo(11, 'x', x), valueInfo(12, 'y', y)]);
  return concat([intField(1, 8), stringField(2, 'streamroll-bench'), graph, message(8, [stringField(1, ''), intField(2, 13)])]);
}
