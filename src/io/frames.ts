import type { InputFrame } from './inputs.js';

/** A frame as sources deliver it: the input, an optional label, and when it was captured. */
export interface SourceFrame {
  readonly inputs: InputFrame;
  /** Class label, when the source knows it (synthetic camera, labelled recordings). */
  readonly label?: number;
  /** Capture time or index as the source gives it (`t` of the wire format). */
  readonly t?: number;
}

/**
 * The inputs of each frame of a source, for `Runtime.run()` and `Session.run()`, which take
 * inputs only: `rt.run(frameInputs(mnistCamera({ frames: 100 })))`.
 */
export function frameInputs(frames: Iterable<SourceFrame>): Iterable<InputFrame>;
export function frameInputs(frames: AsyncIterable<SourceFrame>): AsyncIterable<InputFrame>;
export function frameInputs(frames: Iterable<SourceFrame> | AsyncIterable<SourceFrame>): Iterable<InputFrame> | AsyncIterable<InputFrame> {
  if (Symbol.asyncIterator in frames) {
    return (async function* () {
      for await (const f of frames) yield f.inputs;
    })();
  }
  return (function* () {
    for (const f of frames) yield f.inputs;
  })();
}
