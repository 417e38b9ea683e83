// Registers every built-in backend. Importing this is cheap: the wasm module is read and
// compiled only when a wasm backend is first bound.
import './reference/index.js';
import './wasm/index.js';

export { REFERENCE_BACKEND } from './reference/index.js';
export { WASM_BACKEND } from './wasm/index.js';
