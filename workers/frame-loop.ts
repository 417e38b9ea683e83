// The per-worker frame loop: one long-lived piscina task per worker, the counterpart of the
// driver (src/engine/frame-driver.ts). Workers do not meet at a global barrier: before
// computing frame k of a node, a worker waits only for what that node needs from other
// workers (see FrameLoop). Between frames it waits for the next published one (FrameWaiter:
// spinning, sleeping, or sleeping until a clocked frame is due), or parks while the
// real-time loop's thread computes its share.
import { parentPort, threadId } from 'node:worker_threads';
import { LANE_FRONTIER, PARKED, READY } from '../src/engine/control.js';
import { FrameLoop } from '../src/engine/frame-loop.js';
import { FRAME_LOOP_END, type FrameLoopEnd, type FrameLoopStarted, type FrameLoopTask } from '../src/engine/frame-loop-task.js';
import { FrameWaiter, park } from '../src/engine/sync.js';
import { idleThisThread } from '../src/kernels/native/index.js';

export default async function frameLoop(task: FrameLoopTask): Promise<FrameLoopStarted> {
  if (task.backendModule !== undefined) await import(task.backendModule);
  const loop = new FrameLoop(task);
  // The loop starts once this task has answered, so piscina sees an idle worker (its port no
  // longer keeps the process alive); it reports its end on the parent port.
  setImmediate(() => parentPort?.postMessage({ [FRAME_LOOP_END]: run(task, loop) }));
  return { worker: task.worker, threadId };
}

function run(task: FrameLoopTask, loop: FrameLoop): FrameLoopEnd {
  const ctrl = loop.ctrl;
  let k = 0;
  try {
    const frames = new FrameWaiter(ctrl, task.spin, task.worker);
    k = loop.nextFrame();
    // A helper that cannot run below everyone else would take CPU from the main thread: it
    // reports ready and stays out (the lead then computes every entry).
    const lanes = loop.lanes;
    // It also claims nothing while other threads want every core (see StreamLanes.watchLoad).
    const helping = lanes?.role !== 'helper' || (idleThisThread() && lanes.watchLoad());
    Atomics.add(ctrl, READY, 1);
    Atomics.notify(ctrl, READY);
    if (lanes !== undefined) {
      try {
        while (helping && lanes.serve(frames) === 'park') park(ctrl, PARKED, task.worker);
      } finally {
        lanes.close();
      }
      return { worker: task.worker, lastFrame: Atomics.load(ctrl, LANE_FRONTIER) };
    }
    for (;;) {
      const t0 = performance.now();
      const got = frames.wait(k);
      if (got === 'stop') break;
      if (got === 'park') {
        park(ctrl, PARKED, task.worker);
        // The driver computed this worker's nodes meanwhile; go on after its last frame.
        k = loop.nextFrame();
        continue;
      }
      if (!loop.computeFrame(k, performance.now() - t0)) break;
      k++;
    }
    return { worker: task.worker, lastFrame: k - 1 };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return { worker: task.worker, lastFrame: k - 1, error: { name: e.name, message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) } };
  }
}
