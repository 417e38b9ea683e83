import type { Conv2dGeometry } from '../../graph/geometry.js';
import type { Activation, Shape } from '../../graph/spec.js';
import type { ActivationKernel, KernelMemory, WasmMemory } from '../kernel.js';
import { internalOrder, needsTranspose } from '../layout.js';
import { registerActivationKernel, registerBackend, registerEdgeKernel } from '../registry.js';
import { instantiateKernels, kernelModule, type WasmKernels } from './module.js';
import { roundWeight } from '../half.js';
import { modeKernel } from '../pass-modes.js';

/** Name of the WebAssembly SIMD backend. */
export const WASM_BACKEND = 'wasm';

const PAGE = 65536;

/** The memory each instance runs on, to tell its views from any other buffer's. */
const memoryOf = new WeakMap<WasmKernels, ArrayBufferLike>();

const ptr = (a: Float32Array): number => a.byteOffset;

/** Floats of conv weights packed as [kh][kw][inC][outC rounded up to 4]. */
const convWeightFloats = (g: Conv2dGeometry): number => g.kh * g.kw * g.inC * ((g.outC + 3) & ~3);
/** One input channel per group (with any channel multiplier): the depthwise kernel's case. */
export const isDepthwise = (g: Conv2dGeometry): boolean => g.groups > 1 && g.groups === g.inC;

/** An identity edge between states whose internal orders differ needs an index table. */
function identityTable(inShape: Shape, outShape: Shape, size: number): Int32Array | null {
  const from = internalOrder(inShape, 'hwc');
  const to = internalOrder(outShape, 'hwc');
  if (from === null && to === null) return null;
  if (from !== null && to !== null && inShape.every((d, i) => d === outShape[i])) return null;
  const idx = new Int32Array(size);
  for (let j = 0; j < size; j++) idx[to === null ? j : to[j]] = from === null ? j : from[j];
  return idx;
}

/** The `kind` of each pointwise activation in the wasm kernel biasActivation. */
const ACTIVATION_KIND: Record<Exclude<Activation, 'softmax'>, number> = { linear: 0, relu: 1, leaky_relu: 2, tanh: 3, sigmoid: 4, relu6: 5, hard_sigmoid: 6, hard_swish: 7, elu: 8 };

/**
 * Registers a backend over HWC states in a shared WebAssembly memory whose kernels have the
 * WebAssembly kernels' signatures: `wasm` itself, and `native`, which swaps in native dense
 * and conv2d kernels on the same memory (see ../native).
 */
