import { createRequire } from 'node:module';
import { instantiateKernels, kernelModule, type WasmKernels } from '../wasm/module.js';
import { registerHwcBackend } from '../wasm/index.js';
import { internalOrder } from '../layout.js';
import { modeKernel } from '../pass-modes.js';
import { toBf16, toFp16 } from '../half.js';

export { toBf16, toFp16 } from '../half.js';
import { edgeKernelDef, registerEdgeKernel } from '../registry.js';
import type { Conv2dGeometry, DenseGeometry } from '../../graph/geometry.js';
import type { WeightPrecision } from '../../graph/spec.js';
import type { EdgeKernelDef, KernelMemory, WasmMemory } from '../kernel.js';

/** Name of the backend with native dense and conv2d kernels (where the addon is built). */
export const NATIVE_BACKEND = 'native';
/** The native backend with dense weights stored as bfloat16 (`precision: 'bf16'`). */
export const NATIVE_BF16_BACKEND = 'native-bf16';
/** The native backend with dense weights stored as IEEE half floats (`precision: 'fp16'`). */
export const NATIVE_FP16_BACKEND = 'native-fp16';

/** The 16-bit weight formats of the native dense kernel. */
export type HalfWidth = 'bf16' | 'fp16';

interface NativeAddon {
  /** The instruction set the dispatched kernels run with on this CPU. */
  readonly isa: string;
  /** Registers a memory's base address; returns its id, or -1. */
  attach(view: Float32Array): number;
  /** dst[c * rows + r] = src[r * cols + c] (byte offsets). */
  transpose(memory: number, src: number, dst: number, rows: number, cols: number): void;
  /** y += W x, or written by `mode` with `bias` (kernels.c, finish). */
  dense(memory: number, x: number, w: number, y: number, inSize: number, outSize: number, mode: number, bias: number): void;
  /**
   * Winograd conv, F(2x2,3x3) for `tile` 2 (`u`: the transformed weights, [16][inC][outC]) or
   * F(4x4,3x3) for 4 ([36][inC][outC]); returns 0, or -1 without scratch memory.
   */
  winograd(
    memory: number,
    x: number,
    u: number,
    y: number,
    bias: number,
    mode: number,
    inC: number,
    inH: number,
    inW: number,
    outC: number,
    outH: number,
    outW: number,
    padT: number,
    padL: number,
    tile: 2 | 4,
  ): number;
  /** dense with weights as bfloat16 (`w`: byte offset of the uint16 weights). */
  denseBf16(memory: number, x: number, w: number, y: number, inSize: number, outSize: number): void;
  /** Winograd for n streams by `mode` (0, 3, 4, 5): `offsets` holds n input then n output byte offsets; 0, or -1 without scratch. */
  winogradBatch(
    memory: number,
    offsets: Float64Array,
    n: number,
    u: number,
    inC: number,
    inH: number,
    inW: number,
    outC: number,
    outH: number,
    outW: number,
    padT: number,
    padL: number,
    tile: 2 | 4,
    mode: number,
    bias: number,
  ): number;
  /** conv2d for n streams (`offsets` as for winogradBatch). */
  conv2dBatch(
    memory: number,
    offsets: Float64Array,
    n: number,
    w: number,
    taps: number,
    inC: number,
    inH: number,
    inW: number,
    outC: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    padT: number,
    padL: number,
    mode: number,
    bias: number,
  ): void;
  /** dense for n streams: `offsets` holds n input then n output byte offsets. */
  denseBatch(memory: number, offsets: Float64Array, n: number, w: number, inSize: number, outSize: number, mode: number, bias: number): void;
  /** dense with weights as IEEE half floats (same packing as denseBf16). */
  denseF16(memory: number, x: number, w: number, y: number, inSize: number, outSize: number): void;
  /** Direct convolution over HWC, its outputs written by `mode` with `bias` (kernels.c, finish). */
  conv2d(
    memory: number,
    x: number,
    w: number,
    taps: number,
    y: number,
    inC: number,
    inH: number,
    inW: number,
    outC: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    padT: number,
    padL: number,
    mode: number,
    bias: number,
  ): void;
  readOnce(memory: number, at: number, count: number): number;
  /** Max (kind 0) or average (1) pooling over HWC, its windows written by `mode` with `bias` (kernels.c, pool). */
  pool(
    memory: number,
    x: number,
    y: number,
    kind: number,
    C: number,
    inH: number,
    inW: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    padT: number,
    padL: number,
    mode: number,
    bias: number,
  ): void;
  /** pool for n streams (`offsets` as for winogradBatch). */
  poolBatch(
    memory: number,
    offsets: Float64Array,
    n: number,
    kind: number,
    C: number,
    inH: number,
    inW: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    padT: number,
    padL: number,
    mode: number,
    bias: number,
  ): void;
  depthwise(
    memory: number,
    x: number,
    w: number,
    y: number,
    C: number,
    M: number,
    inH: number,
    inW: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    padT: number,
    padL: number,
  ): void;
  copyIn(memory: number, at: number, source: Float32Array): number;
  copyInTransposed(memory: number, at: number, source: Float32Array, rows: number, cols: number): number;
  timerSlack(ns: number): number;
  /** Puts the calling thread in the SCHED_IDLE class (Linux); 0, or -1 where it cannot. */
  idleThread(): number;
}

