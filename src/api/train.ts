/// <reference types="node" preserve="true" />
/**
 * streamroll/train: training in a rollout with TensorFlow.js, evaluation, and conversion of
 * parameters to and from tfjs variables. Needs `@tensorflow/tfjs-node` (native) or
 * `@tensorflow/tfjs` with `@tensorflow/tfjs-backend-wasm`, installed beside streamroll
 * (optional peer dependencies: the runtime itself does not need them).
 * @packageDocumentation
 */
export { loadTf, TfMissing, type LoadedTf } from '../train/tf.js';
export { train, type TrainOptions } from '../train/trainer.js';
export { evaluateModel, type EvalResult } from '../train/evaluate.js';
export { toTrainable, fromTrainable, unroll, type TrainableParameters } from '../train/window-model.js';
