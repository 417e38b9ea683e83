// Bringing a model in: ONNX files, TensorFlow.js layers models and graph models, each read
// into the import graph (./ir.ts) by its own reader and lowered to a network spec by one
// lowering (./lower.ts).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { lowerGraph, type ImportedModel } from './lower.js';
import { readOnnx } from './onnx.js';

export { ImportError, type Unsupported } from './ir.js';
export type { ImportedModel, ImportReport } from './lower.js';

/** The model formats `importModel` reads. */
export type ModelFormat = 'onnx';

/** The format of a model file, from its name. */
export function formatOf(path: string): ModelFormat | undefined {
  if (path.toLowerCase().endsWith('.onnx')) return 'onnx';
  return undefined;
}

/** Whether `path` names a model that `importModel` reads (not a spec or a .srm). */
export const isImportable = (path: string): boolean => formatOf(path) !== undefined;

/**
 * Imports a model file: the network as a spec, its weights in the runtime's layouts, and a
 * report of what was folded. Throws an ImportError listing every op that does not map.
 */
export async function importModel(path: string): Promise<ImportedModel> {
  const format = formatOf(path);
  if (format === undefined) throw new Error(`${path}: not a model file streamroll imports (.onnx)`);
  const bytes = new Uint8Array(await readFile(path));
  const name = basename(path).replace(/\.onnx$/i, '');
  return lowerGraph(readOnnx(bytes, name), format);
}
