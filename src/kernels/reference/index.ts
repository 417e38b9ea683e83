import { ACTIVATIONS } from '../../graph/spec.js';
import type { KernelMemory } from '../kernel.js';
import { registerActivationKernel, registerBackend, registerEdgeKernel } from '../registry.js';
import { pointwiseKernel, softmaxKernel } from './activation.js';
import { conv2dKernel } from './conv2d.js';
import { denseKernel } from './dense.js';
import { identityKernel } from './identity.js';
import { poolKernel } from './pool.js';
import { roundWeight } from '../half.js';
import type { DenseGeometry } from '../../graph/geometry.js';

/** Name of the plain-TypeScript ground-truth backend. */
export const REFERENCE_BACKEND = 'reference';

registerBackend({
  name: REFERENCE_BACKEND,
  layout: 'chw',
  reservedBytes: 0,
  createMemory: (bytes: number): KernelMemory => ({ buffer: new SharedArrayBuffer(bytes) }),
  instantiate: () => null,
  describe: () => 'reference (plain TypeScript, row-major [C,H,W])',
  nominalGflops: 1.5,
});

registerEdgeKernel(REFERENCE_BACKEND, 'dense', {
  packedSize: (g) => g.inSize * g.outSize,
  pack: (g, weights, out) => packDense(g, weights, out),
  create: (g, packed) => denseKernel(g, packed),
});
registerEdgeKernel(REFERENCE_BACKEND, 'conv2d', {
  packedSize: (g) => g.outC * g.inC * g.kh * g.kw,
  pack: copyWeights,
  create: (g, packed) => conv2dKernel(g, packed),
});
for (const op of ['maxpool', 'avgpool'] as const) {
  registerEdgeKernel(REFERENCE_BACKEND, op, { packedSize: () => 0, pack: () => undefined, create: (g) => poolKernel(g) });
}
registerEdgeKernel(REFERENCE_BACKEND, 'identity', { packedSize: () => 0, pack: () => undefined, create: (g) => identityKernel(g) });
for (const a of ACTIVATIONS) {
  registerActivationKernel(REFERENCE_BACKEND, a, a === 'softmax' ? softmaxKernel : (_shape, _runtime, params) => pointwiseKernel(a, params));
}

/** Weights kept as they are in model files. */
function copyWeights(_g: unknown, weights: Float32Array | null, out: Float32Array): void {
  if (weights !== null) out.set(weights);
}

/** Dense weights as given, or rounded to the target's 16-bit precision (kept as float32). */
function packDense(g: DenseGeometry, weights: Float32Array | null, out: Float32Array): void {
  if (weights === null) return;
  const precision = g.precision ?? 'fp32';
  if (precision === 'fp32') out.set(weights);
  else for (let i = 0; i < weights.length; i++) out[i] = roundWeight(weights[i], precision);
}