let missing: string | undefined;

function loadAddon(): NativeAddon | null {
  try {
    const require = createRequire(import.meta.url);
    return require('../../../../build/Release/streamroll_native.node') as NativeAddon;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    missing =
      code === 'MODULE_NOT_FOUND'
        ? 'they were not built when streamroll was installed (node-gyp needs python3, make and a C compiler; `npm rebuild streamroll --foreground-scripts` shows why)'
        : `they do not load here (${(err as Error).message.split('\n')[0]}); rebuild them with \`npm rebuild streamroll --foreground-scripts\``;
    return null;
  }
}

const addon = loadAddon();

/**
 * Whether the native kernels were built (on install, by node-gyp, for the architecture's
 * baseline with run-time dispatch to AVX2 and AVX-512 on x86-64; a machine without a C
 * compiler just lacks them and keeps the wasm backend).
 */
export function nativeAvailable(): boolean {
  return addon !== null;
}

/** Why the native kernels are not available (undefined when they are): for a notice at start-up. */
export function nativeMissingReason(): string | undefined {
  return missing;
}

/**
 * A function that reads every float of `view` once with the native kernels' vector loads and
 * returns their sum, or null without the addon. Nothing reading those bytes can be faster, so
 * bench:kernels reports it as the floor of memory-bound ops.
 */
export function nativeReader(view: Float32Array): (() => number) | null {
  if (addon === null) return null;
  const id = addon.attach(new Float32Array(view.buffer));
  if (id < 0) return null;
  const native = addon;
  return () => native.readOnce(id, view.byteOffset, view.length);
}

/**
 * Asks the kernel to fire this thread's timed waits within `ns` nanoseconds of when they are
 * due (Linux timer slack, 50 µs by default) where the native addon is built; threads that
 * sleep until a frame's deadline call it. Returns whether it took effect.
 */
export function tightenTimerSlack(ns = 1000): boolean {
  return addon !== null && addon.timerSlack(ns) === 0;
}

/**
 * Lets the calling thread run only on CPU time nothing else wants (Linux's SCHED_IDLE class,
 * through the native addon): a stream helper calls it. Returns whether it took effect; false
 * without the addon or off Linux.
 */
export function idleThisThread(): boolean {
  return addon !== null && addon.idleThread() === 0;
}

