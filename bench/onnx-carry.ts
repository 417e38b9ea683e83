// onnxruntime-node running a network exported with its feedback state carried
// (networkModel's `carry`): the one place the benches feed each run the last run's values.
import * as ort from 'onnxruntime-node';
import type { Network } from '../src/graph/network.js';
import { carriedInputName, carriedNodes } from '../src/io/onnx-export.js';

/** The outputs of one run, by graph output name. */
export type RunResults = ort.InferenceSession.OnnxValueMapType;

/**
 * A run function for `session` (a model of `net` exported with `carry`, batch `batch`): each
 * call adds to its feeds the carried nodes' values of the previous call (zeros before the
 * first), as stateful models are run in onnxruntime. For a network without feedback it only
 * runs the session.
 */
export function statefulRun(session: ort.InferenceSession, net: Network, batch: number): (feeds: Record<string, ort.Tensor>) => Promise<RunResults> {
  const carried = carriedNodes(net).map((v) => net.nodes[v]);
  let state: Record<string, ort.Tensor> = Object.fromEntries(carried.map((n) => [carriedInputName(n.name), new ort.Tensor('float32', new Float32Array(batch * n.size), [batch, ...n.shape])]));
  return async (feeds) => {
    const results = await session.run({ ...feeds, ...state });
    state = Object.fromEntries(carried.map((n) => [carriedInputName(n.name), results[n.name] as ort.Tensor]));
    return results;
  };
}
