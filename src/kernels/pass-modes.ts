import type { Activation } from '../graph/spec.js';
import type { EdgeKernel, EdgeRole } from './kernel.js';
import { StreamChunks } from './stream-batch.js';

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

/**
 * The edge kernel of a native call that writes its sums by mode (kernels.c, finish): `run`
 * adds one stream's, `runBatch` every stream's of an engine frame in one call, and `pass`
 * does the node's only, first or last step as the sums are written. `one(src, dst, mode,
 * bias)` computes a stream (`bias`: a byte offset, or 0 where the mode reads none); `many`
 * computes n streams whose byte offsets {@link StreamChunks} lays out.
 */
export function modeKernel(one: (src: Float32Array, dst: Float32Array, mode: number, bias: number) => void, many: (offsets: Float64Array, n: number, mode: number, bias: number) => void): EdgeKernel {
  const chunks = (mode: number): StreamChunks => new StreamChunks((offsets, n, bias) => many(offsets, n, mode, bias));
  const add = chunks(ADD);
  return {
    run: (src, dst) => one(src, dst, ADD, 0),
    runBatch: (srcs, dsts) => add.run(srcs, dsts),
    pass(role, activation) {
      const mode = passMode(role, activation);
      if (mode === undefined) return undefined;
      const batch = chunks(mode);
      return { run: (src, dst, bias) => one(src, dst, mode, bias.byteOffset), runBatch: (srcs, dsts, bias) => batch.run(srcs, dsts, bias) };
    },
  };
}
