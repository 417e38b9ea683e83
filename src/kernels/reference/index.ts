import { ACTIVATIONS } from '../../graph/spec.js';
import { registerActivationKernel, registerEdgeKernel } from '../registry.js';
import { pointwiseKernel, softmaxKernel } from './activation.js';
import { conv2dKernel } from './conv2d.js';
import { denseKernel } from './dense.js';
import { identityKernel } from './identity.js';
import { poolKernel } from './pool.js';

/** Name of the plain-TypeScript ground-truth backend. */
export const REFERENCE_BACKEND = 'reference';

function needWeights(weights: Float32Array | null, what: string): Float32Array {
  if (weights === null) throw new Error(`${what} kernel needs weights`);
  return weights;
}

registerEdgeKernel(REFERENCE_BACKEND, 'dense', (g, w) => denseKernel(g, needWeights(w, 'dense')));
registerEdgeKernel(REFERENCE_BACKEND, 'conv2d', (g, w) => conv2dKernel(g, needWeights(w, 'conv2d')));
registerEdgeKernel(REFERENCE_BACKEND, 'maxpool', (g) => poolKernel(g));
registerEdgeKernel(REFERENCE_BACKEND, 'avgpool', (g) => poolKernel(g));
registerEdgeKernel(REFERENCE_BACKEND, 'identity', (g) => identityKernel(g));
for (const a of ACTIVATIONS) {
  registerActivationKernel(REFERENCE_BACKEND, a, a === 'softmax' ? softmaxKernel : () => pointwiseKernel(a));
}
