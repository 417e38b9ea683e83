import { count, LIMITS, LimitError } from '../graph/limits.js';
import type { Network } from '../graph/network.js';
import { asRollout, delaysByEdgeId, fastestModelParallelDelays, type Rollout, type RolloutSpec } from './pattern.js';
import { outputResponses, responseDelays, type OutputResponse } from './response.js';
import { computeTableau, inferenceFactor, isModelParallel } from './tableau.js';
import { findZeroDelayCycle } from './validity.js';

/** The `analyze --json` document for a valid rollout (docs/cli-json.md), plus extensions. */
export interface ValidAnalysis {
  readonly valid: true;
  readonly network: string;
  readonly kind: Rollout['kind'];
  readonly inferenceFactor: number;
  readonly modelParallel: boolean;
  readonly rollout: Record<string, number>;
  readonly window: number;
  readonly tableau: Record<string, number[]>;
  readonly outputs: Record<string, OutputResponse>;
  /** What the fully model-parallel pattern with least latency would give (R=0 out of inputs, 1 elsewhere). */
  readonly fastestModelParallel: {
    readonly rollout: Record<string, number>;
    readonly inferenceFactor: number;
    readonly outputs: Record<string, OutputResponse>;
  };
}

/** The `analyze --json` document for an invalid rollout: one cycle of R=0 edges. */
export interface InvalidAnalysis {
  readonly valid: false;
  readonly network: string;
  readonly kind: Rollout['kind'];
  readonly rollout: Record<string, number>;
  /** Node names around the cycle, first repeated last, e.g. `["a", "b", "a"]`. */
  readonly cycle: readonly string[];
  readonly cycleEdges: readonly string[];
}

export type Analysis = ValidAnalysis | InvalidAnalysis;

/** Default window: at least 4 frames, and wide enough to show every output's first response. */
export function defaultWindow(net: Network, delays: readonly number[]): number {
  const d = responseDelays(net, delays);
  return Math.max(4, ...net.outputs.map((o) => d[o] + 1));
}

function outputsByName(net: Network, responses: Map<number, OutputResponse>): Record<string, OutputResponse> {
  const out: Record<string, OutputResponse> = {};
  for (const [o, r] of responses) out[net.nodes[o].name] = r;
  return out;
}

/**
 * Static analysis of a rollout: validity, tableau, inference factor, model parallelism and
 * per-output response figures (docs/semantics.md), and what the fastest model-parallel pattern
 * would give instead.
 *
 * @param window last frame of the tableau; default {@link defaultWindow}
 */
export function analyzeRollout(net: Network, spec: RolloutSpec | Rollout, options: { window?: number } = {}): Analysis {
  const rollout = asRollout(net, spec);
  const { delays } = rollout;
  const cycle = findZeroDelayCycle(net, delays);
  const byId = delaysByEdgeId(net, delays);
  if (cycle !== null) {
    return { valid: false, network: net.name, kind: rollout.kind, rollout: byId, cycle: cycle.nodes, cycleEdges: cycle.edges };
  }
  const window = options.window ?? defaultWindow(net, delays);
  if (!Number.isInteger(window) || window < 0) throw new RangeError(`window must be an integer >= 0, got ${window}`);
  const cells = net.nodes.length * (window + 1);
  if (cells > LIMITS.tableauCells) {
    throw new LimitError(
      `the analysis window would be ${count(window)} frames (${options.window === undefined ? "to show every output's first response" : 'as asked'}) of ${net.nodes.length} nodes, ${count(cells)} tableau entries, over the limit of ${count(LIMITS.tableauCells)}${options.window === undefined ? ": the rollout's delays put first responses that far out; pass a smaller --window" : ''}`,
    );
  }
  const T = computeTableau(net, delays, window);
  const factor = inferenceFactor(net, delays);
  const tableau: Record<string, number[]> = {};
  for (const n of net.nodes) tableau[n.name] = T[n.index];
  const fast = fastestModelParallelDelays(net);
  const fastFactor = inferenceFactor(net, fast);
  return {
    valid: true,
    network: net.name,
    kind: rollout.kind,
    inferenceFactor: factor,
    modelParallel: isModelParallel(net, delays),
    rollout: byId,
    window,
    tableau,
    outputs: outputsByName(net, outputResponses(net, delays, factor)),
    fastestModelParallel: {
      rollout: delaysByEdgeId(net, fast),
      inferenceFactor: fastFactor,
      outputs: outputsByName(net, outputResponses(net, fast, fastFactor)),
    },
  };
}
