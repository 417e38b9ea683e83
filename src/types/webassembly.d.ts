// The part of the WebAssembly JS API streamroll uses. TypeScript ships these types only
// with the DOM libraries, which would also let browser-only globals type-check in Node code.
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(delta: number): number;
  }
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  type ExportValue = unknown;
  type Exports = Record<string, ExportValue>;
  type Imports = Record<string, Record<string, unknown>>;
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Exports;
  }
  function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
}

// Atomics.waitAsync (ES2024; in Node since 16) is missing from the ES2023 library.
interface Atomics {
  waitAsync(typedArray: Int32Array, index: number, value: number, timeout?: number): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}
