import type { Activation, ActivationParams, Shape } from '../../graph/spec.js';
import type { ActivationKernel } from '../kernel.js';

type Pointwise = (x: number) => number;

/** Each pointwise activation as a function of its parameters: the definitions every backend matches. */
const POINTWISE: Record<Exclude<Activation, 'softmax'>, (p: ActivationParams) => Pointwise> = {
  linear: () => (x) => x,
  relu: () => (x) => (x > 0 ? x : 0),
  relu6: () => (x) => Math.min(Math.max(x, 0), 6),
  leaky_relu:
    ({ alpha }) =>
    (x) =>
      x >= 0 ? x : alpha * x,
  elu:
    ({ alpha }) =>
    (x) =>
      x > 0 ? x : alpha * (Math.exp(x) - 1),
  tanh: () => (x) => Math.tanh(x),
  sigmoid: () => (x) => 1 / (1 + Math.exp(-x)),
  hard_sigmoid:
    ({ alpha, beta }) =>
    (x) =>
      Math.max(0, Math.min(1, alpha * x + beta)),
  hard_swish: () => (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)),
};

/** state[i] = f(state[i] + bias[i]) for a pointwise activation. */
export function pointwiseKernel(activation: Exclude<Activation, 'softmax'>, params: ActivationParams): ActivationKernel {
  const f = POINTWISE[activation](params);
  return {
    run(state, bias) {
      for (let i = 0; i < state.length; i++) state[i] = f(state[i] + bias[i]);
    },
  };
}

/**
 * Softmax of state + bias: over the whole vector for `[n]`, over channels at each pixel for
 * `[C,H,W]` (the channel axis is the class axis). Max-subtracted for stability.
 */
export function softmaxKernel(shape: Shape): ActivationKernel {
  const groups = shape.length === 3 ? shape[1] * shape[2] : 1;
  const classes = shape[0];
  // Stride between classes of one group: 1 for vectors, H*W for channels of a [C,H,W] state.
  const step = groups;
  return {
    run(state, bias) {
      for (let g = 0; g < groups; g++) {
        let max = -Infinity;
        for (let c = 0; c < classes; c++) {
          const i = g + c * step;
          state[i] += bias[i];
          if (state[i] > max) max = state[i];
        }
        let total = 0;
        for (let c = 0; c < classes; c++) {
          const i = g + c * step;
          const e = Math.exp(state[i] - max);
          state[i] = e;
          total += e;
        }
        for (let c = 0; c < classes; c++) state[g + c * step] /= total;
      }
    },
  };
}
