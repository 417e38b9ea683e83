/** Most streams one batched native call takes (kernels.c, MAX_BATCH). */
export const MAX_BATCH = 256;

/**
 * Calls `call(n)` for the streams of one engine frame in chunks of at most {@link MAX_BATCH},
 * with `offsets` holding each chunk's n source byte offsets, then its n target byte offsets:
 * what the native batched kernels take. `offsets` is the kernel's own scratch of 2 x
 * MAX_BATCH, reused call after call (nothing is allocated per frame).
 */
export function inStreamChunks(offsets: Float64Array, srcs: readonly Float32Array[], dsts: readonly Float32Array[], call: (n: number) => void): void {
  for (let at = 0; at < srcs.length; at += MAX_BATCH) {
    const n = Math.min(MAX_BATCH, srcs.length - at);
    for (let b = 0; b < n; b++) {
      offsets[b] = srcs[at + b].byteOffset;
      offsets[n + b] = dsts[at + b].byteOffset;
    }
    call(n);
  }
}

/** A scratch for {@link inStreamChunks}. */
export const streamOffsets = (): Float64Array => new Float64Array(2 * MAX_BATCH);
