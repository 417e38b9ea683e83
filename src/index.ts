/**
 * streamroll: execute deep networks in the streaming rollout.
 * The public API; everything else under src/ is internal.
 */
export * from './graph/spec.js';
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
export type {
  EdgeKernel,
  ActivationKernel,
  KernelBackend,
  KernelMemory,
  BoundKernels,
  BackendDef,
  EdgeKernelDef,
  ActivationKernelDef,
  StateLayout,
  OpType,
} from './kernels/kernel.js';
export { registerBackend, registerEdgeKernel, registerActivationKernel, getBackend, registeredBackends } from './kernels/registry.js';
export { internalOrder, toInternal, fromInternal } from './kernels/layout.js';
export { REFERENCE_BACKEND, WASM_BACKEND, NATIVE_BACKEND, nativeAvailable, defaultBackend } from './kernels/backends.js';
export { planArena, createArena, Arena, CACHE_LINE, type ArenaPlan, type ArenaOptions, type StateBlock, type TensorBlock } from './engine/arena.js';
export { initParameters, type Parameters, type InitOptions } from './engine/parameters.js';
export { InputError, type InputFrame, type NonFinitePolicy } from './engine/inputs.js';
export { ReferenceExecutor, checkParameters, type ReferenceExecutorOptions } from './engine/reference-executor.js';
export { loadNetworkFile, loadRollout } from './io/spec-file.js';
export { encodeModel, decodeModel, saveModel, loadModel, MODEL_FORMAT, MODEL_VERSION, type Model } from './io/model-file.js';
export { Runtime, RuntimeError, type RuntimeOptions, type RuntimeStats, type RuntimeLogger, type TickResult, type RunOptions } from './engine/runtime.js';
export { Session, type SessionOptions } from './engine/session.js';
export { InputSlot, OutputFrame, ViewError } from './engine/frame-views.js';
export { loadSource, type ModelSource, type LoadedModel } from './engine/model-source.js';
export {
  choosePlacement,
  chooseWorkerCount,
  MULTI_WORKER_OVERHEAD_US,
  balanced,
  onePerLayer,
  explicitPlacement,
  exhaustiveBest,
  simulateFrame,
  predictFramePeriod,
  nodeFlops,
  type Placement,
  type PlacementMapping,
  type PlacementOption,
} from './engine/placement.js';
export { runRealtime, OverrunError, type OverrunPolicy, type RealtimeOptions, type RealtimeSummary, type RealtimeSource, type RealtimeSink } from './engine/realtime.js';
export { FrameRing, type FrameRingHandle } from './io/frame-ring.js';
export { fixedRate } from './io/clock.js';
export type { SourceFrame } from './io/frames.js';
export { PushSource } from './io/push-source.js';
export { mnistCamera, type MnistCameraOptions } from './io/mnist-camera.js';
export { mnistByClass, mnistSplit, type Digit } from './io/mnist-data.js';
export { encodeMessage, readMessages, toSourceFrame, frameMessage, MessageError, MessageFramer, MAX_MESSAGE_BYTES } from './io/frame-stream.js';
export { serveFrames, type FrameServer, type ServeOptions } from './io/tcp-source.js';
export { loadTf, type LoadedTf } from './train/tf.js';
export { train, type TrainOptions } from './train/trainer.js';
export { evaluateModel, type EvalResult } from './train/evaluate.js';
export { toTrainable, fromTrainable, unroll, type TrainableParameters } from './train/window-model.js';