/** The wasm kernels on `memory` with the native ones swapped in. */
function nativeKernels(native: NativeAddon, memory: KernelMemory & { wasm: WasmMemory }): WasmKernels {
  const k = instantiateKernels(memory.wasm);
  const id = native.attach(new Float32Array(memory.buffer));
  // The addon's table of memories is full (65,536 distinct arenas in one process): run
  // this one on the wasm kernels rather than fail (16-bit weights, which only the native
  // dense reads, then fail when their kernel is created).
  if (id < 0) return k;
  // Same arguments as the wasm kernels (byte offsets into the memory), so every kernel
  // definition of the wasm backend works unchanged.
  return {
    ...(k as unknown as Record<string, unknown>),
    denseMode: (x: number, w: number, y: number, inSize: number, outSize: number, mode: number, bias: number) => native.dense(id, x, w, y, inSize, outSize, mode, bias),
    denseBf16: (x: number, w: number, y: number, inSize: number, outSize: number) => native.denseBf16(id, x, w, y, inSize, outSize),
    denseF16: (x: number, w: number, y: number, inSize: number, outSize: number) => native.denseF16(id, x, w, y, inSize, outSize),
    // Only float32 weights have a batched kernel; 16-bit ones run stream by stream.
    denseBatch: (offsets: Float64Array, n: number, w: number, inSize: number, outSize: number, mode: number, bias: number) => native.denseBatch(id, offsets, n, w, inSize, outSize, mode, bias),
    winogradBatch: (
      offsets: Float64Array,
      n: number,
      u: number,
      inC: number,
      inH: number,
      inW: number,
      outC: number,
      outH: number,
      outW: number,
      padT: number,
      padL: number,
      tile: 2 | 4,
      mode: number,
      bias: number,
    ) => {
      if (native.winogradBatch(id, offsets, n, u, inC, inH, inW, outC, outH, outW, padT, padL, tile, mode, bias) !== 0) throw new Error('native conv2d: out of memory for its scratch buffer');
    },
    conv2dBatch: (
      offsets: Float64Array,
      n: number,
      w: number,
      taps: number,
      inC: number,
      inH: number,
      inW: number,
      outC: number,
      outH: number,
      outW: number,
      kh: number,
      kw: number,
      sh: number,
      sw: number,
      dh: number,
      dw: number,
      padT: number,
      padL: number,
      mode: number,
      bias: number,
    ) => native.conv2dBatch(id, offsets, n, w, taps, inC, inH, inW, outC, outH, outW, kh, kw, sh, sw, dh, dw, padT, padL, mode, bias),
    copyIn: (source: Float32Array, at: number) => native.copyIn(id, at, source),
    copyInChwToHwc: (source: Float32Array, at: number, C: number, P: number) => native.copyInTransposed(id, at, source, C, P),
    // Into HWC only: back out, the 16x16 blocks store each of their rows a whole plane apart
    // (4 KB for 32x32 maps, so all in one set of the L1 cache), and were no faster than the
    // WebAssembly kernel.
    chwToHwc: (src: number, dst: number, C: number, P: number) => native.transpose(id, src, dst, C, P),
    winograd: (
      x: number,
      u: number,
      y: number,
      bias: number,
      mode: number,
      inC: number,
      inH: number,
      inW: number,
      outC: number,
      outH: number,
      outW: number,
      padT: number,
      padL: number,
      tile: 2 | 4,
    ) => {
      if (native.winograd(id, x, u, y, bias, mode, inC, inH, inW, outC, outH, outW, padT, padL, tile) !== 0) throw new Error('native conv2d: out of memory for its scratch buffer');
    },
    depthwise: (
      x: number,
      w: number,
      y: number,
      C: number,
      M: number,
      inH: number,
      inW: number,
      outH: number,
      outW: number,
      kh: number,
      kw: number,
      sh: number,
      sw: number,
      dh: number,
      dw: number,
      padT: number,
      padL: number,
    ) => native.depthwise(id, x, w, y, C, M, inH, inW, outH, outW, kh, kw, sh, sw, dh, dw, padT, padL),
    poolMode: (
      x: number,
      y: number,
      kind: number,
      C: number,
      inH: number,
      inW: number,
      outH: number,
      outW: number,
      kh: number,
      kw: number,
      sh: number,
      sw: number,
      padT: number,
      padL: number,
      mode: number,
      bias: number,
    ) => native.pool(id, x, y, kind, C, inH, inW, outH, outW, kh, kw, sh, sw, padT, padL, mode, bias),
    poolBatch: (
      offsets: Float64Array,
      n: number,
      kind: number,
      C: number,
      inH: number,
      inW: number,
      outH: number,
      outW: number,
      kh: number,
      kw: number,
      sh: number,
      sw: number,
      padT: number,
      padL: number,
      mode: number,
      bias: number,
    ) => native.poolBatch(id, offsets, n, kind, C, inH, inW, outH, outW, kh, kw, sh, sw, padT, padL, mode, bias),
    // Spelled out: a rest parameter would allocate an array on every call of the hot path.
    conv2dMode: (
      x: number,
      w: number,
      taps: number,
      y: number,
      inC: number,
      inH: number,
      inW: number,
      outC: number,
      outH: number,
      outW: number,
      kh: number,
      kw: number,
      sh: number,
      sw: number,
      dh: number,
      dw: number,
      padT: number,
      padL: number,
      mode: number,
      bias: number,
    ) => native.conv2d(id, x, w, taps, y, inC, inH, inW, outC, outH, outW, kh, kw, sh, sw, dh, dw, padT, padL, mode, bias),
  } as unknown as WasmKernels;
}

/**
 * Whether a convolution runs as Winograd on the native kernels: 3x3, stride and dilation 1,
 * one group, channels in multiples of 16 (the kernel's vectors), outputs of at least 4x4
 * (bench:kernels: F(2x2,3x3) 1.29x the direct kernel at 16 output channels, 1.4x at 32).
 */
export function winogradFits(g: Conv2dGeometry): boolean {
  return winogradTile(g) !== 0;
}

