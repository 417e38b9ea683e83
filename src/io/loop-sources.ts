// Sources as the real-time loop's thread sees them: each hands out one frame at a time, made
// or read before its deadline so that making it is not counted as latency.
import { closeSync, openSync, readSync } from 'node:fs';
import type { Network } from '../graph/network.js';
import { MnistCamera, type MnistCameraOptions } from './mnist-camera.js';
import type { Digit } from './mnist-data.js';
import { FrameRing, type FrameRingHandle } from './frame-ring.js';
import { MAX_MESSAGE_BYTES, MessageError, decodeMessage, toSourceFrame } from './frame-stream.js';

/** What a loop source describes to the loop's thread (structured-clonable). */
export type LoopSourceSpec =
  | { readonly kind: 'camera'; readonly options: Omit<MnistCameraOptions, 'digits' | 'split'>; readonly pixels: Float32Array; readonly labels: Uint8Array }
  | { readonly kind: 'replay'; readonly path: string; readonly maxMessageBytes?: number }
  /**
   * `clocked`: the ring only carries a stream (a generator, stdin) whose frames arrive one
   * per deadline; otherwise sensors push frames in real time, and a frame is stale as soon
   * as a newer one waits.
   */
  | { readonly kind: 'ring'; readonly ring: FrameRingHandle; readonly clocked: boolean };

/** One frame as the loop takes it. */
export interface LoopFrame {
  /** One array per input node, by position. */
  readonly arrays: readonly ArrayLike<number>[];
  readonly label: number | undefined;
  readonly t: number | undefined;
  /** After copying `arrays`: false when the frame was overwritten meanwhile (take the next one instead). */
  taken(): boolean;
}

/** A source in the loop's thread. */
export interface LoopSource {
  /** The next frame; null when the source has ended; undefined when none has arrived yet (a ring). */
  next(): LoopFrame | null | undefined;
  /** The next frame's `t` without taking it (recorded timing); null at the end. */
  peekT(): number | null | undefined;
  /**
   * Whether a frame newer than the one in hand is already waiting (a ring), which makes the
   * one in hand stale; undefined for sources whose frames arrive one per deadline.
   */
  newerWaiting(): boolean | undefined;
  /** Messages that could not be used, with why (a recording with bad entries). */
  readonly rejected: string[];
  close(): void;
}

const always = (): boolean => true;

/** Digits as two transferable arrays, for a camera in another thread. */
export function packDigits(digits: readonly Digit[]): { pixels: Float32Array; labels: Uint8Array } {
  const pixels = new Float32Array(digits.length * 784);
  digits.forEach((d, i) => pixels.set(d.pixels, i * 784));
  return { pixels, labels: Uint8Array.from(digits, (d) => d.label) };
}

function cameraSource(spec: Extract<LoopSourceSpec, { kind: 'camera' }>): LoopSource {
  const digits: Digit[] = Array.from(spec.labels, (label, i) => ({ label, pixels: spec.pixels.subarray(i * 784, (i + 1) * 784) }));
  const camera = new MnistCamera({ ...spec.options, digits });
  const limit = spec.options.frames ?? Infinity;
  // One buffer for every frame: the loop copies it into the arena before making the next.
  const pixels = new Float32Array(784);
  const arrays = [pixels];
  return {
    rejected: [],
    next() {
      if (camera.t >= limit) return null;
      const t = camera.t;
      const label = camera.next(pixels);
      return { arrays, label, t, taken: always };
    },
    peekT: () => undefined,
    newerWaiting: () => undefined,
    close: () => undefined,
  };
}

/** Length-prefixed messages read from a file with blocking reads (this thread has time between frames). */
function replaySource(spec: Extract<LoopSourceSpec, { kind: 'replay' }>, net: Network): LoopSource {
  const fd = openSync(spec.path, 'r');
  const limit = spec.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const rejected: string[] = [];
  let index = 0;
  let ahead: LoopFrame | null | undefined;
  const header = Buffer.alloc(4);
  const readFully = (buf: Buffer): number => {
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
    }
    return got;
  };
  const read = (): LoopFrame | null => {
    for (;;) {
      const got = readFully(header);
      if (got === 0) return null;
      if (got < 4) {
        rejected.push(`message ${index}: truncated (the recording ended inside its length)`);
        return null;
      }
      const length = header.readUInt32BE(0);
      if (length > limit) {
        rejected.push(`message ${index}: ${length} bytes is over the limit of ${limit}; the rest of the recording is skipped`);
        return null;
      }
      const body = Buffer.alloc(length);
      if (readFully(body) < length) {
        rejected.push(`message ${index}: truncated (the recording ended inside it)`);
        return null;
      }
      const frame = toSourceFrame(decodeMessage(body, index), net, index);
      index++;
      if (frame instanceof MessageError) {
        rejected.push(frame.message);
        continue;
      }
      const inputs = frame.inputs as Record<string, ArrayLike<number>>;
      return { arrays: net.inputs.map((v) => inputs[net.nodes[v].name]), label: frame.label, t: frame.t, taken: always };
    }
  };
  return {
    rejected,
    next() {
      const frame = ahead === undefined ? read() : ahead;
      ahead = undefined;
      return frame;
    },
    peekT() {
      ahead ??= read();
      return ahead === null ? null : ahead.t;
    },
    newerWaiting: () => undefined,
    close: () => closeSync(fd),
  };
}

function ringSource(spec: Extract<LoopSourceSpec, { kind: 'ring' }>): LoopSource {
  const ring = FrameRing.attach(spec.ring);
  return {
    rejected: [],
    next() {
      const peeked = ring.peek();
      if (peeked === null) return ring.ended && ring.size === 0 ? null : undefined;
      return { arrays: peeked.inputs, label: peeked.label, t: peeked.t, taken: () => ring.take(peeked.seq) };
    },
    peekT() {
      const peeked = ring.peek();
      if (peeked === null) return ring.ended && ring.size === 0 ? null : undefined;
      return peeked.t;
    },
    newerWaiting: () => (spec.clocked ? undefined : ring.size > 1),
    close: () => undefined,
  };
}

/** Opens a described source in this thread. */
export function openLoopSource(spec: LoopSourceSpec, net: Network): LoopSource {
  if (spec.kind === 'camera') return cameraSource(spec);
  if (spec.kind === 'replay') return replaySource(spec, net);
  return ringSource(spec);
}
