import type { Activation } from '../graph/spec.js';
import type { EdgeRole } from './kernel.js';

/** A native kernel adding its sums into the state (kernels.c, finish: mode 0). */
export const ADD = 0;

/**
 * The mode a native kernel (dense, Winograd) writes its sums in for an edge pass
 * (kernels.c, finish): `only` 1 or 2, `first` 5, `last` 3 or 4; undefined for an activation
 * the kernels do not apply themselves (only linear and ReLU are).
 */
export function passMode(role: EdgeRole, activation: Activation): number | undefined {
  if (role === 'first') return 5;
  if (activation !== 'linear' && activation !== 'relu') return undefined;
  const relu = activation === 'relu' ? 1 : 0;
  return role === 'only' ? 1 + relu : 3 + relu;
}
