import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Network } from '../graph/network.js';
import type { Rollout } from '../rollout/pattern.js';
import { frameOrder } from '../rollout/validity.js';
import type { Arena } from './arena.js';
import { FRAME_LOOP_END, type FrameLoopEnd, type FrameLoopStarted, type FrameLoopTask } from './frame-loop-task.js';
import type { Placement } from './placement.js';

const WORKER_FILE = fileURLToPath(new URL('../../workers/frame-loop.js', import.meta.url));

/**
 * Per node, the worker that owns its ready counter: a computed node's own worker; for an
 * input, the worker of its first consumer (an R=0 one if any), which raises the counter and
 * converts the frames that came through zero-copy views, where the frame is needed first.
 */
export function counterOwners(net: Network, delays: readonly number[], placement: Placement): number[] {
  const order = frameOrder(net, delays);
  const owner = [...placement.owner];
  for (const v of net.inputs) {
    const outs = net.nodes[v].outEdges;
    if (outs.length === 0) {
      owner[v] = 0;
      continue;
    }
    const first = (es: readonly number[]): number => es.map((e) => net.edges[e].to).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
    const immediate = outs.filter((e) => delays[e] === 0);
    owner[v] = placement.owner[first(immediate.length > 0 ? immediate : outs)];
  }
  return owner;
}

/** A started pool of frame-loop workers: one loop each, running on after its task answered. */
export interface StartedWorkers {
  readonly pool: Piscina;
  /** What each worker was given (another thread can take a parked worker's share with it). */
  readonly loops: readonly FrameLoopTask[];
  /**
   * Per worker, how its loop ended. Always resolves: a loop that threw, a task that failed
   * to set up and a thread that exited all resolve with an `error`.
   */
  readonly ended: Promise<FrameLoopEnd>[];
}

/** How the frame loops are started: besides the placement, its backend and waits. */
export interface LoopSetup {
  readonly backend: string;
  readonly spin: boolean;
  readonly backendModule: string | undefined;
  /**
   * A helper thread beside a one-worker placement, sharing each engine frame's streams with
   * it (see src/engine/stream-lanes.ts): its loop is the last, worker index `placement.workers`.
   */
  readonly helper: boolean;
}

/** Threads a placement's loops take: one per group, and the helper's. */
export const loopThreads = (placement: Placement, helper: boolean): number => placement.workers + (helper ? 1 : 0);

/** Starts one frame-loop worker per placement group on the arena (and the helper, if asked). */
export function startWorkers(net: Network, rollout: Rollout, placement: Placement, arena: Arena, setup: LoopSetup): StartedWorkers {
  const threads = loopThreads(placement, setup.helper);
  const pool = new Piscina({
    filename: WORKER_FILE,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 2 ** 31 - 1,
    concurrentTasksPerWorker: 1,
    atomics: 'disabled',
  });
  // An idle piscina worker that dies reports on the pool: its thread's exit names it.
  pool.on('error', () => undefined);
  return { pool, ...startLoops(pool, net, rollout, placement, arena, setup) };
}

/**
 * Starts the frame loops on a pool's threads (again, after their loops ended: a runtime that
 * grew onto a new arena restarts them there).
 */
export function startLoops(pool: Piscina, net: Network, rollout: Rollout, placement: Placement, arena: Arena, setup: LoopSetup): Omit<StartedWorkers, 'pool'> {
  const { backend, spin, backendModule } = setup;
  if (setup.helper && placement.workers !== 1) throw new Error('startLoops: a stream helper needs a one-worker placement');
  const owner = counterOwners(net, rollout.delays, placement);
  const groups = setup.helper ? [placement.nodesOf[0], placement.nodesOf[0]] : placement.nodesOf;
  const loops = groups.map((nodes, w): FrameLoopTask => {
    // nodesOf is already in frame order.
    return {
      spec: net.spec,
      delays: rollout.delays,
      plan: arena.plan,
      memory: arena.memory,
      backend,
      ...(backendModule === undefined ? {} : { backendModule }),
      worker: w,
      nodes,
      owner,
      // The helper converts the inputs of the entries it claims, like the lead.
      converts: net.inputs.filter((v) => owner[v] === (setup.helper ? 0 : w)),
      spin,
      ...(setup.helper ? { lane: w === 0 ? 'lead' : 'helper' } : {}),
    };
  });
  const resolvers: ((end: FrameLoopEnd) => void)[] = [];
  const ended = loops.map(() => new Promise<FrameLoopEnd>((resolve) => resolvers.push(resolve)));
  const settle = (end: FrameLoopEnd): void => resolvers[end.worker](end);
  const onMessage = (message: unknown): void => {
    if (typeof message === 'object' && message !== null && FRAME_LOOP_END in message) settle((message as Record<typeof FRAME_LOOP_END, FrameLoopEnd>)[FRAME_LOOP_END]);
  };
  pool.on('message', onMessage);
  // These loops' ends are this listener's business only until all have ended.
  void Promise.all(ended).then(() => pool.off('message', onMessage));
  loops.forEach((task, w) => {
    (pool.run(task) as Promise<FrameLoopStarted>).then(
      (started) => {
        const thread = pool.threads.find((t) => t.threadId === started.threadId);
        const onExit = (code: number): void => settle({ worker: w, lastFrame: -1, error: { name: 'Error', message: `its thread exited (code ${code})` } });
        thread?.once('exit', onExit);
        void ended[w].then(() => thread?.off('exit', onExit));
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        settle({ worker: w, lastFrame: -1, error: { name: e.name, message: e.message } });
      },
    );
  });
  return { loops, ended };
}
