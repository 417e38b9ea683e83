import { StreamrollError } from '../util/errors.js';
// Types of the Runtime's public surface that its helpers share without importing the Runtime.

/** One tick's result from `Runtime.run`. */
export interface TickResult {
  readonly tick: number;
  /** Output node states, row-major, keyed by node name. */
  readonly outputs: Record<string, Float32Array>;
  /** From the input being handed to the engine to its outputs being read back. */
  readonly latencyUs: number;
}

/** Options of `Runtime.run`. */
export interface RunOptions {
  readonly signal?: AbortSignal;
  /**
   * Yield OutputFrames (views into the arena, no copies) instead of copies. Each is
   * released when the loop asks for the next tick (or earlier, by `release()`).
   */
  readonly views?: boolean;
}

/** The runtime was closed, or a worker failed; carries the cause. */
export class RuntimeError extends StreamrollError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RUNTIME_FAILED', message, options);
    this.name = 'RuntimeError';
  }
}
