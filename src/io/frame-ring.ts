// A ring of input frames in shared memory, so that a sensor on any thread can hand frames to
// the real-time loop's thread without the main thread (or its event loop) in between. Any
// number of producer threads (serialised by a short lock), one consumer.
import { InputError, type InputFrame } from './inputs.js';
import type { SourceFrame } from './frames.js';
import { StreamrollError } from '../util/errors.js';

/** Everything another thread needs to attach to a ring (structured-clonable). */
export interface FrameRingHandle {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly inputs: readonly { readonly name: string; readonly size: number }[];
}

// Int32 words, each party's on its own 64-byte line.
const HEAD = 0; // producers: frames written
const ENDED = 1; // producers: 1 once end() was called
const LOCK = 2; // producers: 1 while one of them writes
const DROPPED = 3; // producers: frames dropped because the ring was full
const TAIL = 16; // consumer: frames taken (or dropped by a producer)
const WAITING = 17; // producers waiting for room (the consumer notifies TAIL only then)
const HEADER_BYTES = 128;
/** Per slot: Float64 t (NaN: none), Float64 label (NaN: none), then the inputs' floats. */
const META_FLOATS = 4;

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** The frame a consumer looks at before taking it. */
export interface PeekedFrame {
  /** The frame's input values by input position (views into the ring: copy them before {@link FrameRing.take}). */
  readonly inputs: readonly Float32Array[];
  readonly t: number | undefined;
  readonly label: number | undefined;
  /** Pass to {@link FrameRing.take}. */
  readonly seq: number;
}

/**
 * Frames for one network's inputs in a SharedArrayBuffer ring of `capacity` slots. `push()`
 * never blocks (a sensor must not): when the ring is full the oldest frame is dropped and
 * counted. `pushWait()` waits for room instead (for sources that must not lose frames).
 * Producers in other threads attach with `FrameRing.attach(ring.handle)`.
 */
export class FrameRing {
  readonly handle: FrameRingHandle;
  readonly #words: Int32Array;
  readonly #meta: Float64Array[];
  readonly #slots: Float32Array[][];
  readonly #names: readonly string[];

