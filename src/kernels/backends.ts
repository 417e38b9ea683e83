// Registers every built-in backend. Importing this is cheap: the wasm module is read and
// compiled only when a wasm-based backend is first bound, and the native addon is loaded
// only if it was built.
import './reference/index.js';
import './wasm/index.js';
import './native/index.js';

export { REFERENCE_BACKEND } from './reference/index.js';
export { WASM_BACKEND };
import { NATIVE_BACKEND, nativeAvailable, nativeMissingReason } from './native/index.js';
import { WASM_BACKEND } from './wasm/index.js';

export { NATIVE_BACKEND, nativeAvailable, nativeMissingReason };

/** The fastest backend this machine has: native where its addon was built, else wasm. */
export function defaultBackend(): string {
  return nativeAvailable() ? NATIVE_BACKEND : WASM_BACKEND;
}
