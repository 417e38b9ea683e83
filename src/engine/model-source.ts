import { validateNetwork, Network } from '../graph/network.js';
import type { NetworkSpec } from '../graph/spec.js';
import { loadModel, type Model } from '../io/model-file.js';
import { loadNetworkFile } from '../io/spec-file.js';
import { importModel, isImportable } from '../import/index.js';
import { asRollout, type Rollout, type RolloutSpec } from '../rollout/pattern.js';
import { initParameters, type Parameters } from '../graph/parameters.js';

/** What a runtime can be created from: a spec object, a validated network, a model, or a file path (.json spec, .srm model, or .onnx to import). */
export type ModelSource = NetworkSpec | Network | Model | string;

/** A network with everything needed to run it. */
export interface LoadedModel {
  readonly network: Network;
  readonly rollout: Rollout;
  readonly params: Parameters;
  /** Where the weights came from, for logs and reports. */
  readonly weights: 'model file' | 'imported' | 'given' | 'seeded random';
}

const isModel = (s: ModelSource): s is Model => typeof s === 'object' && 'network' in s && 'params' in s;

/**
 * Resolves a source to a network, rollout and parameters. The rollout option wins over a
 * model's own; weights come from the model, or `params`, or a seeded random init.
 */
export async function loadSource(source: ModelSource, options: { rollout?: RolloutSpec | Rollout; params?: Parameters; seed?: number }): Promise<LoadedModel> {
  const model = typeof source === 'string' ? (source.endsWith('.srm') ? await loadModel(source) : undefined) : isModel(source) ? source : undefined;
  if (model !== undefined) {
    const rollout = options.rollout === undefined ? model.rollout : asRollout(model.network, options.rollout);
    return { network: model.network, rollout, params: options.params ?? model.params, weights: options.params === undefined ? 'model file' : 'given' };
  }
  if (typeof source === 'string' && isImportable(source)) {
    // An ONNX (or tfjs) model: its feedforward graph runs pipelined unless told otherwise.
    const imported = await importModel(source);
    const network = validateNetwork(imported.spec, source);
    return { network, rollout: asRollout(network, options.rollout ?? 'pipelined'), params: options.params ?? imported.params, weights: options.params === undefined ? 'imported' : 'given' };
  }
  const net = typeof source === 'string' ? await loadNetworkFile(source) : source instanceof Network ? source : validateNetwork(source as NetworkSpec);
  return {
    network: net,
    rollout: asRollout(net, options.rollout ?? 'streaming'),
    params: options.params ?? initParameters(net, { seed: options.seed ?? 0 }),
    weights: options.params === undefined ? 'seeded random' : 'given',
  };
}
