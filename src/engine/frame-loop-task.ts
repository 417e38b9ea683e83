import type { NetworkSpec } from '../graph/spec.js';
import type { KernelMemory } from '../kernels/kernel.js';
import type { ArenaPlan } from './arena.js';
import type { LaneRole } from './stream-lanes.js';

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
  /** Per node, its worker; for an input node, the worker that converts its frames (see `converts`). */
  readonly owner: readonly number[];
  /**
   * Input nodes whose counters this worker raises as it starts each frame, converting their
   * row-major staged frames into their state slots first where they have a staging ring
   * (the others the driver wrote straight into their state slots).
   */
  readonly converts: readonly number[];
  readonly spin: boolean;
  /**
   * Set when this worker shares engine frames stream by stream with a helper thread (see
   * src/engine/stream-lanes.ts): 'lead' for the placement's one worker, 'helper' for the
   * helper, which has the same nodes and inputs.
   */
  readonly lane?: LaneRole;
}

/**
 * A worker's answer to its task once the loop is set up. The loop then runs on its own, so
 * piscina counts the worker idle and an idle runtime does not keep the process alive.
 */
export interface FrameLoopStarted {
  readonly worker: number;
  /** The thread's id, to find its `Worker` among the pool's threads. */
  readonly threadId: number;
}

/** How a worker's loop ended: posted on its parentPort as `{[FRAME_LOOP_END]: end}`. */
export interface FrameLoopEnd {
  readonly worker: number;
  readonly lastFrame: number;
  /** Why it stopped when it failed (a node's error names node and tick). */
  readonly error?: { readonly name: string; readonly message: string; readonly stack?: string };
}

/** Key of the message a worker posts when its loop ends. */
export const FRAME_LOOP_END = 'streamrollFrameLoopEnd';
