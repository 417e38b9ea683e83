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
 * A synthetic camera after the paper's MNIST setup: a digit stays in view for a few frames,
 * each frame with fresh Gaussian noise on every pixel, clipped to [0, 1]; the label comes
 * along. Digits are drawn at random (seeded) from the shipped MNIST digits. Each frame is a
 * new Float32Array (a consumer may keep it); noise costs a few µs a frame (see
 * {@link addClippedNoise}).
 */
export function* mnistCamera(options: MnistCameraOptions = {}): Generator<SourceFrame> {
  const framesPerDigit = options.framesPerDigit ?? 10;
  const std = options.noiseStd ?? 2.0;
  const digits = options.digits ?? mnistSplit()[options.split ?? 'test'];
  if (digits.length === 0) throw new RangeError('the camera needs at least one digit');
  const rng = new Random(options.seed ?? 1);
  const limit = options.frames ?? Infinity;
  let digit = digits[0];
  for (let t = 0; t < limit; t++) {
    if (t % framesPerDigit === 0) digit = digits[rng.int(0, digits.length - 1)];
    const pixels = new Float32Array(784);
    addClippedNoise(digit.pixels, std, rng, pixels);
    yield { inputs: pixels, label: digit.label, t };
  }
}
