/** Most streams one batched native call takes (kernels.c, MAX_BATCH). */
export const MAX_BATCH = 256;

/**
 * A batched native kernel's call over the streams of one engine frame, in chunks of at most
 * {@link MAX_BATCH}: each chunk's n source byte offsets, then its n target byte offsets, go in
 * one Float64Array the native side reads. The array and the call are made once per kernel, so
 * nothing is allocated per frame.
 */
export class StreamChunks {
  readonly #offsets = new Float64Array(2 * MAX_BATCH);
  readonly #call: (offsets: Float64Array, n: number, bias: number) => void;

  /** `call(offsets, n, bias)` runs the native kernel for n streams (`bias`: a byte offset, or 0). */
  constructor(call: (offsets: Float64Array, n: number, bias: number) => void) {
    this.#call = call;
  }

  run(srcs: readonly Float32Array[], dsts: readonly Float32Array[], bias: Float32Array | null = null): void {
    const offsets = this.#offsets;
    const at0 = bias === null ? 0 : bias.byteOffset;
    for (let at = 0; at < srcs.length; at += MAX_BATCH) {
      const n = Math.min(MAX_BATCH, srcs.length - at);
      for (let b = 0; b < n; b++) {
        offsets[b] = srcs[at + b].byteOffset;
        offsets[n + b] = dsts[at + b].byteOffset;
      }
      this.#call(offsets, n, at0);
    }
  }
}
