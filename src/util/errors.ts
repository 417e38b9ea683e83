/**
 * Stable codes of streamroll's errors: what a program switches on (messages may be reworded).
 * - `SPEC_INVALID`: a network spec, rollout pattern or model file that cannot be used
 * - `LIMIT_EXCEEDED`: a size over one of the `LIMITS`, refused before anything was allocated
 * - `ROLLOUT_CYCLE`: a rollout whose R=0 edges form a cycle
 * - `ROLLOUT_INVALID`: a rollout that does not fit the network (e.g. pipelined with feedback)
 * - `INPUT_INVALID`: a frame of the wrong length, with a non-number or non-finite value
 * - `OPTION_INVALID`: an option or argument out of its range (a placement, a backend name)
 * - `VIEW_MISUSE`: an input slot or output frame used outside its lifetime
 * - `RUNTIME_FAILED`: a runtime that failed (a node threw, a thread died), closed or aborted
 * - `ENGINE_STOPPED`: the engine stopped while a call waited on it
 * - `OVERRUN`: a real-time loop whose queue of waiting frames overflowed
 * - `MESSAGE_INVALID`: a frame message that could not be used
 * - `IMPORT_UNSUPPORTED`: a model with ops that do not map
 * - `FILE_UNREADABLE`: a file that could not be read
 * - `CONNECT_FAILED`: a connection that could not be made or broke
 * - `TF_MISSING`: training without TensorFlow.js installed
 * - `STREAM_ENDED`: a frame pushed into a source after its end()
 * - `UNSUPPORTED_PLATFORM`: a JavaScript engine without what the kernels need
 * - `USAGE`: a command line that cannot be run
 */
export type ErrorCode =
  | 'SPEC_INVALID'
  | 'LIMIT_EXCEEDED'
  | 'ROLLOUT_CYCLE'
  | 'ROLLOUT_INVALID'
  | 'INPUT_INVALID'
  | 'OPTION_INVALID'
  | 'VIEW_MISUSE'
  | 'RUNTIME_FAILED'
  | 'ENGINE_STOPPED'
  | 'OVERRUN'
  | 'MESSAGE_INVALID'
  | 'IMPORT_UNSUPPORTED'
  | 'FILE_UNREADABLE'
  | 'CONNECT_FAILED'
  | 'TF_MISSING'
  | 'STREAM_ENDED'
  | 'UNSUPPORTED_PLATFORM'
  | 'USAGE';

/**
 * The base of every error streamroll throws on purpose: one the caller can act on, with a
 * stable {@link ErrorCode}. Anything else that escapes is a bug. Subclasses (SpecError,
 * InputError, RuntimeError, ...) add what their kind of error knows.
 */
export class StreamrollError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'StreamrollError';
  }
}

/** Whether `err` is one of streamroll's own errors (also across realms: by its `code`). */
export function isStreamrollError(err: unknown): err is StreamrollError {
  return err instanceof StreamrollError;
}
