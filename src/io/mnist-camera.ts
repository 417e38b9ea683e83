import { addClippedNoise, Random } from '../util/random.js';
import type { SourceFrame } from './frames.js';
import { mnistSplit, type Digit } from './mnist-data.js';

/** Options of {@link mnistCamera}. */
export interface MnistCameraOptions {
  /** Frames each digit stays in view; default 10. */
  readonly framesPerDigit?: number;
  /** Standard deviation of the Gaussian pixel noise added to every frame (the paper: 2.0); default 2.0. */
  readonly noiseStd?: number;
  /** Which digits: the held-out `test` part (default) or `train`. */
  readonly split?: 'train' | 'test';
  /** The digits to show instead (e.g. handed to another thread); `split` is then ignored. */
  readonly digits?: readonly Digit[];
  readonly seed?: number;
  /** Frames to produce; default unlimited. */
  readonly frames?: number;
}

/**
 * The camera's state: which digit is in view and the noise generator. `next(out)` writes the
 * next frame into `out` (784 values) and returns its label; the frames depend only on the seed.
 */
export class MnistCamera {
  readonly #digits: readonly Digit[];
  readonly #framesPerDigit: number;
  readonly #std: number;
  readonly #rng: Random;
  #digit: Digit;
  #t = 0;

  constructor(options: Omit<MnistCameraOptions, 'frames'> = {}) {
    this.#framesPerDigit = options.framesPerDigit ?? 10;
    this.#std = options.noiseStd ?? 2.0;
    this.#digits = options.digits ?? mnistSplit()[options.split ?? 'test'];
    if (this.#digits.length === 0) throw new RangeError('the camera needs at least one digit');
    this.#rng = new Random(options.seed ?? 1);
    this.#digit = this.#digits[0];
  }

  /** Frames made so far (the next frame's `t`). */
  get t(): number {
    return this.#t;
  }

  next(out: Float32Array): number {
    if (this.#t++ % this.#framesPerDigit === 0) this.#digit = this.#digits[this.#rng.int(0, this.#digits.length - 1)];
    addClippedNoise(this.#digit.pixels, this.#std, this.#rng, out);
    return this.#digit.label;
  }
}

/**
 * A synthetic camera after the paper's MNIST setup: a digit stays in view for a few frames,
 * each frame with fresh Gaussian noise on every pixel, clipped to [0, 1]; the label comes
 * along. Digits are drawn at random (seeded) from the shipped MNIST digits. Each frame is a
 * new Float32Array (a consumer may keep it); noise costs a few µs a frame (see
 * {@link addClippedNoise}).
 */
export function* mnistCamera(options: MnistCameraOptions = {}): Generator<SourceFrame> {
  const camera = new MnistCamera(options);
  const limit = options.frames ?? Infinity;
  while (camera.t < limit) {
    const t = camera.t;
    const pixels = new Float32Array(784);
    const label = camera.next(pixels);
    yield { inputs: pixels, label, t };
  }
}
