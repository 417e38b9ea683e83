import type * as TF from '@tensorflow/tfjs';
import type { Network } from '../graph/network.js';
import type { Parameters } from '../graph/parameters.js';
import type { Digit } from '../io/mnist-data.js';
import type { Rollout } from '../rollout/pattern.js';
import { responseDelays } from '../rollout/response.js';
import { frameOrder } from '../rollout/validity.js';
import { addClippedNoise, Random, shuffled } from '../util/random.js';
import type { LoadedTf } from './tf.js';
import { fromTrainable, toTrainable, unroll } from './window-model.js';
import { StreamrollError } from '../util/errors.js';

/** Options of {@link train}. */
export interface TrainOptions {
  /** Output frames in the loss, from the first one that sees the input (default 8). */
  readonly lossFrames?: number;
  readonly epochs: number;
  /** Default 64. */
  readonly batchSize?: number;
  /** `adam` (default) or `rmsprop` (the paper's). */
  readonly optimizer?: 'adam' | 'rmsprop';
  /** Learning rate; default 1e-3 for Adam, 1e-4 for RMSprop (the paper's). */
  readonly learningRate?: number;
  /** Gaussian pixel noise per frame, clipped to [0, 1] (the paper: 2.0). */
  readonly noiseStd: number;
  readonly seed?: number;
  /** Epochs already done (when resuming from a checkpoint); default 0. */
  readonly startEpoch?: number;
  /** After each epoch: its number, mean loss and training accuracy of the last loss frame. */
  readonly onEpoch?: (epoch: number, loss: number, accuracy: number, params: () => Parameters) => void | Promise<void>;
  /** After each step. */
  readonly onStep?: (step: number, loss: number) => void;
}

/**
 * Trains a network in a rollout with backpropagation through time over its rollout window:
 * each sequence shows one digit in every frame with fresh noise; the loss is the mean
 * cross-entropy of the output frames from the first response on (the output's delay d: tick
 * d + 1 is the first that sees the input) for `lossFrames` frames. Adam, seeded shuffling.
 */
export async function train(loaded: LoadedTf, net: Network, rollout: Rollout, initial: Parameters, data: readonly Digit[], options: TrainOptions): Promise<Parameters> {
  const { tf } = loaded;
  const native = loaded.backend !== 'wasm';
  if (net.inputs.length !== 1 || net.nodes[net.inputs[0]].size !== 784)
    throw new StreamrollError('SPEC_INVALID', `mnist-noise training needs one [1,28,28] input; network "${net.name}" has ${net.inputs.map((v) => `[${net.nodes[v].shape.join(',')}]`).join(', ')}`);
  const output = net.outputs[0];
  if (net.nodes[output].size !== 10) throw new StreamrollError('SPEC_INVALID', `mnist-noise training needs a 10-class output; "${net.nodes[output].name}" has ${net.nodes[output].size} values`);
  const d = responseDelays(net, rollout.delays)[output];
  const lossFrames = options.lossFrames ?? 8;
  const ticks = d + lossFrames;
  const batch = options.batchSize ?? 64;
  const order = frameOrder(net, rollout.delays);
  const tp = toTrainable(tf, net, initial);
  const vars = [...tp.weights, ...tp.biases].filter((v): v is TF.Variable => v !== null);
  const optimizer = options.optimizer === 'rmsprop' ? tf.train.rmsprop(options.learningRate ?? 1e-4) : tf.train.adam(options.learningRate ?? 1e-3);
  const rng = new Random(options.seed ?? 1);
  const steps = Math.floor(data.length / batch);
  const images = new Float32Array(batch * 784);
  let stepCount = 0;
  for (let epoch = (options.startEpoch ?? 0) + 1; epoch <= (options.startEpoch ?? 0) + options.epochs; epoch++) {
    const perm = shuffled(Array.from(data.keys()), rng.int(0, 2 ** 31 - 1));
    let lossSum = 0;
    let correct = 0;
    for (let s = 0; s < steps; s++) {
      const digits = perm.slice(s * batch, (s + 1) * batch).map((i) => data[i]);
      const labels = Int32Array.from(digits, (x) => x.label);
      // Fresh noise for every frame of every sequence, as in the paper.
      const frames = Array.from({ length: ticks }, () => {
        for (let b = 0; b < batch; b++) addClippedNoise(digits[b].pixels, options.noiseStd, rng, images.subarray(b * 784, (b + 1) * 784));
        return images.slice();
      });
      let lastLogits: TF.Tensor | undefined;
      const [cost, hits] = tf.tidy(() => {
        const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
        const inputs = frames.map((f) => [tf.tensor4d(f, [batch, 28, 28, 1])]);
        const value = optimizer.minimize(
          () => {
            const out = unroll(tf, net, rollout.delays, order, tp, inputs, native, { seed: rng.int(0, 2 ** 30) });
            const losses = out.slice(d).map((o) => tf.losses.softmaxCrossEntropy(onehot, o.logits[0]));
            lastLogits = tf.keep(out[out.length - 1].logits[0]);
            return tf.div(tf.addN(losses), losses.length) as TF.Scalar;
          },
          true,
          vars,
        ) as TF.Scalar;
        return [value, tf.sum(tf.cast(tf.equal(tf.argMax(lastLogits as TF.Tensor, 1), tf.argMax(onehot, 1)), 'float32'))];
      });
      lastLogits?.dispose();
      const loss = (await cost.data())[0];
      correct += (await hits.data())[0];
      cost.dispose();
      hits.dispose();
      lossSum += loss;
      options.onStep?.(++stepCount, loss);
    }
    await options.onEpoch?.(epoch, lossSum / steps, correct / (steps * batch), () => fromTrainable(tf, net, tp));
  }
  const result = fromTrainable(tf, net, tp);
  for (const v of vars) v.dispose();
  optimizer.dispose();
  return result;
}
