import type { Readable } from 'node:stream';
import { Packr } from 'msgpackr';
import type { Network } from '../graph/network.js';
import { checkNumbers, type InputFrame } from './inputs.js';
import type { SourceFrame } from './frames.js';
import { StreamrollError } from '../util/errors.js';

/**
 * Frame streams (stdin/stdout, TCP, .msgpack recordings): each message is a 4-byte
 * big-endian length, then that many bytes of msgpack. The length prefix is what lets a
 * reader reject one oversize or garbled message and go on with the next (a bare msgpack
 * stream cannot resynchronise after garbage). docs/wire-format.md is the specification.
 *
 * In:  `{t?: number, inputs: {<input node>: tensor}, label?: number, session?: string, token?: string}`
 * Out: `{t: number | null, tick: number, outputs: {<output node>: tensor}}`, or `{t, error}`
 */
// Written as plain msgpack: a Float32Array becomes bin (its little-endian bytes), which any
// msgpack library in any language decodes; msgpackr's typed-array extension would not be.
const writer = new Packr({ useRecords: false });
// Read with msgpackr's extensions too, so JavaScript clients that pack typed arrays as such work.
const reader = new Packr({ moreTypes: true, useRecords: false });

/** Default largest message accepted (bytes). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Encodes one message with its length prefix. */
export function encodeMessage(value: unknown): Buffer {
  const body = writer.pack(value);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** A message that could not be used, with why; the stream goes on unless `fatal`. */
export class MessageError extends StreamrollError {
  readonly fatal: boolean;
  constructor(message: string, fatal = false) {
    // A bad message is data, not a bug: no stack (a flood of garbage makes thousands a second).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super('MESSAGE_INVALID', message);
    Error.stackTraceLimit = limit;
    this.name = 'MessageError';
    this.fatal = fatal;
  }
}

/**
 * Cuts a byte stream into length-prefixed messages as chunks arrive, copying each byte at
 * most once (chunks are kept as they come and joined once per message, so a message arriving
 * in many small chunks costs its size, not its size times its chunks). `buffered` is what it
 * holds for the message in progress: a server sums it over connections to bound its memory.
 */
export class MessageFramer {
  readonly maxBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Body length of the message in progress once its header is in, else -1. */
  #length = -1;
  #index = 0;
  #failed = false;

  constructor(maxBytes = MAX_MESSAGE_BYTES) {
    this.maxBytes = maxBytes;
  }

  /** Bytes held for messages not complete yet. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Messages decoded so far (the index the next one gets). */
  get index(): number {
    return this.#index;
  }

  /**
   * Adds a chunk; returns the messages it completes, each decoded or a {@link MessageError}
   * in its place. After a fatal one (an oversize length) nothing more is read.
   */
  push(chunk: Buffer): unknown[] {
    if (this.#failed) return [];
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: unknown[] = [];
    for (;;) {
      if (this.#length < 0) {
        if (this.#buffered < 4) break;
        const length = this.#take(4).readUInt32BE(0);
        if (length > this.maxBytes) {
          this.#failed = true;
          this.#chunks = [];
          this.#buffered = 0;
          out.push(new MessageError(`message ${this.#index}: ${length} bytes is over the limit of ${this.maxBytes}; closing the stream`, true));
          return out;
        }
        this.#length = length;
      }
      if (this.#buffered < this.#length) break;
      const body = this.#take(this.#length);
      this.#length = -1;
      out.push(decodeMessage(body, this.#index++));
    }
    return out;
  }

  /** The stream ended: a message left half-read is an error. */
  end(): MessageError | undefined {
    if (this.#failed || (this.#buffered === 0 && this.#length < 0)) return undefined;
    const held = this.#buffered + (this.#length >= 0 ? 4 : 0);
    return new MessageError(`message ${this.#index}: truncated (stream ended after ${held} of its bytes)`, true);
  }

  /** The next n bytes, joined once (n <= buffered). */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.#chunks[0];
        const used = Math.min(c.length, n - at);
        c.copy(out, at, 0, used);
        at += used;
        if (used === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(used);
      }
    }
    this.#buffered -= n;
    return out;
  }
}

/**
 * Reads length-prefixed messages from a byte stream: yields each decoded value, or a
 * {@link MessageError} in its place for a garbled one. An oversize length ends the stream
 * with a fatal error (its bytes cannot be trusted to skip); so does a truncated last message.
 */
export async function* readMessages(stream: Readable, maxBytes = MAX_MESSAGE_BYTES): AsyncGenerator<unknown> {
  const framer = new MessageFramer(maxBytes);
  for await (const chunk of stream) {
    for (const message of framer.push(chunk as Buffer)) {
      yield message;
      if (message instanceof MessageError && message.fatal) return;
    }
  }
  const truncated = framer.end();
  if (truncated !== undefined) yield truncated;
}

/** Decodes one message body, or a {@link MessageError} saying why it is not msgpack. */
export function decodeMessage(body: Uint8Array, index: number): unknown {
  if (body.length === 0) return new MessageError(`message ${index}: empty (no msgpack value)`);
  let message: unknown;
  try {
    message = reader.unpack(body) as unknown;
  } catch (err) {
    return new MessageError(`message ${index}: not valid msgpack (${(err as Error).message})`);
  }
  if (typeof message === 'object' && message !== null) {
    const m = message as { inputs?: unknown; outputs?: unknown };
    floatsFromBytes(m.inputs);
    floatsFromBytes(m.outputs);
  }
  return message;
}

/**
 * Tensors sent as bin (a Uint8Array here) become Float32Arrays in place: the wire format's
 * float32 bytes, little-endian. A byte count that is not a multiple of 4 is left for
 * {@link toSourceFrame} to reject with its length.
 */
function floatsFromBytes(tensors: unknown): void {
  if (typeof tensors !== 'object' || tensors === null || Array.isArray(tensors)) return;
  const table = tensors as Record<string, unknown>;
  for (const [name, value] of Object.entries(table)) {
    if (name !== '__proto__' && value instanceof Uint8Array && value.byteLength % 4 === 0) {
      const floats = new Float32Array(value.byteLength / 4);
      new Uint8Array(floats.buffer).set(value);
      table[name] = floats;
    }
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
    let value = (m.inputs as Record<string, unknown>)[node.name];
    // msgpack's default for a Float32Array is bin (a Buffer here): its bytes are the floats,
    // little-endian, when there are exactly 4 per value.
    if (value instanceof Uint8Array && !(value instanceof Float32Array)) {
      if (value.byteLength !== 4 * node.size)
        return new MessageError(`message ${index}: input "${node.name}" is ${value.byteLength} bytes of binary, expected ${4 * node.size} (${node.size} float32 values, little-endian)`);
      const floats = new Float32Array(node.size);
      new Uint8Array(floats.buffer).set(value);
      value = floats;
    }
    const typed = value instanceof Float32Array || value instanceof Float64Array;
    if (!typed && !Array.isArray(value))
      return new MessageError(`message ${index}: input "${node.name}" missing or not an array of numbers (a Float32Array, Float64Array, float32 bytes or a msgpack array)`);
    const array = value as ArrayLike<number>;
    if (array.length !== node.size) return new MessageError(`message ${index}: input "${node.name}" has ${array.length} values, expected ${node.size}`);
    try {
      checkNumbers(array, node.name, index);
    } catch (err) {
      return new MessageError(`message ${index}: ${(err as Error).message.replace(/^tick \d+: /, '')}`);
    }
    inputs[node.name] = array;
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
