import type { EdgeGeometry } from '../../src/graph/geometry.js';
import type { Shape } from '../../src/graph/spec.js';
import type { BoundKernels, KernelBackend, KernelMemory } from '../../src/kernels/kernel.js';
import { fromInternal, toInternal } from '../../src/kernels/layout.js';

const align = (n: number): number => Math.ceil(n / 64) * 64;

/**
 * Places tensors in a fresh backend memory whose every other byte is NaN, so a kernel that
 * reads outside its tensors produces NaN and one that writes outside them is caught by
 * {@link KernelHarness.untouchedOutside}.
 */
export class KernelHarness {
  readonly memory: KernelMemory;
  readonly kernels: BoundKernels;
  readonly #f32: Float32Array;
  #at: number;

  constructor(
    readonly backend: KernelBackend,
    bytes = 1 << 20,
  ) {
    this.memory = backend.createMemory(bytes + backend.reservedBytes);
    this.#f32 = new Float32Array(this.memory.buffer);
    this.#at = align(backend.reservedBytes);
    this.#f32.fill(NaN, this.#at / 4);
    this.kernels = backend.bind(this.memory);
  }

  /** A view of `floats` floats at the next free aligned place (contents left as NaN). */
  alloc(floats: number): Float32Array {
    const view = new Float32Array(this.memory.buffer, this.#at, floats);
    this.#at = align(this.#at + floats * 4) + 64;
    if (this.#at > this.memory.buffer.byteLength) throw new Error('harness memory too small');
    return view;
  }

  /** A state tensor in the backend's layout holding the row-major values `chw`. */
  state(shape: Shape, chw: Float32Array): Float32Array {
    const view = this.alloc(chw.length);
    toInternal(chw, view, shape, this.backend.layout);
    return view;
  }

  /** A state tensor read back row-major. */
  read(shape: Shape, view: Float32Array): Float32Array {
    const out = new Float32Array(view.length);
    fromInternal(view, out, shape, this.backend.layout);
    return out;
  }

  /** Packed weights of an edge (model-file layout in). */
  weights(geometry: EdgeGeometry, weights: Float32Array | null): Float32Array {
    const view = this.alloc(this.backend.packedSize(geometry));
    this.backend.pack(geometry, weights, view);
    return view;
  }

  /** A copy of the whole memory's bytes, to compare with after a kernel ran. */
  snapshot(): Uint8Array {
    return new Uint8Array(this.memory.buffer).slice();
  }

  /** True when no byte outside the `allowed` views changed since `before`. */
  untouchedOutside(before: Uint8Array, ...allowed: Float32Array[]): boolean {
    const now = new Uint8Array(this.memory.buffer);
    const inside = (i: number): boolean => allowed.some((a) => i >= a.byteOffset && i < a.byteOffset + a.byteLength);
    for (let i = 0; i < now.length; i++) if (now[i] !== before[i] && !inside(i)) return false;
    return true;
  }
}
