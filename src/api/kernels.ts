/// <reference types="node" preserve="true" />
/**
 * streamroll/kernels: the kernel registry (backends and their per-op kernels), the built-in
 * backends, and the conversions between the public row-major [C,H,W] layout and a backend's
 * internal one. For adding a backend or an op implementation.
 * @packageDocumentation
 */
export type {
  EdgeKernel,
  EdgePass,
  EdgeRole,
  ActivationKernel,
  KernelBackend,
  KernelMemory,
  BoundKernels,
  BackendDef,
  EdgeKernelDef,
  ActivationKernelDef,
  StateLayout,
  OpType,
} from '../kernels/kernel.js';
export { registerBackend, registerEdgeKernel, registerActivationKernel, getBackend, registeredBackends } from '../kernels/registry.js';
export { internalOrder, toInternal, fromInternal } from '../kernels/layout.js';
export { REFERENCE_BACKEND, WASM_BACKEND, NATIVE_BACKEND, nativeAvailable, nativeMissingReason, defaultBackend } from '../kernels/backends.js';
