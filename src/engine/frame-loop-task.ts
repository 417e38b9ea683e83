import type { NetworkSpec } from '../graph/spec.js';
import type { KernelMemory } from '../kernels/kernel.js';
import type { ArenaPlan } from './arena.js';

/** An engine's network, rollout, memory and backend: what any thread needs to attach to it. */
export interface EngineParts {
  readonly spec: NetworkSpec;
  readonly delays: readonly number[];
  readonly plan: ArenaPlan;
  readonly memory: KernelMemory;
  readonly backend: string;
  /** Module to import first, e.g. one registering a custom backend in this thread. */
  readonly backendModule?: string;
}

/** Everything a frame-loop worker (workers/frame-loop.ts) needs, sent once when the run starts. */
export interface FrameLoopTask extends EngineParts {
  readonly worker: number;
  /** This worker's nodes in frame order. */
  readonly nodes: readonly number[];
  /** Per node, its worker; for an input node, the worker that converts its staged frames. */
  readonly owner: readonly number[];
  /** Input nodes whose row-major staged frames this worker converts into their state slots. */
  readonly converts: readonly number[];
  readonly spin: boolean;
}

/** How a worker's loop ended. */
export interface FrameLoopResult {
  readonly worker: number;
  readonly lastFrame: number;
}
