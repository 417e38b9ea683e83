import type { InputFrame } from '../engine/inputs.js';

/** A frame as sources deliver it: the input, an optional label, and when it was captured. */
export interface SourceFrame {
  readonly inputs: InputFrame;
  /** Class label, when the source knows it (synthetic camera, labelled recordings). */
  readonly label?: number;
  /** Capture time or index as the source gives it (`t` of the wire format). */
  readonly t?: number;
}
