import type { Network } from '../graph/network.js';

/**
 * One tick's input: a Float32Array (or array of numbers) per input node, keyed by node
 * name, or a single array when the network has exactly one input. Row-major `[C,H,W]`.
 */
export type InputFrame = ArrayLike<number> | Readonly<Record<string, ArrayLike<number>>>;

/** What to do with NaN or infinite input values: `reject` (default) throws, `zero` replaces them with 0. */
export type NonFinitePolicy = 'reject' | 'zero';

/** An input frame that cannot be used; the executor that threw is unchanged. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

const isArrayLike = (v: unknown): v is ArrayLike<number> =>
  ArrayBuffer.isView(v) || Array.isArray(v);

/**
 * Checks one tick's input against the network and copies it into `into` (one buffer per
 * input node, by position in `net.inputs`). Throws {@link InputError} naming the node, the
 * tick and what is wrong, before writing anything.
 */
export function readInputFrame(
  net: Network,
  frame: InputFrame,
  tick: number,
  into: readonly Float32Array[],
  policy: NonFinitePolicy = 'reject',
): void {
  const names = net.inputs.map((i) => net.nodes[i].name);
  let arrays: ArrayLike<number>[];
  if (isArrayLike(frame)) {
    if (names.length !== 1) {
      throw new InputError(`tick ${tick}: network "${net.name}" has ${names.length} input nodes (${names.join(', ')}); pass an object keyed by node name`);
    }
    arrays = [frame];
  } else if (typeof frame === 'object' && frame !== null) {
    const record = frame as Readonly<Record<string, ArrayLike<number>>>;
    for (const key of Object.keys(record)) {
      if (!names.includes(key)) throw new InputError(`tick ${tick}: "${key}" is not an input node (inputs: ${names.join(', ')})`);
    }
    arrays = names.map((name) => {
      const a = record[name];
      if (a === undefined) throw new InputError(`tick ${tick}: missing input for node "${name}"`);
      if (!isArrayLike(a)) throw new InputError(`tick ${tick}: input "${name}" must be a Float32Array or an array of numbers`);
      return a;
    });
  } else {
    throw new InputError(`tick ${tick}: expected a Float32Array or an object of Float32Arrays keyed by input node, found ${String(frame)}`);
  }
  arrays.forEach((a, k) => {
    const node = net.nodes[net.inputs[k]];
    if (a.length !== node.size) {
      throw new InputError(`tick ${tick}: input "${node.name}" has ${a.length} values, expected ${node.size} (shape [${node.shape.join(',')}])`);
    }
    if (policy === 'reject') {
      for (let i = 0; i < a.length; i++) {
        if (!Number.isFinite(a[i])) throw new InputError(`tick ${tick}: input "${node.name}" has a non-finite value (${a[i]}) at index ${i}`);
      }
    }
  });
  arrays.forEach((a, k) => {
    const dst = into[k];
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      dst[i] = Number.isFinite(v) ? v : 0;
    }
  });
}