/**
 * The Winograd variant a convolution runs as: 4 for F(4x4,3x3), 2 for F(2x2,3x3), 0 for none
 * (the direct kernel). F(4x4) needs fewer multiplications but more transform work per tile
 * and wastes more of its last tiles on small maps; it is chosen for outputs of at least
 * {@link WINOGRAD4_MIN_SIDE} on both sides (bench:kernels compares the two).
 */
export function winogradTile(g: Conv2dGeometry): 0 | 2 | 4 {
  const fits = g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1 && g.groups === 1 && g.inC % 16 === 0 && g.outC % 16 === 0 && g.outH >= 4 && g.outW >= 4;
  if (!fits) return 0;
  // For bench:kernels' side-by-side runs of each variant: 0 (direct), 2 or 4 for every layer.
  const forced = process.env.STREAMROLL_WINOGRAD;
  if (forced === '0' || forced === '2' || forced === '4') return Number(forced) as 0 | 2 | 4;
  return g.outH >= WINOGRAD4_MIN_SIDE && g.outW >= WINOGRAD4_MIN_SIDE ? 4 : 2;
}

/**
 * The smallest output side that runs as F(4x4,3x3): bench:kernels on the 2-core VM, 16->16
 * channels at 7x7 (the default model's recurrent layer) 1.31 µs against F(2x2)'s 1.79, 32->32
 * at 6x6 2.71 against 2.50 (a 4x4 tile wastes more of a small map).
 */
export const WINOGRAD4_MIN_SIDE = 7;

/** Winograd's G for each variant: U = G g G^T turns a 3x3 kernel into the tile's points. */
const WINOGRAD_G: Record<2 | 4, readonly (readonly number[])[]> = {
  2: [
    [1, 0, 0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0, 0, 1],
  ],
  4: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
};

/** U = G g G^T per (input, output) channel, packed [n*n][inC][outC] (n = 4 or 6 points a side). */
function packWinograd(g: Conv2dGeometry, w: Float32Array, out: Float32Array, tile: 2 | 4): void {
  const G = WINOGRAD_G[tile];
  const n = G.length;
  for (let oc = 0; oc < g.outC; oc++) {
    for (let ic = 0; ic < g.inC; ic++) {
      const k = (ky: number, kx: number): number => w[((oc * g.inC + ic) * 3 + ky) * 3 + kx];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let u = 0;
          for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) u += G[i][a] * k(a, b) * G[j][b];
          out[((i * n + j) * g.inC + ic) * g.outC + oc] = u;
        }
      }
    }
  }
}

/** conv2d on a native backend: Winograd where it fits (chosen per layer at pack time), else the direct kernel. */
function registerWinograd(backend: string): void {
  const direct = edgeKernelDef(backend, 'conv2d');
  if (direct === undefined) return;
  registerEdgeKernel(backend, 'conv2d', {
    packedSize(g) {
      const tile = winogradTile(g);
      return tile === 0 ? direct.packedSize(g) : (tile + 2) ** 2 * g.inC * g.outC;
    },
    pack(g, weights, out) {
      const tile = winogradTile(g);
      if (tile === 0) direct.pack(g, weights, out);
      else packWinograd(g, weights as Float32Array, out, tile);
    },
    create(g, packed, runtime) {
      const tile = winogradTile(g);
      if (tile === 0) return direct.create(g, packed, runtime);
      const { winograd: wino, winogradBatch: batch } = runtime as WasmKernels;
      // A memory the addon could not attach runs the wasm kernels, which know only direct convolution.
      if (wino === undefined || batch === undefined) throw new Error('Winograd weights on a memory without the native kernels');
      const u = packed.byteOffset;
      // Sessions of one engine frame: every stream's tiles in one list, sharing U's loads; and
      // zeroing, bias and ReLU (or no activation) done as each output tile is written.
      return modeKernel(
        (src, dst, mode, bias) => wino(src.byteOffset, u, dst.byteOffset, bias, mode, g.inC, g.inH, g.inW, g.outC, g.outH, g.outW, g.padTop, g.padLeft, tile),
        (offsets, n, mode, bias) => batch(offsets, n, u, g.inC, g.inH, g.inW, g.outC, g.outH, g.outW, g.padTop, g.padLeft, tile, mode, bias),
      );
    },
  });
}

/**
 * The dense kernel definition over weights stored at 16 bits: bfloat16 with its columns
 * interleaved in blocks of 32, IEEE half in plain order.
 */
