import { createRequire } from 'node:module';
import { instantiateKernels, kernelModule, type WasmKernels } from '../wasm/module.js';
import { registerHwcBackend } from '../wasm/index.js';

/** Name of the backend with native dense and conv2d kernels (where the addon is built). */
export const NATIVE_BACKEND = 'native';

interface NativeAddon {
  /** The instruction set the dispatched kernels run with on this CPU. */
  readonly isa: string;
  /** Registers a memory's base address; returns its id, or -1. */
  attach(view: Float32Array): number;
  dense(memory: number, x: number, w: number, y: number, inSize: number, outSize: number): void;
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
  ): void;
  readOnce(memory: number, at: number, count: number): number;
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
  timerSlack(ns: number): number;
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

if (addon !== null) {
  const native = addon;
  registerHwcBackend(
    NATIVE_BACKEND,
    () => `native (C with 16-lane vectors running as ${native.isa}, for dense, conv2d and depthwise; wasm ${kernelModule().variant === 'relaxed' ? 'relaxed SIMD' : 'SIMD'} for the rest; HWC states)`,
    (memory) => {
      const k = instantiateKernels(memory.wasm);
      const id = native.attach(new Float32Array(memory.buffer));
      // The addon's table of memories is full (65,536 distinct arenas in one process): run
      // this one on the wasm kernels rather than fail.
      if (id < 0) return k;
      // Same arguments as the wasm kernels (byte offsets into the memory), so every kernel
      // definition of the wasm backend works unchanged.
      return {
        ...(k as unknown as Record<string, unknown>),
        dense: (x: number, w: number, y: number, inSize: number, outSize: number) => native.dense(id, x, w, y, inSize, outSize),
        copyIn: (source: Float32Array, at: number) => native.copyIn(id, at, source),
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
        // Spelled out: a rest parameter would allocate an array on every call of the hot path.
        conv2d: (
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
        ) => native.conv2d(id, x, w, taps, y, inC, inH, inW, outC, outH, outW, kh, kw, sh, sw, dh, dw, padT, padL),
      } as unknown as WasmKernels;
    },
  );
}
