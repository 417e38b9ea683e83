/// <reference types="node" preserve="true" />
/**
 * streamroll: execute deep networks in the streaming rollout.
 *
 * This entry point holds the runtime, network specs, rollouts and model files. Subpaths:
 * `streamroll/io` (frames, the wire format, rings, the TCP server, the MNIST camera),
 * `streamroll/train` (TensorFlow.js training; optional peer dependencies),
 * `streamroll/kernels` (the kernel registry and backends), `streamroll/placement` (worker
 * placement and the frame-period model). Everything else under src/ is internal.
 * @packageDocumentation
 */
export * from './graph/spec.js';
export { StreamrollError, isStreamrollError, type ErrorCode } from './util/errors.js';
export { SpecError, type SpecIssue } from './graph/errors.js';
export { LIMITS, LimitError } from './graph/limits.js';
export type { EdgeGeometry, DenseGeometry, Conv2dGeometry, PoolGeometry, IdentityGeometry, Window2d } from './graph/geometry.js';
export { Network, validateNetwork, describeOp, type NetNode, type NetEdge } from './graph/network.js';
export { parseJsonText } from './graph/json-text.js';
export { NetworkBuilder, dense, conv2d, maxpool, avgpool, identity } from './graph/builder.js';
export {
  resolveRollout,
  asRollout,
  streamingDelays,
  sequentialDelays,
  fastestModelParallelDelays,
  delaysByEdgeId,
  toPattern,
  type Rollout,
  type RolloutPattern,
  type RolloutPreset,
  type RolloutSpec,
} from './rollout/pattern.js';
export { findZeroDelayCycle, assertValidRollout, frameOrder, RolloutCycleError, type ZeroDelayCycle } from './rollout/validity.js';
export { computeTableau, inferenceFactor, isModelParallel } from './rollout/tableau.js';
export { responseDelays, inputConnected, outputResponses, type OutputResponse } from './rollout/response.js';
export { analyzeRollout, defaultWindow, type Analysis, type ValidAnalysis, type InvalidAnalysis } from './rollout/analyze.js';
export { initParameters, type Parameters, type InitOptions } from './graph/parameters.js';
export { InputError, type InputFrame, type NonFinitePolicy } from './io/inputs.js';
export { ReferenceExecutor, checkParameters, type ReferenceExecutorOptions } from './engine/reference-executor.js';
export { loadNetworkFile, loadRollout } from './io/spec-file.js';
export { encodeModel, decodeModel, saveModel, loadModel, MODEL_FORMAT, MODEL_VERSION, type Model } from './io/model-file.js';
export { Runtime, RuntimeError, type RuntimeOptions, type RuntimeStats, type RuntimeLogger, type TickResult, type RunOptions } from './engine/runtime.js';
export { RING_CACHE_BYTES } from './engine/runtime-options.js';
export { Session, type SessionOptions } from './engine/session.js';
export { InputSlot, OutputFrame, ViewError } from './engine/frame-views.js';
export { loadSource, type ModelSource, type LoadedModel } from './engine/model-source.js';
export type { Placement, PlacementMapping, PlacementOption } from './engine/placement.js';
export { runRealtime, OverrunError, type OverrunPolicy, type RealtimeOptions, type RealtimeSummary, type RealtimeSource, type RealtimeSink, type LoopDetail } from './engine/realtime.js';
export { LoopControl, type LoopControlState } from './engine/loop-control.js';
export {
  serveUi,
  type UiOptions,
  type UiServer,
  type UiState,
  type UiUpdate,
  type NodeView,
  type StateSnapshot,
  type DecimateOptions,
  type WorkerTiming,
  type LoopView,
  type HistoryPoint,
} from './ui/ui-server.js';
