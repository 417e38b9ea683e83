import type { Activation } from '../graph/spec.js';
import { ACTIVATIONS, OP_TYPES } from '../graph/spec.js';
import type { EdgeGeometry } from '../graph/geometry.js';
import type { ActivationKernelFactory, EdgeKernel, EdgeKernelFactory, KernelBackend, OpType } from './kernel.js';

// Keyed by backend, then op or activation, as tfjs-core's kernel registry is: adding a
// backend means registering its kernels, not touching the executors.
const edgeKernels = new Map<string, Map<OpType, EdgeKernelFactory>>();
const activationKernels = new Map<string, Map<Activation, ActivationKernelFactory>>();

/** Registers the kernel for `op` on `backend` (replacing any earlier one). */
export function registerEdgeKernel<T extends OpType>(
  backend: string,
  op: T,
  factory: (geometry: Extract<EdgeGeometry, { type: T }>, weights: Float32Array | null) => EdgeKernel,
): void {
  let table = edgeKernels.get(backend);
  if (table === undefined) edgeKernels.set(backend, (table = new Map()));
  // Safe: getBackend looks factories up by geometry.type, so this one only sees its own type.
  table.set(op, factory as EdgeKernelFactory);
}

/** Registers the kernel for `activation` on `backend`. */
export function registerActivationKernel(backend: string, activation: Activation, factory: ActivationKernelFactory): void {
  let table = activationKernels.get(backend);
  if (table === undefined) activationKernels.set(backend, (table = new Map()));
  table.set(activation, factory);
}

/** Names of the backends with at least one kernel registered. */
export function registeredBackends(): string[] {
  return [...new Set([...edgeKernels.keys(), ...activationKernels.keys()])];
}

/**
 * The backend called `name`. Throws if it is unknown or misses a kernel for some op or
 * activation, naming what is missing, so a gap shows at load time instead of mid-run.
 */
export function getBackend(name: string): KernelBackend {
  const edges = edgeKernels.get(name);
  const acts = activationKernels.get(name);
  if (edges === undefined && acts === undefined) {
    throw new Error(`unknown kernel backend "${name}" (registered: ${registeredBackends().join(', ') || 'none'})`);
  }
  const missing = [
    ...OP_TYPES.filter((op) => !edges?.has(op)),
    ...ACTIVATIONS.filter((a) => !acts?.has(a)),
  ];
  if (missing.length > 0) throw new Error(`kernel backend "${name}" has no kernel for: ${missing.join(', ')}`);
  return {
    name,
    edgeKernel: (geometry, weights) => (edges?.get(geometry.type) as EdgeKernelFactory)(geometry, weights),
    activationKernel: (activation, shape) => (acts?.get(activation) as ActivationKernelFactory)(shape),
  };
}
