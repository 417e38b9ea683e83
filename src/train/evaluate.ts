import { Runtime } from '../engine/runtime.js';
import type { Model } from '../io/model-file.js';
import type { Digit } from '../io/mnist-data.js';
import { outputResponses } from '../rollout/response.js';
import { inferenceFactor } from '../rollout/tableau.js';
import { addClippedNoise, Random } from '../util/random.js';
import { argmax } from '../util/stats.js';
import type { Network } from '../graph/network.js';

/**
 * The paper's clock for an output: the update step each runtime tick's output stands at. The
 * runtime's ticks start from zeros while the paper counts input frame 0 as real, so tick k
 * shows paper frame k - lead (lead: the least delay on edges leaving the inputs: input frame
 * 0 reaches the network only through delayed edges). The first response sits at its tableau
 * value T(i*, o) (docs/semantics.md), and each later frame F(R) steps after the one before.
 */
export function paperClock(net: Network, delays: readonly number[], output = net.outputs[0]): { readonly factor: number; readonly stepOf: (tick: number) => number } {
  const factor = inferenceFactor(net, delays);
  const lead = Math.min(...net.inputs.flatMap((v) => net.nodes[v].outEdges.map((e) => delays[e])));
  const first = outputResponses(net, delays, factor).get(output);
  if (first === undefined || !Number.isFinite(first.firstResponseFrame)) return { factor, stepOf: (k) => (k - lead) * factor };
  return { factor, stepOf: (k) => first.firstResponseStep + (k - lead - first.firstResponseFrame) * factor };
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
 * Each tick is placed on the paper's clock ({@link paperClock}), so first responses line up
 * with `streamroll analyze`.
 */
export async function evaluateModel(
  model: Model,
  digits: readonly Digit[],
  options: { frames: number; noiseStd: number; seed?: number; workers?: number; onProgress?: (done: number) => void },
): Promise<EvalResult> {
  const net = model.network;
  const delays = model.rollout.delays;
  const { factor: F, stepOf } = paperClock(net, delays);
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
    frames: accuracy.map((x, k) => ({ tick: k + 1, updateSteps: stepOf(k + 1), accuracy: x })),
    firstResponseStep: response?.firstResponseStep ?? NaN,
    inferenceFactor: F,
    digits: digits.length,
    noiseStd: options.noiseStd,
  };
}
