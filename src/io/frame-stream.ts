import type { Readable } from 'node:stream';
import { Packr } from 'msgpackr';
import type { Network } from '../graph/network.js';
import type { InputFrame } from '../engine/inputs.js';
import type { SourceFrame } from './frames.js';

/**
 * Frame streams (stdin/stdout, TCP, .msgpack recordings): each message is a 4-byte
 * big-endian length, then that many bytes of msgpack. The length prefix is what lets a
 * reader reject one oversize or garbled message and go on with the next (a bare msgpack
 * stream cannot resynchronise after garbage).
 *
 * In:  `{t?: number, inputs: {<input node>: Float32Array | number[]}, label?: number}`
 * Out: `{t: number, tick: number, outputs: {<output node>: Float32Array}}`
 */
const packr = new Packr({ moreTypes: true, useRecords: false });

/** Default largest message accepted (bytes). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Encodes one message with its length prefix. */
export function encodeMessage(value: unknown): Buffer {
  const body = packr.pack(value);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** A message that could not be used, with why; the stream goes on unless `fatal`. */
export class MessageError extends Error {
  readonly fatal: boolean;
  constructor(message: string, fatal = false) {
    super(message);
    this.name = 'MessageError';
    this.fatal = fatal;
  }
}

/**
 * Reads length-prefixed messages from a byte stream: yields each decoded value, or a
 * {@link MessageError} in its place for a garbled one. An oversize length ends the stream
 * with a fatal error (its bytes cannot be trusted to skip); so does a truncated last message.
 */
export async function* readMessages(stream: Readable, maxBytes = MAX_MESSAGE_BYTES): AsyncGenerator<unknown> {
  let buffer: Buffer = Buffer.alloc(0);
  let index = 0;
  for await (const chunk of stream) {
    buffer = buffer.length === 0 ? (chunk as Buffer) : Buffer.concat([buffer, chunk as Buffer]);
    while (buffer.length >= 4) {
      const length = buffer.readUInt32BE(0);
      if (length > maxBytes) {
        yield new MessageError(`message ${index}: ${length} bytes is over the limit of ${maxBytes}; closing the stream`, true);
        return;
      }
      if (buffer.length < 4 + length) break;
      const body = buffer.subarray(4, 4 + length);
      buffer = buffer.subarray(4 + length);
      yield decodeMessage(body, index);
      index++;
    }
  }
  if (buffer.length > 0) yield new MessageError(`message ${index}: truncated (stream ended after ${buffer.length} of its bytes)`, true);
}

/** Decodes one message body, or a {@link MessageError} saying why it is not msgpack. */
export function decodeMessage(body: Uint8Array, index: number): unknown {
  try {
    return packr.unpack(body) as unknown;
  } catch (err) {
    return new MessageError(`message ${index}: not valid msgpack (${(err as Error).message})`);
  }
}

/**
 * Checks a decoded message against the network and turns it into a frame: an object with an
 * `inputs` object holding one array per input node (lengths are checked again when it runs).
 */
export function toSourceFrame(message: unknown, net: Network, index: number): SourceFrame | MessageError {
  if (message instanceof MessageError) return message;
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return new MessageError(`message ${index}: expected an object {t, inputs: {node: Float32Array}}`);
  }
  const m = message as { t?: unknown; inputs?: unknown; label?: unknown };
  if (typeof m.inputs !== 'object' || m.inputs === null || Array.isArray(m.inputs)) return new MessageError(`message ${index}: "inputs" must be an object keyed by input node`);
  const inputs: Record<string, ArrayLike<number>> = {};
  for (const v of net.inputs) {
    const node = net.nodes[v];
    const value = (m.inputs as Record<string, unknown>)[node.name];
    if (!(value instanceof Float32Array) && !Array.isArray(value)) return new MessageError(`message ${index}: input "${node.name}" missing or not an array`);
    if (value.length !== node.size) return new MessageError(`message ${index}: input "${node.name}" has ${value.length} values, expected ${node.size}`);
    inputs[node.name] = value as ArrayLike<number>;
  }
  const frame: { inputs: InputFrame; t?: number; label?: number } = { inputs };
  if (typeof m.t === 'number') frame.t = m.t;
  if (typeof m.label === 'number') frame.label = m.label;
  return frame;
}

/** The message written for a frame (recordings use it for inputs). */
export function frameMessage(frame: SourceFrame, net: Network): Record<string, unknown> {
  const inputs: Record<string, Float32Array> = {};
  const given = frame.inputs;
  net.inputs.forEach((v) => {
    const name = net.nodes[v].name;
    const a = ArrayBuffer.isView(given) || Array.isArray(given) ? (given as ArrayLike<number>) : (given as Record<string, ArrayLike<number>>)[name];
    inputs[name] = Float32Array.from(a);
  });
  return { ...(frame.t === undefined ? {} : { t: frame.t }), inputs, ...(frame.label === undefined ? {} : { label: frame.label }) };
}
