import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import type { WasmMemory } from '../kernel.js';
import { StreamrollError } from '../../util/errors.js';

/** The kernel module's exports (all pointers are byte offsets into the shared memory). */
export interface WasmKernels {
  dense(x: number, w: number, y: number, inSize: number, outSize: number): void;
  /**
   * Native only: dense for n streams at once; `offsets` holds the n inputs' byte offsets, then
   * the n outputs'. Each output equals dense()'s bit for bit.
   */
  denseBatch?(offsets: Float64Array, n: number, w: number, inSize: number, outSize: number, mode: number, bias: number): void;
  /**
   * Native only: dense writing its sums by `mode` (add, or the only, first or last edge of a
   * node, with its `bias`: kernels.c, finish).
   */
  denseMode?(x: number, w: number, y: number, inSize: number, outSize: number, mode: number, bias: number): void;
  /**
   * Native only: Winograd for n streams at once (`offsets` as for denseBatch), each output by
   * `mode` (add, first or last of a node's edges: kernels.c, wino_output) with their node's `bias`.
   */
  winogradBatch?(
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
  ): void;
  /**
   * Native only: the direct convolution for n streams in one call (`offsets` as for
   * denseBatch), each output written by `mode` with `bias` (kernels.c, finish).
   */
  conv2dBatch?(
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
  /** Native only: the direct convolution writing its outputs by `mode` with `bias` (kernels.c, finish). */
  conv2dMode?(
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
  /** Native only: dense over bfloat16 weights (packed as kernels.c's dense_bf16 reads them). */
  denseBf16?(x: number, w: number, y: number, inSize: number, outSize: number): void;
  /** Native only: dense over IEEE half weights, rows in order. */
  denseF16?(x: number, w: number, y: number, inSize: number, outSize: number): void;
  depthwise(
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
  conv2d(
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
  ): void;
  pool(x: number, y: number, kind: number, C: number, inH: number, inW: number, outH: number, outW: number, kh: number, kw: number, sh: number, sw: number, padT: number, padL: number): void;
  /**
   * Native only: pool writing its window values by `mode` (add, or the only, first or last
   * edge of a node, with its `bias`: kernels.c, finish).
   */
  poolMode?(
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
  /** Native only: poolMode for n streams at once (`offsets` as for denseBatch). */
  poolBatch?(
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
  addInto(x: number, y: number, n: number): void;
  gatherAdd(x: number, y: number, idx: number, n: number): void;
  biasActivation(y: number, b: number, n: number, kind: number, alpha: number, beta: number): void;
  softmax(y: number, b: number, groups: number, classes: number): void;
  firstNonFinite(p: number, n: number): number;
  zero(p: number, n: number): void;
  /** Native only: copies a Float32Array from anywhere to byte offset `at`; first non-finite index or -1. */
  copyIn?(source: Float32Array, at: number): number;
  /**
   * Native only: copyIn of a row-major [C,H,W] frame (P = H x W) into HWC order at `at`;
   * the first non-finite index of the source or -1.
   */
  copyInChwToHwc?(source: Float32Array, at: number, C: number, P: number): number;
  /**
   * Native only: Winograd conv with transformed weights `u`, F(2x2,3x3) or F(4x4,3x3) by
   * `tile`; `mode` 0 adds into `y`, 1 and 2 write y = act(conv + bias) (linear, relu) for a
   * node with no other input.
   */
  winograd?(
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
  ): void;
  chwToHwc(src: number, dst: number, C: number, P: number): void;
  hwcToChw(src: number, dst: number, C: number, P: number): void;
  relaxedSimd(): number;
}

/** Which build runs: `relaxed` (fused multiply-add where the CPU has it) or plain `simd`. */
export type WasmVariant = 'relaxed' | 'simd';

const buildDir = new URL('../../../../src/kernels/wasm/build/', import.meta.url);

let chosen: { variant: WasmVariant; module: WebAssembly.Module } | undefined;

/**
 * Compiles the kernel module once per thread. The relaxed-SIMD build is used when this V8
 * accepts it (Node 20 needs a flag, set here before compiling; it applies to the whole
 * process, workers included), else the plain SIMD build. STREAMROLL_SIMD=simd forces the
 * plain build, e.g. to compare the two.
 */
export function kernelModule(): { variant: WasmVariant; module: WebAssembly.Module } {
  if (chosen !== undefined) return chosen;
  const forced = process.env.STREAMROLL_SIMD;
  if (forced !== undefined && forced !== 'simd' && forced !== 'relaxed') {
    throw new StreamrollError('OPTION_INVALID', `STREAMROLL_SIMD must be "simd" or "relaxed", got "${forced}"`);
  }
  if (forced !== 'simd') {
    const relaxed = readFileSync(new URL('kernels-relaxed.wasm', buildDir));
    if (!WebAssembly.validate(relaxed)) setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (WebAssembly.validate(relaxed)) {
      chosen = { variant: 'relaxed', module: new WebAssembly.Module(relaxed) };
      return chosen;
    }
    if (forced === 'relaxed') throw new StreamrollError('UNSUPPORTED_PLATFORM', 'STREAMROLL_SIMD=relaxed, but this V8 does not accept relaxed SIMD');
  }
  const plain = readFileSync(new URL('kernels-simd.wasm', buildDir));
  if (!WebAssembly.validate(plain)) throw new StreamrollError('UNSUPPORTED_PLATFORM', 'this Node.js does not support WebAssembly SIMD, which the wasm kernels need (use the reference backend)');
  chosen = { variant: 'simd', module: new WebAssembly.Module(plain) };
  return chosen;
}

/** Instantiates the kernels on a shared memory (no data segments: safe to repeat per thread). */
export function instantiateKernels(memory: WasmMemory): WasmKernels {
  const instance = new WebAssembly.Instance(kernelModule().module, { env: { memory } });
  return instance.exports as unknown as WasmKernels;
}
