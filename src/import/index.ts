// Bringing a model in: ONNX files, TensorFlow.js layers models and graph models, each read
// into the import graph (./ir.ts) by its own reader and lowered to a network spec by one
// lowering (./lower.ts).
import { readBytes, readText } from '../io/read-file.js';
import { basename, dirname } from 'node:path';
import { lowerGraph, type ImportedModel } from './lower.js';
import { ImportError } from './ir.js';
import { readOnnx } from './onnx.js';
import { readTfjsGraph } from './tfjs-graph.js';
import { readTfjsLayers } from './tfjs-layers.js';
import { readTfjsWeights, type WeightsManifest } from './tfjs-weights.js';
import { StreamrollError } from '../util/errors.js';

export { ImportError, type Unsupported } from './ir.js';
export type { ImportedModel, ImportReport } from './lower.js';

/** The model formats `importModel` reads. */
export type ModelFormat = 'onnx' | 'tfjs-layers' | 'tfjs-graph';

/** Whether `path` names a model file `importModel` reads: .onnx, or a TensorFlow.js model.json. */
export const isImportable = (path: string): boolean => /\.onnx$/i.test(path) || /(^|[/\\])model\.json$/i.test(path);

/**
 * Imports a model file: an ONNX file, or a TensorFlow.js layers or graph model (its
 * model.json, the weight shards beside it). Returns the network as a spec, its weights in the runtime's
 * layouts, and a report of what was folded. Throws an ImportError listing every op (or layer)
 * that does not map.
 */
export async function importModel(path: string): Promise<ImportedModel> {
  if (/\.onnx$/i.test(path)) return lowerGraph(readOnnx(await readBytes(path, 'ONNX model'), basename(path).replace(/\.onnx$/i, '')), 'onnx');
  if (!isImportable(path)) throw new StreamrollError('FILE_UNREADABLE', `${path}: not a model file streamroll imports (.onnx, or a TensorFlow.js model.json)`);
  const text = await readText(path, 'TensorFlow.js model');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ImportError(path, [{ name: basename(path), opType: 'model.json', why: `not JSON (${(err as Error).message})` }]);
  }
  const name = basename(dirname(path)) || 'model';
  const topology = (json.modelTopology ?? {}) as Record<string, unknown>;
  const manifest = json.weightsManifest as WeightsManifest | undefined;
  if (manifest === undefined) throw new ImportError(name, [{ name: basename(path), opType: 'model.json', why: 'no weightsManifest: not a TensorFlow.js model' }]);
  const weights = await readTfjsWeights(path, manifest);
  if (json.format === 'graph-model' || Array.isArray(topology.node)) return lowerGraph(readTfjsGraph(json, weights, name), 'tfjs-graph');
  return lowerGraph(readTfjsLayers(json, weights, name), 'tfjs-layers');
}