function halfDense(kind: HalfWidth): EdgeKernelDef<DenseGeometry> {
  const round = kind === 'bf16' ? toBf16 : toFp16;
  const interleaved = kind === 'bf16';
  return {
    packedSize: (g) => Math.ceil((g.inSize * g.outSize) / 2),
    pack(g, weights, out) {
      // Rows follow the target's internal order and columns the source's, as for float32.
      const rows = internalOrder(g.outShape, 'hwc');
      const cols = internalOrder(g.inShape, 'hwc');
      const w = weights as Float32Array;
      const half = new Uint16Array(out.buffer, out.byteOffset, g.inSize * g.outSize);
      // bfloat16: within each full block of 32 columns, word k of the block holds column k
      // (low half) and column k + 16 (high half), the order its kernel widens them in
      // (kernels.c); IEEE halves are widened by F16C, 8 or 16 consecutive ones at a time.
      const full = interleaved ? g.inSize & ~31 : 0;
      const slot = (c: number): number => (c >= full ? c : (c & ~31) + (c & 15) * 2 + ((c >> 4) & 1));
      for (let o = 0; o < g.outSize; o++) {
        const ro = (rows === null ? o : rows[o]) * g.inSize;
        for (let i = 0; i < g.inSize; i++) half[ro + slot(cols === null ? i : cols[i])] = round(w[o * g.inSize + i]);
      }
    },
    create(g, packed, runtime) {
      const k = runtime as WasmKernels;
      const kernel = kind === 'bf16' ? k.denseBf16 : k.denseF16;
      if (kernel === undefined) throw new Error(`native kernels: no room to attach another memory for ${kind} weights`);
      const w = packed.byteOffset;
      return { run: (src, dst) => kernel(src.byteOffset, w, dst.byteOffset, g.inSize, g.outSize) };
    },
  };
}

/**
 * The native dense: each edge at its target node's precision (NodeSpec.precision), or at
 * the backend's `fallback` precision where the node names none; float32 weights run the
 * float32 definition `float32`.
 */
function nativeDense(float32: EdgeKernelDef<DenseGeometry>, fallback: WeightPrecision): EdgeKernelDef<DenseGeometry> {
  const half = { bf16: halfDense('bf16'), fp16: halfDense('fp16') };
  const pick = (g: DenseGeometry): EdgeKernelDef<DenseGeometry> => {
    const precision = g.precision ?? fallback;
    return precision === 'fp32' ? float32 : half[precision];
  };
  return {
    packedSize: (g) => pick(g).packedSize(g),
    pack: (g, weights, out) => pick(g).pack(g, weights, out),
    create: (g, packed, runtime) => pick(g).create(g, packed, runtime),
  };
}

if (addon !== null) {
  const native = addon;
  const wasmVariant = (): string => (kernelModule().variant === 'relaxed' ? 'relaxed SIMD' : 'SIMD');
  registerHwcBackend(
    NATIVE_BACKEND,
    () =>
      `native (C with 16-lane vectors running as ${native.isa}, for dense, conv2d, depthwise, pooling, frames entering the arena (checked copy, CHW to HWC); wasm ${wasmVariant()} for the rest; HWC states)`,
    (memory) => nativeKernels(native, memory),
  );
  registerHwcBackend(
    NATIVE_BF16_BACKEND,
    () => `native with bfloat16 dense weights (widened to float32 in registers; float32 arithmetic), running as ${native.isa}; wasm ${wasmVariant()} for the rest; HWC states`,
    (memory) => nativeKernels(native, memory),
  );
  registerHwcBackend(
    NATIVE_FP16_BACKEND,
    () => `native with IEEE half dense weights (widened to float32 in registers; float32 arithmetic), running as ${native.isa}; wasm ${wasmVariant()} for the rest; HWC states`,
    (memory) => nativeKernels(native, memory),
  );
  for (const backend of [NATIVE_BACKEND, NATIVE_BF16_BACKEND, NATIVE_FP16_BACKEND]) registerWinograd(backend);
  // The one kernel definition that differs between the three: dense, by the precision of
  // each edge's target node, else the backend's own.
  const float32 = edgeKernelDef(NATIVE_BACKEND, 'dense') as EdgeKernelDef<DenseGeometry>;
  registerEdgeKernel(NATIVE_BACKEND, 'dense', nativeDense(float32, 'fp32'));
  registerEdgeKernel(NATIVE_BF16_BACKEND, 'dense', nativeDense(float32, 'bf16'));
  registerEdgeKernel(NATIVE_FP16_BACKEND, 'dense', nativeDense(float32, 'fp16'));
}
