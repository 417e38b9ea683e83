import { Runtime } from '../engine/runtime.js';
import type { Model } from '../io/model-file.js';
import type { Digit } from '../io/mnist-data.js';
import { outputResponses } from '../rollout/response.js';
import { inferenceFactor } from '../rollout/tableau.js';
import { Random } from '../util/random.js';

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
export async function evaluateModel(model: Model, digits: readonly Digit[], options: { frames: number; noiseStd: number; seed?: number; workers?: number; onProgress?: (done: number) => void }): Promise<EvalResult> {
  const net = model.network;
  const delays = model.rollout.delays;
  const F = inferenceFactor(net, delays);
  const a = Math.min(...net.inputs.flatMap((v) => net.nodes[v].outEdges.map((e) => delays[e])));
  const output = net.outputs[0];
  const rt = await Runtime.create(model, options.workers === undefined ? {} : { workers: options.workers });
  const rng = new Random(options.seed ?? 99);
  const correct = new Array<number>(options.frames).fill(0);
  const pixels = new Float32Array(784);
  try {
    for (const [i, digit] of digits.entries()) {
      await rt.reset();
      for (let k = 0; k < options.frames; k++) {
        for (let p = 0; p < 784; p++) {
          const v = digit.pixels[p] + options.noiseStd * rng.gaussian();
          pixels[p] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
        const y = (await rt.step(pixels))[net.nodes[output].name];
        let best = 0;
        for (let c = 1; c < y.length; c++) if (y[c] > y[best]) best = c;
        if (best === digit.label) correct[k]++;
      }
      if (i % 100 === 99) options.onProgress?.(i + 1);
    }
  } finally {
    await rt.close();
  }
  const response = outputResponses(net, delays, F).get(output);
  return {
    rollout: model.rollout.kind,
    frames: correct.map((c, k) => ({ tick: k + 1, updateSteps: (k + 1 - a) * F, accuracy: c / digits.length })),
    firstResponseStep: response?.firstResponseStep ?? NaN,
    inferenceFactor: F,
    digits: digits.length,
    noiseStd: options.noiseStd,
  };
}
