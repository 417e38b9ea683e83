// How big things may get before anything is allocated for them. Every size a user controls
// (a spec's shapes, a pattern's delays, an analysis window, an arena) is checked against one
// of these first, so a 25-byte pattern cannot ask for gigabytes and a typo in a shape fails
// with a message naming the limit instead of an engine aborting.

import { StreamrollError } from '../util/errors.js';

/** The limits, each with the reason it is there. */
export const LIMITS = {
  /** Elements of one tensor (a node's state, one edge's weights): 2^28 floats, 1 GiB. */
  tensorElements: 2 ** 28,
  /** Weights of a whole network: 2^29 floats, 2 GiB. */
  parameters: 2 ** 29,
  /** A rollout delay, in frames: rings hold delay + 1 states per node. */
  delay: 4096,
  /** Numbers in an analysis tableau (nodes x window frames). */
  tableauCells: 2_000_000,
  /** Nesting of JSON input (a spec needs 5 levels). */
  jsonDepth: 256,
  /** One network's arena in bytes: a 32-bit WebAssembly memory holds at most 4 GiB. */
  arenaBytes: 4 * 2 ** 30 - 2 ** 16,
} as const;

/** Something over one of the {@link LIMITS}: nothing was allocated for it. */
export class LimitError extends StreamrollError {
  constructor(message: string) {
    super('LIMIT_EXCEEDED', message);
    this.name = 'LimitError';
  }
}

/** `n` with thousands separated, for messages. */
export const count = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n));
