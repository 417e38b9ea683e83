import { parseJsonText } from '../graph/json-text.js';
import { validateNetwork, type Network } from '../graph/network.js';
import { resolveRollout, type Rollout, type RolloutSpec } from '../rollout/pattern.js';
import { readText } from './read-file.js';

/** Reads and validates a network spec JSON file; errors name the file and the place in it. */
export async function loadNetworkFile(path: string): Promise<Network> {
  return validateNetwork(parseJsonText(await readText(path, 'network spec'), 'network spec', path), path);
}

/**
 * Resolves `streaming`, `sequential`, `pipelined`, or the path of a rollout pattern JSON file,
 * against a network. Validity is not checked here.
 */
export async function loadRollout(net: Network, rollout: string): Promise<Rollout> {
  if (rollout === 'streaming' || rollout === 'sequential' || rollout === 'pipelined') return resolveRollout(net, rollout);
  const spec = parseJsonText(await readText(rollout, 'rollout pattern'), 'rollout pattern', rollout) as RolloutSpec;
  return resolveRollout(net, spec, rollout);
}
