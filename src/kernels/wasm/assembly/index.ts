// Entry of the kernel module: compiled with an imported shared memory, no data segments,
// no start function and no shadow stack, so every worker can instantiate it on the arena.
export { dense } from './dense';
export { conv2d } from './conv2d';
export { depthwise } from './depthwise';
export { pool } from './pool';
export { addInto, gatherAdd, biasActivation, softmax, firstNonFinite, zero } from './elementwise';
export { chwToHwc, hwcToChw } from './transpose';

/** 1 when this build uses relaxed SIMD (fused multiply-add where the CPU has it). */
export function relaxedSimd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
