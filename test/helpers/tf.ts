import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

/**
 * TensorFlow.js on its cpu backend: plain float32 JavaScript, the most exact reference for
 * our kernels (the speed of other backends does not matter here). PROD silences the
 * "install tfjs-node" banner.
 */
export async function cpuTf(): Promise<typeof tf> {
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('cpu')) || tf.getBackend() !== 'cpu') throw new Error('tfjs cpu backend did not start');
  return tf;
}