  private constructor(handle: FrameRingHandle) {
    this.handle = handle;
    const total = handle.inputs.reduce((a, i) => a + i.size, 0);
    const slotBytes = align64((META_FLOATS + total) * 4);
    this.#words = new Int32Array(handle.buffer, 0, HEADER_BYTES / 4);
    this.#meta = [];
    this.#slots = [];
    for (let s = 0; s < handle.capacity; s++) {
      const at = HEADER_BYTES + s * slotBytes;
      this.#meta.push(new Float64Array(handle.buffer, at, 2));
      let offset = at + META_FLOATS * 4;
      this.#slots.push(
        handle.inputs.map((i) => {
          const view = new Float32Array(handle.buffer, offset, i.size);
          offset += i.size * 4;
          return view;
        }),
      );
    }
    this.#names = handle.inputs.map((i) => i.name);
  }

  /** A new ring for frames of the given inputs (e.g. a network's input nodes: name and element count). */
  static create(inputs: readonly { readonly name: string; readonly size: number }[], capacity = 64): FrameRing {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    if (inputs.length === 0) throw new RangeError('a frame ring needs at least one input');
    const total = inputs.reduce((a, i) => a + i.size, 0);
    const buffer = new SharedArrayBuffer(HEADER_BYTES + capacity * align64((META_FLOATS + total) * 4));
    return new FrameRing({ buffer, capacity, inputs: inputs.map((i) => ({ name: i.name, size: i.size })) });
  }

  /** The same ring, seen from another thread. */
  static attach(handle: FrameRingHandle): FrameRing {
    return new FrameRing(handle);
  }

  /** Frames dropped because the ring was full. */
  get dropped(): number {
    return Atomics.load(this.#words, DROPPED);
  }

  /** Frames waiting to be taken. */
  get size(): number {
    return Atomics.load(this.#words, HEAD) - Atomics.load(this.#words, TAIL);
  }

  /** Whether `end()` was called; the frames pushed before it are still taken. */
  get ended(): boolean {
    return Atomics.load(this.#words, ENDED) === 1;
  }

  /**
   * Adds a frame without ever blocking: a full ring drops its oldest frame. Returns false
   * when one was dropped. Throws an InputError for a frame of the wrong inputs or lengths.
   */
  push(frame: SourceFrame): boolean {
    const arrays = this.#arrays(frame.inputs);
    const w = this.#words;
    if (this.ended) throw new StreamrollError('STREAM_ENDED', 'push after end()');
    this.#lock();
    let dropped = false;
    try {
      const head = Atomics.load(w, HEAD);
      for (let tail = Atomics.load(w, TAIL); head - tail >= this.handle.capacity; tail = Atomics.load(w, TAIL)) {
        // Take the oldest frame from the consumer; if it took it first, look again.
        if (Atomics.compareExchange(w, TAIL, tail, tail + 1) === tail) {
          Atomics.add(w, DROPPED, 1);
          dropped = true;
        }
      }
      this.#write(head, frame, arrays);
      Atomics.store(w, HEAD, head + 1);
    } finally {
      this.#unlock();
    }
    Atomics.notify(w, HEAD);
    return !dropped;
  }

  /** Adds a frame, waiting (without blocking the event loop) while the ring is full (until half of it is free). */
  async pushWait(frame: SourceFrame, signal?: AbortSignal): Promise<void> {
    const w = this.#words;
    for (;;) {
      const tail = Atomics.load(w, TAIL);
      if (Atomics.load(w, HEAD) - tail < this.handle.capacity) break;
      if (signal?.aborted === true) throw signal.reason;
      Atomics.add(w, WAITING, 1);
      try {
        const result = Atomics.waitAsync(w, TAIL, tail, 50);
        if (result.async) {
          // A pending waitAsync does not keep Node's event loop alive, and a producer waiting
          // for room is work in progress: a timer of the same length does.
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([result.value, new Promise<void>((resolve) => (timer = setTimeout(resolve, 50)))]);
          clearTimeout(timer);
        }
      } finally {
        Atomics.sub(w, WAITING, 1);
      }
    }
    this.push(frame);
  }

  /** No more frames will come; the consumer ends after the buffered ones. */
  end(): void {
    Atomics.store(this.#words, ENDED, 1);
    Atomics.notify(this.#words, HEAD);
  }

  /** Consumer: the oldest frame without taking it, or null when the ring is empty. */
  peek(): PeekedFrame | null {
    const w = this.#words;
    const tail = Atomics.load(w, TAIL);
    if (Atomics.load(w, HEAD) <= tail) return null;
    const slot = tail % this.handle.capacity;
    const meta = this.#meta[slot];
    return { inputs: this.#slots[slot], t: Number.isNaN(meta[0]) ? undefined : meta[0], label: Number.isNaN(meta[1]) ? undefined : meta[1], seq: tail };
  }

  /**
   * Consumer: takes the frame `peek()` returned. False when a producer dropped it meanwhile
   * (its views may have been overwritten while read: peek again).
   */
  take(seq: number): boolean {
    const w = this.#words;
    const taken = Atomics.compareExchange(w, TAIL, seq, seq + 1) === seq;
    // A waiting producer is woken once half the ring is free, not after every frame: it then
    // refills it in one burst instead of waking (and taking a core) once per frame.
    if (taken && Atomics.load(w, WAITING) > 0 && Atomics.load(w, HEAD) - (seq + 1) <= this.handle.capacity >> 1) Atomics.notify(w, TAIL);
    return taken;
  }

  /** Consumer: blocks (not on a thread with an event loop to keep) until a frame or end comes, or `timeoutMs` passes. */
  waitForFrame(timeoutMs: number): void {
    const w = this.#words;
    const head = Atomics.load(w, HEAD);
    if (head > Atomics.load(w, TAIL) || this.ended) return;
    Atomics.wait(w, HEAD, head, timeoutMs);
  }

  #arrays(inputs: InputFrame): ArrayLike<number>[] {
    const names = this.#names;
    let arrays: ArrayLike<number>[];
    if (ArrayBuffer.isView(inputs) || Array.isArray(inputs)) {
      if (names.length !== 1) throw new InputError(`the ring holds ${names.length} inputs (${names.join(', ')}); push an object keyed by input name`);
      arrays = [inputs as ArrayLike<number>];
    } else {
      const record = inputs as Readonly<Record<string, ArrayLike<number>>>;
      for (const key of Object.keys(record)) if (!names.includes(key)) throw new InputError(`"${key}" is not an input of this ring (inputs: ${names.join(', ')})`);
      arrays = names.map((name) => {
        const a = record[name];
        if (a === undefined) throw new InputError(`missing input "${name}"`);
        return a;
      });
    }
    arrays.forEach((a, j) => {
      const size = this.handle.inputs[j].size;
      if (!(ArrayBuffer.isView(a) || Array.isArray(a)) || a.length !== size)
        throw new InputError(`input "${names[j]}" must be an array of ${size} numbers, got ${ArrayBuffer.isView(a) || Array.isArray(a) ? `${a.length} values` : typeof a}`);
    });
    return arrays;
  }

  #write(seq: number, frame: SourceFrame, arrays: readonly ArrayLike<number>[]): void {
    const slot = seq % this.handle.capacity;
    const meta = this.#meta[slot];
    meta[0] = frame.t ?? Number.NaN;
    meta[1] = frame.label ?? Number.NaN;
    this.#slots[slot].forEach((view, j) => view.set(arrays[j]));
  }

  #lock(): void {
    while (Atomics.compareExchange(this.#words, LOCK, 0, 1) !== 0) Atomics.wait(this.#words, LOCK, 1, 1);
  }

  #unlock(): void {
    Atomics.store(this.#words, LOCK, 0);
    Atomics.notify(this.#words, LOCK, 1);
  }
}
