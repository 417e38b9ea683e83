import type { EdgeGeometry } from '../graph/geometry.js';
import type { Activation } from '../graph/spec.js';
import { ACTIVATIONS, OP_TYPES, activationParams } from '../graph/spec.js';
import { crossesOrder, fromInternal, toInternal } from './layout.js';
import { firstNonFiniteJs, type ActivationKernelDef, type BackendDef, type EdgeKernelDef, type KernelBackend, type OpType } from './kernel.js';
import { StreamrollError } from '../util/errors.js';

// Keyed by backend, then op or activation, as tfjs-core's kernel registry is: adding a
// backend means registering its kernels, not touching the executors.
const backends = new Map<string, BackendDef>();
const edgeKernels = new Map<string, Map<OpType, EdgeKernelDef>>();
const activationKernels = new Map<string, Map<Activation, ActivationKernelDef>>();

/** Registers a backend's memory handling (replacing any earlier one of that name). */
export function registerBackend(def: BackendDef): void {
  backends.set(def.name, def);
}

/** Registers the kernel for `op` on `backend`. */
export function registerEdgeKernel<T extends OpType>(backend: string, op: T, def: EdgeKernelDef<Extract<EdgeGeometry, { type: T }>>): void {
  let table = edgeKernels.get(backend);
  if (table === undefined) edgeKernels.set(backend, (table = new Map()));
  // Safe: lookups go by geometry.type, so this definition only ever sees its own geometry.
  table.set(op, def as unknown as EdgeKernelDef);
}

/** The kernel definition registered for `op` on `backend`, to build a variant on it. */
export function edgeKernelDef<T extends OpType>(backend: string, op: T): EdgeKernelDef<Extract<EdgeGeometry, { type: T }>> | undefined {
  return edgeKernels.get(backend)?.get(op) as EdgeKernelDef<Extract<EdgeGeometry, { type: T }>> | undefined;
}

/** Registers the kernel for `activation` on `backend`. */
export function registerActivationKernel(backend: string, activation: Activation, def: ActivationKernelDef): void {
  let table = activationKernels.get(backend);
  if (table === undefined) activationKernels.set(backend, (table = new Map()));
  table.set(activation, def);
}

/** Names of the registered backends. */
export function registeredBackends(): string[] {
  return [...backends.keys()];
}

/**
 * The backend called `name`. Throws if it is unknown or misses a kernel for some op or
 * activation, naming what is missing, so a gap shows at load time instead of mid-run.
 */
export function getBackend(name: string): KernelBackend {
  const def = backends.get(name);
  if (def === undefined) throw new StreamrollError('OPTION_INVALID', `unknown kernel backend "${name}" (registered: ${registeredBackends().join(', ') || 'none'})`);
  const edges = edgeKernels.get(name) ?? new Map<OpType, EdgeKernelDef>();
  const acts = activationKernels.get(name) ?? new Map<Activation, ActivationKernelDef>();
  const missing = [...OP_TYPES.filter((op) => !edges.has(op)), ...ACTIVATIONS.filter((a) => !acts.has(a))];
  if (missing.length > 0) throw new StreamrollError('OPTION_INVALID', `kernel backend "${name}" has no kernel for: ${missing.join(', ')}`);
  const edge = (g: EdgeGeometry): EdgeKernelDef => edges.get(g.type) as EdgeKernelDef;
  return {
    name,
    layout: def.layout,
    reservedBytes: def.reservedBytes,
    nominalGflops: def.nominalGflops ?? 20,
    describe: () => def.describe(),
    createMemory: (bytes) => def.createMemory(bytes),
    packedSize: (g) => edge(g).packedSize(g),
    pack: (g, weights, out) => edge(g).pack(g, weights, out),
    bind(memory) {
      const runtime = def.instantiate(memory);
      const firstNonFinite = def.firstNonFinite === undefined ? firstNonFiniteJs : (values: Float32Array) => (def.firstNonFinite as NonNullable<BackendDef['firstNonFinite']>)(runtime, values);
      return {
        edgeKernel: (g, packed) => edge(g).create(g, packed, runtime),
        activationKernel: (a, shape, params) => (acts.get(a) as ActivationKernelDef)(shape, runtime, params ?? activationParams(a)),
        firstNonFinite,
        copyIn: (source, target) => {
          if (source.length !== target.length) throw new RangeError(`copyIn: ${source.length} values into a view of ${target.length}`);
          const fast = source instanceof Float32Array ? def.copyIn?.(runtime, source, target) : undefined;
          if (fast !== undefined && fast !== null) return fast;
          target.set(source);
          return firstNonFinite(target);
        },
        copyInInternal(source, target, scratch, shape, order = 'chw') {
          if (!crossesOrder(shape, def.layout, order)) return this.copyIn(source, target);
          const fast = order === 'chw' && source instanceof Float32Array && source.length === target.length ? def.copyInInternal?.(runtime, source, target, shape) : undefined;
          if (fast !== undefined && fast !== null) return fast;
          const bad = this.copyIn(source, scratch);
          if (bad < 0) this.toInternal(scratch, target, shape, order);
          return bad;
        },
        zero: def.zero === undefined ? (values) => void values.fill(0) : (values) => (def.zero as NonNullable<BackendDef['zero']>)(runtime, values),
        // Where the orders agree (vectors, one channel) a plain copy, without the backend's
        // checks (workers convert every input and output of every frame); the backend's fast
        // conversion covers row-major [C,H,W] values; other orders go through JavaScript.
        toInternal: (values, out, shape, order = 'chw') => {
          if (!crossesOrder(shape, def.layout, order) && values instanceof Float32Array) out.set(values);
          else if (order !== 'chw' || def.convert?.(runtime, values, out, shape, 'in') !== true) toInternal(values, out, shape, def.layout, order);
        },
        fromInternal: (internal, out, shape, order = 'chw') => {
          // (A view of the same length is copied as it is: workers copy every output of every
          // frame, and a subarray would be an allocation each time.)
          if (!crossesOrder(shape, def.layout, order)) out.set(internal.length === out.length ? internal : internal.subarray(0, out.length));
          else if (order !== 'chw' || def.convert?.(runtime, internal, out, shape, 'out') !== true) fromInternal(internal, out, shape, def.layout, order);
        },
      };
    },
  };
}