export function registerHwcBackend(name: string, describe: () => string, instantiate: (memory: KernelMemory & { wasm: WasmMemory }) => WasmKernels): void {
  registerBackend({
    name,
    layout: 'hwc',
    // The module keeps no data in memory, but a page of headroom costs nothing and keeps
    // address 0 (a null pointer in any future kernel) away from real tensors.
    reservedBytes: PAGE,
    createMemory(bytes: number): KernelMemory {
      const pages = Math.max(1, Math.ceil(bytes / PAGE));
      const wasm = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      return { buffer: wasm.buffer as SharedArrayBuffer, wasm };
    },
    instantiate(memory: KernelMemory): WasmKernels {
      if (memory.wasm === undefined) throw new Error(`the ${name} backend needs a WebAssembly memory (create it with the backend)`);
      const kernels = instantiate({ buffer: memory.buffer, wasm: memory.wasm });
      memoryOf.set(kernels, memory.buffer);
      return kernels;
    },
    describe,
    firstNonFinite: (runtime, values) => (runtime as WasmKernels).firstNonFinite(values.byteOffset, values.length),
    zero: (runtime, values) => (runtime as WasmKernels).zero(values.byteOffset, values.length),
    copyIn: (runtime, source, target) => (runtime as WasmKernels).copyIn?.(source, target.byteOffset) ?? null,
    copyInInternal(runtime, source, target, shape) {
      const k = runtime as WasmKernels;
      if (k.copyInChwToHwc === undefined || target.buffer !== memoryOf.get(k) || !needsTranspose(shape, 'hwc')) return null;
      const [C, H, W] = shape as readonly [number, number, number];
      return k.copyInChwToHwc(source, target.byteOffset, C, H * W);
    },
    convert(runtime, from, to, shape, direction) {
      // Only between views of this instance's memory, and only where the orders differ.
      const k = runtime as WasmKernels;
      const buffer = memoryOf.get(k);
      if (from.buffer !== buffer || to.buffer !== buffer || !needsTranspose(shape, 'hwc')) return false;
      const [C, H, W] = shape as readonly [number, number, number];
      if (direction === 'in') k.chwToHwc(from.byteOffset, to.byteOffset, C, H * W);
      else k.hwcToChw(from.byteOffset, to.byteOffset, C, H * W);
      return true;
    },
  });

  registerEdgeKernel(name, 'dense', {
    packedSize: (g) => g.inSize * g.outSize,
    pack(g, weights, out) {
      // Rows follow the target's internal order and columns the source's.
      const rows = internalOrder(g.outShape, 'hwc');
      const cols = internalOrder(g.inShape, 'hwc');
      const w = weights as Float32Array;
      // A node's 16-bit precision: the weights rounded to it, stored as float32.
      const precision = g.precision ?? 'fp32';
      for (let o = 0; o < g.outSize; o++) {
        const ro = (rows === null ? o : rows[o]) * g.inSize;
        for (let i = 0; i < g.inSize; i++) out[ro + (cols === null ? i : cols[i])] = precision === 'fp32' ? w[o * g.inSize + i] : roundWeight(w[o * g.inSize + i], precision);
      }
    },
    create(g, packed, runtime) {
      const k = runtime as WasmKernels;
      const w = ptr(packed);
      const run = (src: Float32Array, dst: Float32Array): void => k.dense(ptr(src), w, ptr(dst), g.inSize, g.outSize);
      const { denseBatch: batch, denseMode } = k;
      if (batch === undefined || denseMode === undefined) return { run };
      // Natively: eight (or four) streams a weight load, and the node's zeroing, bias and
      // activation done as the sums are written.
      return modeKernel(
        (src, dst, mode, bias) => denseMode(ptr(src), w, ptr(dst), g.inSize, g.outSize, mode, bias),
        (offsets, n, mode, bias) => batch(offsets, n, w, g.inSize, g.outSize, mode, bias),
      );
    },
  });

  registerEdgeKernel(name, 'conv2d', {
    // Depthwise (one input channel per group): [kh][kw][outC]. Otherwise the weights of a
    // full convolution, then one int32 tap offset per weight row; a grouped convolution is
    // packed as a full one whose weights are zero outside each group's block (exact, and the
    // full kernels' speed; only depthwise, where that would multiply the work by the channel
    // count, has a kernel of its own).
    packedSize: (g) => (isDepthwise(g) ? g.kh * g.kw * g.outC : convWeightFloats(g) + g.kh * g.kw * g.inC),
    pack(g, weights, out) {
      const w = weights as Float32Array;
      out.fill(0);
      if (isDepthwise(g)) {
        // [outC, 1, kh, kw] -> [kh][kw][outC]
        for (let oc = 0; oc < g.outC; oc++) for (let t = 0; t < g.kh * g.kw; t++) out[t * g.outC + oc] = w[oc * g.kh * g.kw + t];
        return;
      }
      // [outC, inC/groups, kh, kw] -> [kh][kw][inC][outC rounded up to 4], padding lanes zero.
      const outCp = (g.outC + 3) & ~3;
      const cig = g.inC / g.groups;
      const cog = g.outC / g.groups;
      for (let oc = 0; oc < g.outC; oc++) {
        const ic0 = Math.floor(oc / cog) * cig;
        for (let i = 0; i < cig; i++)
          for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) out[((ky * g.kw + kx) * g.inC + ic0 + i) * outCp + oc] = w[((oc * cig + i) * g.kh + ky) * g.kw + kx];
      }
      // Byte offset of each tap's input value from the window's first one (HWC input).
      const taps = new Int32Array(out.buffer, out.byteOffset + convWeightFloats(g) * 4, g.kh * g.kw * g.inC);
      for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) for (let ic = 0; ic < g.inC; ic++) taps[(ky * g.kw + kx) * g.inC + ic] = ((ky * g.dh * g.inW + kx * g.dw) * g.inC + ic) * 4;
    },
    create(g, packed, runtime) {
      const k = runtime as WasmKernels;
      const w = ptr(packed);
      if (isDepthwise(g)) {
        const m = g.outC / g.inC;
        return { run: (src, dst) => k.depthwise(ptr(src), w, ptr(dst), g.inC, m, g.inH, g.inW, g.outH, g.outW, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.padTop, g.padLeft) };
      }
      const taps = w + convWeightFloats(g) * 4;
      const run = (src: Float32Array, dst: Float32Array): void =>
        k.conv2d(ptr(src), w, taps, ptr(dst), g.inC, g.inH, g.inW, g.outC, g.outH, g.outW, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.padTop, g.padLeft);
      const { conv2dBatch: batch, conv2dMode } = k;
      if (batch === undefined || conv2dMode === undefined) return { run };
      // Natively, one call for all streams: a small layer (MNIST's first) costs about as much
      // again in the crossing into C as in its arithmetic. And a node's zeroing, bias and
      // activation done as the outputs are written.
      return modeKernel(
        (src, dst, mode, bias) => conv2dMode(ptr(src), w, taps, ptr(dst), g.inC, g.inH, g.inW, g.outC, g.outH, g.outW, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.padTop, g.padLeft, mode, bias),
        (offsets, n, mode, bias) => batch(offsets, n, w, taps, g.inC, g.inH, g.inW, g.outC, g.outH, g.outW, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.padTop, g.padLeft, mode, bias),
      );
    },
  });

  for (const op of ['maxpool', 'avgpool'] as const) {
    registerEdgeKernel(name, op, {
      packedSize: () => 0,
      pack: () => undefined,
      create(g, _packed, runtime) {
        const k = runtime as WasmKernels;
        const kind = op === 'maxpool' ? 0 : 1;
        const run = (src: Float32Array, dst: Float32Array): void => k.pool(ptr(src), ptr(dst), kind, g.inC, g.inH, g.inW, g.outH, g.outW, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft);
        const { poolBatch: batch, poolMode } = k;
        if (batch === undefined || poolMode === undefined) return { run };
        // Natively: every stream in one call, and a node's zeroing, bias and activation done
        // as the windows are written (a pooling node of a DenseNet needs no pass of its own).
        return modeKernel(
          (src, dst, mode, bias) => poolMode(ptr(src), ptr(dst), kind, g.inC, g.inH, g.inW, g.outH, g.outW, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, mode, bias),
          (offsets, n, mode, bias) => batch(offsets, n, kind, g.inC, g.inH, g.inW, g.outH, g.outW, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padLeft, mode, bias),
        );
      },
    });
  }

  registerEdgeKernel(name, 'identity', {
    packedSize: (g) => (identityTable(g.inShape, g.outShape, g.size) === null ? 0 : g.size),
    pack(g, _weights, out) {
      const idx = identityTable(g.inShape, g.outShape, g.size);
      if (idx !== null) new Int32Array(out.buffer, out.byteOffset, g.size).set(idx);
    },
    create(g, packed, runtime) {
      const k = runtime as WasmKernels;
      if (packed.length === 0) return { run: (src, dst) => k.addInto(ptr(src), ptr(dst), g.size) };
      const idx = ptr(packed);
      return { run: (src, dst) => k.gatherAdd(ptr(src), ptr(dst), idx, g.size) };
    },
  });

  for (const [activation, kind] of Object.entries(ACTIVATION_KIND) as [keyof typeof ACTIVATION_KIND, number][]) {
    registerActivationKernel(name, activation, (_shape, runtime, { alpha, beta }): ActivationKernel => {
      const k = runtime as WasmKernels;
      return { run: (state, bias) => k.biasActivation(ptr(state), ptr(bias), state.length, kind, alpha, beta) };
    });
  }
  registerActivationKernel(name, 'softmax', (shape, runtime): ActivationKernel => {
    const k = runtime as WasmKernels;
    // HWC: the channels of one pixel are contiguous, so each pixel is one softmax group.
    const [groups, classes] = shape.length === 3 ? [shape[1] * shape[2], shape[0]] : [1, shape[0]];
    return { run: (state, bias) => k.softmax(ptr(state), ptr(bias), groups, classes) };
  });
}

registerHwcBackend(
  WASM_BACKEND,
  () => `wasm (AssemblyScript, ${kernelModule().variant === 'relaxed' ? 'relaxed SIMD' : 'SIMD'}, HWC states)`,
  (memory) => instantiateKernels(memory.wasm),
);
