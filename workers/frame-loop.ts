// The per-worker frame loop: one long-lived piscina task per worker, the counterpart of the
// driver (src/engine/frame-driver.ts). Workers do not meet at a global barrier: before
// computing frame k of a node, a worker waits only for what that node needs from other
// workers (see FrameLoop). Between frames it waits for the next published one (FrameWaiter:
// spinning, sleeping, or sleeping until a clocked frame is due), or parks while the
// real-time loop's thread computes its share.
import { PARKED, READY } from '../src/engine/control.js';
import { FrameLoop } from '../src/engine/frame-loop.js';
import type { FrameLoopResult, FrameLoopTask } from '../src/engine/frame-loop-task.js';
import { FrameWaiter, park } from '../src/engine/sync.js';

export default async function frameLoop(task: FrameLoopTask): Promise<FrameLoopResult> {
  if (task.backendModule !== undefined) await import(task.backendModule);
  const loop = new FrameLoop(task);
  const ctrl = loop.ctrl;
  const frames = new FrameWaiter(ctrl, task.spin, task.worker);
  let k = loop.nextFrame();
  Atomics.add(ctrl, READY, 1);
  Atomics.notify(ctrl, READY);
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
}
