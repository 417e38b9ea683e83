import { LEAKY_RELU_ALPHA, type Activation, type Shape } from '../../graph/spec.js';
import type { ActivationKernel } from '../kernel.js';

type Pointwise = (x: number) => number;

const POINTWISE: Record<Exclude<Activation, 'softmax'>, Pointwise> = {
  linear: (x) => x,
  relu: (x) => (x > 0 ? x : 0),
  leaky_relu: (x) => (x >= 0 ? x : LEAKY_RELU_ALPHA * x),
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};

/** state[i] = f(state[i] + bias[i]) for a pointwise activation. */
export function pointwiseKernel(activation: Exclude<Activation, 'softmax'>): ActivationKernel {
  const f = POINTWISE[activation];
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
