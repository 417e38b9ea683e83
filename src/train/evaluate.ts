import { Runtime } from '../engine/runtime.js';
import type { Model } from '../io/model-file.js';
import type { Digit } from '../io/mnist-data.js';
import { outputResponses } from '../rollout/response.js';
import { inferenceFactor } from '../rollout/tableau.js';
import { addClippedNoise, Random } from '../util/random.js';
import { argmax } from '../util/stats.js';
import type { Network } from '../graph/network.js';

/**
 * The paper's clock for a rollout: F(R) update steps per frame, and the least delay `lead`
 * on edges leaving the inputs; tick k is update step (k - lead) F(R), so first responses line
 * up with `streamroll analyze` (the paper counts the first input frame as present).
 */
export function paperClock(net: Network, delays: readonly number[]): { readonly factor: number; readonly lead: number } {
  return { factor: inferenceFactor(net, delays), lead: Math.min(...net.inputs.flatMap((v) => net.nodes[v].outEdges.map((e) => delays[e]))) };
}

/**
 * Accuracy of each of `frames` output ticks: every digit is shown for `frames` ticks from a
 * reset state, with fresh clipped Gaussian noise on every frame (the synthetic camera's),
 * and the output's predicted class is compared with the digit's label.
 */
export async function heldDigitAccuracy(
  rt: Runtime,
  digits: readonly Digit[],
  options: { readonly frames: number; readonly noiseStd: number; readonly rng: Random; readonly onProgress?: (done: number) => void },
): Promise<number[]> {
  const output = rt.network.nodes[rt.network.outputs[0]].name;
  const correct = new Array<number>(options.frames).fill(0);
  const pixels = new Float32Array(784);
  for (const [i, digit] of digits.entries()) {
    await rt.reset();
    for (let k = 0; k < options.frames; k++) {
      addClippedNoise(digit.pixels, options.noiseStd, options.rng, pixels);
      if (argmax((await rt.step(pixels))[output]) === digit.label) correct[k]++;
    }
    if (i % 100 === 99) options.onProgress?.(i + 1);
  }
  return correct.map((c) => c / Math.max(1, digits.length));
}

/** The `eval --json` document. */
export interface EvalResult {
  readonly rollout: string;
  /** Accuracy of each output tick of a held-digit sequence, with its place on the paper's clock. */
  readonly frames: { readonly tick: number; readonly updateSteps: number; readonly accuracy: number }[];
  readonly firstResponseStep: number;
  readonly inferenceFactor: number;
  readonly digits: number;
  readonly noiseStd: number;
}

/**
 * Accuracy by output tick through the parallel engine (not through TensorFlow.js): every
 * test digit is shown for `frames` ticks from a reset state, with fresh noise each frame.
 * updateSteps of tick k = (k - a) F(R), a the least delay on edges leaving input nodes
 * (the paper counts the first input frame as present), so first responses line up with
 * `streamroll analyze`.
 */
export async function evaluateModel(
  model: Model,
  digits: readonly Digit[],
  options: { frames: number; noiseStd: number; seed?: number; workers?: number; onProgress?: (done: number) => void },
): Promise<EvalResult> {
  const net = model.network;
  const delays = model.rollout.delays;
  const { factor: F, lead: a } = paperClock(net, delays);
  const output = net.outputs[0];
  const rt = await Runtime.create(model, options.workers === undefined ? {} : { workers: options.workers });
  let accuracy: number[];
  try {
    accuracy = await heldDigitAccuracy(rt, digits, {
      frames: options.frames,
      noiseStd: options.noiseStd,
      rng: new Random(options.seed ?? 99),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
  } finally {
    await rt.close();
  }
  const response = outputResponses(net, delays, F).get(output);
  return {
    rollout: model.rollout.kind,
    frames: accuracy.map((x, k) => ({ tick: k + 1, updateSteps: (k + 1 - a) * F, accuracy: x })),
    firstResponseStep: response?.firstResponseStep ?? NaN,
    inferenceFactor: F,
    digits: digits.length,
    noiseStd: options.noiseStd,
  };
}
