import { firstNonFiniteJs } from '../kernels/kernel.js';
import type { Network } from '../graph/network.js';
import { StreamrollError } from '../util/errors.js';

/**
 * One tick's input: a Float32Array (or array of numbers) per input node, keyed by node
 * name, or a single array when the network has exactly one input. Row-major `[C,H,W]`.
 */
export type InputFrame = ArrayLike<number> | Readonly<Record<string, ArrayLike<number>>>;

/** What to do with NaN or infinite input values: `reject` (default) throws, `zero` replaces them with 0. */
export type NonFinitePolicy = 'reject' | 'zero';

/** An input frame that cannot be used; the executor that threw is unchanged. */
export class InputError extends StreamrollError {
  constructor(message: string) {
    super('INPUT_INVALID', message);
    this.name = 'InputError';
  }
}

/** Typed arrays of numbers (not bigints, not a DataView) and plain arrays are frames' arrays. */
const isArrayLike = (v: unknown): v is ArrayLike<number> => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array));

/** What a value is, for messages: `null`, `a string`, `an array`, `a Date`... */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return `a ${typeof v}`;
}

/**
 * Checks that a plain array holds only numbers (typed arrays of numbers always do), and
 * throws an InputError naming the input, the index and what was there instead. Nothing is
 * coerced: `null`, `true`, `"0x10"` or a Date are not numbers.
 */
export function checkNumbers(a: ArrayLike<number>, node: string, tick: number): void {
  if (!Array.isArray(a)) return;
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] !== 'number') throw new InputError(`tick ${tick}: input "${node}" has ${kindOf(a[i])} at index ${i}, not a number`);
  }
}

/**
 * Checks one tick's input against the network and returns one array per input node (by
 * position in `net.inputs`): the caller's own arrays when they are clean, a cleaned copy
 * when policy `zero` had to replace non-finite values. Throws {@link InputError} naming the
 * node, the tick and what is wrong; nothing is written anywhere. With `scanValues` false
 * only names and lengths are checked: the caller scans the values after copying them.
 */
export function checkInputFrame(net: Network, frame: InputFrame, tick: number, policy: NonFinitePolicy = 'reject', scanValues = true): ArrayLike<number>[] {
  const names = net.inputs.map((i) => net.nodes[i].name);
  let arrays: ArrayLike<number>[];
  if (isArrayLike(frame)) {
    if (names.length !== 1) {
      throw new InputError(`tick ${tick}: network "${net.name}" has ${names.length} input nodes (${names.join(', ')}); pass an object keyed by node name`);
    }
    arrays = [frame];
  } else if (ArrayBuffer.isView(frame)) {
    throw new InputError(`tick ${tick}: an input must be a Float32Array or another typed array of numbers (or an array of numbers), found ${kindOf(frame)}`);
  } else if (typeof frame === 'object' && frame !== null) {
    const record = frame as Readonly<Record<string, ArrayLike<number>>>;
    for (const key of Object.keys(record)) {
      if (!names.includes(key)) throw new InputError(`tick ${tick}: "${key}" is not an input node (inputs: ${names.join(', ')})`);
    }
    arrays = names.map((name) => {
      const a = record[name];
      if (a === undefined) throw new InputError(`tick ${tick}: missing input for node "${name}"`);
      if (!isArrayLike(a)) throw new InputError(`tick ${tick}: input "${name}" must be a Float32Array or an array of numbers, found ${kindOf(a)}`);
      return a;
    });
  } else {
    throw new InputError(`tick ${tick}: expected a Float32Array or an object of Float32Arrays keyed by input node, found ${kindOf(frame)}`);
  }
  return arrays.map((a, k) => {
    // Length first, so a later copy into a fixed slot can never overrun.
    const node = net.nodes[net.inputs[k]];
    if (a.length !== node.size) {
      throw new InputError(`tick ${tick}: input "${node.name}" has ${a.length} values, expected ${node.size} (shape [${node.shape.join(',')}])`);
    }
    checkNumbers(a, node.name, tick);
    if (!scanValues) return a;
    const bad = firstNonFiniteJs(a);
    if (bad < 0) return a;
    if (policy === 'reject') throw nonFiniteError(node.name, tick, a[bad], bad);
    return Float32Array.from(a, (v) => (Number.isFinite(v) ? v : 0));
  });
}

/** The error for a NaN or infinite input value. */
export function nonFiniteError(node: string, tick: number, value: number, index: number): InputError {
  return new InputError(`tick ${tick}: input "${node}" has a non-finite value (${value}) at index ${index}`);
}

/** A frame of zeros for every input of `net`: what warm-up ticks compute on. */
export function zeroFrame(net: Network): Record<string, Float32Array> {
  const zeros: Record<string, Float32Array> = {};
  for (const v of net.inputs) zeros[net.nodes[v].name] = new Float32Array(net.nodes[v].size);
  return zeros;
}
