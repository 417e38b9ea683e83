// An engine handed to another thread for a while (see Runtime.lend): what that thread needs
// to drive it, and how it takes over, computing the input worker's share itself (that worker
// parks), so a one-worker model has no wake-up between a frame's arrival and its outputs.
import { validateNetwork, type Network } from '../graph/network.js';
import { getBackend } from '../kernels/registry.js';
import { Arena } from './arena.js';
import { PARK, PARKED, PUBLISHED, STOP } from './control.js';
import { FrameDriver, type DriverState } from './frame-driver.js';
import { FrameLoop } from './frame-loop.js';
import type { EngineParts, FrameLoopTask } from './frame-loop-task.js';
import type { NonFinitePolicy } from '../io/inputs.js';
import type { LentState, Runtime } from './runtime.js';

/** Everything a driving thread needs (structured-clonable). */
export interface LentEngine extends EngineParts {
  readonly queue: number;
  readonly nonFinite: NonFinitePolicy;
  readonly state: DriverState;
  /** The task of the worker whose share the driving thread computes (that worker parks). */
  readonly takeOver?: FrameLoopTask;
  /** How long to spin for a frame's outputs before sleeping until a worker wakes the thread (ms). */
  readonly outputSpinMs: number;
  /** Streams no session of the runtime holds (for the driving thread's own sessions). */
  readonly free: readonly number[];
}

/** The lent engine as the runtime's thread describes it, taking over the worker that converts the first input. */
export function describeLent(rt: Runtime, lent: LentState): LentEngine {
  const { state, loops, free } = lent;
  const takeOver = loops.find((l) => l.converts.includes(rt.network.inputs[0]));
  return {
    spec: rt.network.spec,
    delays: rt.rollout.delays,
    plan: rt.arena.plan,
    memory: rt.arena.memory,
    backend: rt.backend.name,
    ...(rt.backendModule === undefined ? {} : { backendModule: rt.backendModule }),
    queue: rt.queue,
    nonFinite: rt.nonFinite,
    state,
    ...(takeOver === undefined ? {} : { takeOver }),
    // A frame computed right after a sleep runs 2-4x its calibrated time (cold caches, clocks
    // ramping up): spin through that rather than pay a wake-up (50-100 µs here) at its end.
    outputSpinMs: Math.min(1, (4 * rt.placement.predictedFrameUs) / 1000 + 0.1),
    free,
  };
}

/**
 * The state after a driver published frames of `stream` alone, one per engine frame, up to
 * engine frame `published` (what a real-time loop did, read back from the engine's counter).
 */
export function advanced(state: DriverState, published: number, stream: number): DriverState {
  const ran = published - state.engineFrame;
  const streams = state.streams.map((s, i) => {
    if (i !== stream || ran <= 0) return s;
    const engine = [...s.engine];
    for (let j = 1; j <= ran; j++) engine[(s.frame + j) % engine.length] = state.engineFrame + j;
    return { ...s, frame: s.frame + ran, engine };
  });
  return { engineFrame: Math.max(published, state.engineFrame), streams };
}

/** A lent engine taken over in this thread. */
export interface AttachedEngine {
  readonly net: Network;
  readonly arena: Arena;
  readonly ctrl: Int32Array;
  readonly driver: FrameDriver;
  /** The parked worker's share, computed here after each publish; undefined when none was taken. */
  readonly own: FrameLoop | undefined;
  /**
   * Publishes the next engine frame for `streams` (each at its next frame, inputs written)
   * and computes this thread's share of it; returns the engine frame, or 0 when the engine
   * stopped.
   */
  step(streams: number | readonly number[]): number;
  /** Gives the parked worker its share back. */
  release(): void;
}

/**
 * Attaches to a lent engine in this thread and parks the worker whose share it takes over.
 * Throws when the engine stops first.
 */
export async function attachEngine(lent: LentEngine): Promise<AttachedEngine> {
  if (lent.backendModule !== undefined) await import(lent.backendModule);
  const own = lent.takeOver === undefined ? undefined : new FrameLoop(lent.takeOver);
  const net = own?.net ?? validateNetwork(lent.spec);
  const arena = own?.arena ?? new Arena(lent.plan, lent.memory);
  const ctrl = arena.control;
  const driver = new FrameDriver({ net, arena, kernels: own?.kernels ?? getBackend(lent.backend).bind(lent.memory), queue: lent.queue, nonFinite: lent.nonFinite, state: lent.state });
  let parked = false;
  const release = (): void => {
    if (!parked) return;
    parked = false;
    Atomics.store(ctrl, PARK, 0);
    Atomics.notify(ctrl, PARK);
  };
  if (own !== undefined) {
    parked = true;
    const me = own.task.worker + 1;
    Atomics.store(ctrl, PARK, me);
    Atomics.notify(ctrl, PUBLISHED);
    for (let seen = Atomics.load(ctrl, PARKED); seen !== me; seen = Atomics.load(ctrl, PARKED)) {
      if (Atomics.load(ctrl, STOP) !== 0) {
        release();
        throw new Error('the engine stopped');
      }
      Atomics.wait(ctrl, PARKED, seen, 50);
    }
  }
  return {
    net,
    arena,
    ctrl,
    driver,
    own,
    step(streams) {
      const k = typeof streams === 'number' ? driver.publishOne(streams) : driver.publishBatch(streams);
      return own === undefined || own.computeFrame(k, 0) ? k : 0;
    },
    release,
  };
}
