import type { SourceFrame } from './frames.js';
import { StreamrollError } from '../util/errors.js';

/**
 * A source for callback-style sensors: call `push(frame)` from the sensor's callback and
 * hand the source to `runRealtime` or `Runtime.run` as an async iterable. Frames wait in a
 * bounded buffer; when it is full the oldest is dropped and counted (a sensor never blocks).
 * `end()` finishes the stream after the buffered frames.
 */
export class PushSource implements AsyncIterable<SourceFrame> {
  readonly #buffer: SourceFrame[] = [];
  readonly #limit: number;
  #waiting: ((r: IteratorResult<SourceFrame>) => void) | undefined;
  #ended = false;
  #dropped = 0;

  constructor(options: { bufferLimit?: number } = {}) {
    this.#limit = options.bufferLimit ?? 64;
    if (!Number.isInteger(this.#limit) || this.#limit < 1) throw new RangeError(`bufferLimit must be an integer >= 1, got ${this.#limit}`);
  }

  /** Frames dropped because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  push(frame: SourceFrame): void {
    if (this.#ended) throw new StreamrollError('STREAM_ENDED', 'push after end()');
    if (this.#waiting !== undefined) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ done: false, value: frame });
      return;
    }
    if (this.#buffer.length >= this.#limit) {
      this.#buffer.shift();
      this.#dropped++;
    }
    this.#buffer.push(frame);
  }

  end(): void {
    this.#ended = true;
    if (this.#waiting !== undefined) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ done: true, value: undefined });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SourceFrame> {
    return {
      next: () => {
        const frame = this.#buffer.shift();
        if (frame !== undefined) return Promise.resolve({ done: false, value: frame });
        if (this.#ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => (this.#waiting = resolve));
      },
      return: () => {
        this.end();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}
