// The real-time loop's thread: the clock, the source, the driver of the engine and the sinks
// in one place, off the main thread. Frame j is due at its deadline; the thread sleeps until
// just before it (DeadlineSleeper), writes the frame into the arena, publishes it and waits for
// the outputs; workers, told when the frame is due, are awake for it without a wake-up. The
// main thread only hears a status every `statusMs` and the summary at the end.
import { createHistogram } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { tightenTimerSlack } from '../src/kernels/native/index.js';
import { CLOCKED, sharedNow, paceOf } from '../src/engine/control.js';
import { attachEngine, type AttachedEngine } from '../src/engine/lent-engine.js';
import { InputError } from '../src/io/inputs.js';
import { LATENCY_BUCKETS, OverrunError, latencyBucket, type LoopDetail, type LoopMessage, type RealtimeSummary, type RealtimeLoopTask } from '../src/engine/realtime-task.js';
import { CONTROL_POKE, LoopControlReader } from '../src/engine/loop-control.js';
import { DeadlineSleeper, spinBudget } from '../src/engine/sync.js';
import { encodeMessage } from '../src/io/frame-stream.js';
import { openLoopSink } from '../src/io/loop-sinks.js';
import { openLoopSource, type LoopFrame } from '../src/io/loop-sources.js';
import { StreamrollError } from '../src/util/errors.js';
import { argmax, latencySummary } from '../src/util/stats.js';

/** A streamroll error's code travels with its message, so the main thread rethrows the same kind. */
const codeOf = (e: Error): { code?: StreamrollError['code'] } => (e instanceof StreamrollError ? { code: e.code } : {});

const task = workerData as RealtimeLoopTask;
const post = (m: LoopMessage): void => parentPort?.postMessage(m);

async function loop(engine: AttachedEngine): Promise<void> {
  const { net, ctrl, driver } = engine;
  const source = openLoopSource(task.source, net);
  const sink = task.sink === undefined ? undefined : await openLoopSink(task.sink);
  const record = task.record === undefined ? undefined : await openLoopSink({ kind: 'file', path: task.record });
  const outputNames = net.outputs.map((o) => net.nodes[o].name);
  const inputNames = net.inputs.map((v) => net.nodes[v].name);
  const recorded = task.timing === 'recorded';
  const control = new LoopControlReader(task.control, task.rateHz, recorded);
  let period = 1000 / control.rateHz;
  const histogram = createHistogram();
  const buckets = new Array<number>(LATENCY_BUCKETS).fill(0);
  const labels: (number | undefined)[] = [];
  let ticks = 0;
  let misses = 0;
  let drops = 0;
  let labelled = 0;
  let correct = 0;
  let rejected: string[] = [];
  let rejectedCount = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  const cpuUs = (): number => {
    if (cpu0 === undefined || ticks === 0) return 0;
    const used = process.cpuUsage(cpu0);
    return (used.user + used.system) / ticks;
  };
  const summary = (): RealtimeSummary => ({
    ticks,
    rateHz: recorded ? null : control.rateHz,
    latencyUs: latencySummary(histogram),
    deadlineMisses: misses,
    drops,
    accuracy: labelled === 0 ? null : correct / labelled,
    rejected: rejectedCount,
    cpuUsPerFrame: Number(cpuUs().toFixed(1)),
  });
  const detail = (): LoopDetail => ({ latencyBuckets: buckets.slice(), labelled, correct, rateHz: recorded ? null : control.rateHz, paused: control.paused() });
  const takeRejected = (): string[] => {
    const r = rejected;
    rejected = [];
    return r;
  };
  const reject = (reason: string): void => {
    rejectedCount++;
    if (rejected.length < 100) rejected.push(reason);
  };

  // Deadlines: frame j at base + (j - j0) * period, or at its recorded t after the first
  // one's (+ shift). A pause or a rate change rebases them (base, j0, shift) so that the
  // next frame is due when the loop goes on: time spent paused is neither a miss nor a drop.
  const start = sharedNow() + 5;
  let base = start;
  let j0 = 0;
  let shift = 0;
  let firstT: number | undefined;
  const fixedDue = (j: number): number => base + (j - j0) * period;
  const dueOf = (j: number, t: number | undefined): number => {
    if (!recorded) return fixedDue(j);
    if (t === undefined) throw new StreamrollError('INPUT_INVALID', `frame ${j} has no timestamp "t"; replay it at a fixed rate instead`);
    firstT ??= t;
    return start + shift + (t - firstT);
  };
  const nextDue = (j: number): number => {
    if (!recorded) return fixedDue(j + 1);
    const t = source.peekT();
    return typeof t === 'number' && firstT !== undefined ? start + shift + (t - firstT) : Infinity;
  };
  /** Frame j becomes due at `at` (recorded timing: everything after moves by the same amount). */
  const rebase = (j: number, at: number, recordedDue: number | undefined): void => {
    base = at;
    j0 = j;
    if (recordedDue !== undefined) shift += at - recordedDue;
  };
  const pace = paceOf(ctrl);
  const due = new Float64Array(1);
  const prepare = new Float64Array(1);
  /** How long putting a frame into the arena takes (ms, smoothed): the loop wakes that much earlier. */
  let copyMs = 0.02;
  const sleeper = new DeadlineSleeper();
  sleeper.maxSpinMs = spinBudget(period);
  pace[1] = sleeper.maxSpinMs;
  const stopped = (): boolean => control.stopped();
  const setPeriod = (ms: number): void => {
    period = ms;
    sleeper.maxSpinMs = spinBudget(period);
    pace[1] = sleeper.maxSpinMs;
  };
  /**
   * Applies a rate change and waits out a pause (taking single steps), before frame j. False
   * when the loop was stopped meanwhile.
   */
  const steer = (j: number, t: number | undefined): boolean => {
    const rate = control.newRate();
    if (rate !== undefined && !recorded) {
      const now = sharedNow();
      const due = fixedDue(j);
      setPeriod(1000 / rate);
      rebase(j, Math.max(now, due), undefined);
    }
    if (!control.paused()) return true;
    // Workers sleep while no frame is due (pace at infinity), not spin.
    pace[0] = Infinity;
    let lastPost = performance.now();
    while (control.paused() && !control.takeStep()) {
      if (control.stopped()) return false;
      control.waitForChange(50);
      // The rate may change while paused, too.
      const changed = control.newRate();
      if (changed !== undefined && !recorded) setPeriod(1000 / changed);
      if (performance.now() - lastPost >= task.statusMs) {
        lastPost = performance.now();
        post({ type: 'status', summary: summary(), rejected: takeRejected(), detail: detail() });
      }
    }
    const at = sharedNow() + copyMs + 0.05;
    rebase(j, at, recorded && t !== undefined && firstT !== undefined ? start + shift + (t - firstT) : undefined);
    return true;
  };
  let lastStatus = performance.now();

  // process.cpuUsage counts every thread of the process: workers, this loop, the main thread.
  cpu0 = process.cpuUsage();
  try {
    Atomics.store(ctrl, CLOCKED, 1);
    let j = 0;
    let frame: LoopFrame | null | undefined = source.next();
    while (!stopped() && (task.ticks === undefined || j < task.ticks)) {
      for (const r of source.rejected.splice(0)) reject(r);
      if (frame === null) break;
      if (!steer(j, frame?.t)) break;
      if (frame === undefined) {
        // Nothing pushed yet: look again at the next deadline.
        due[0] = fixedDue(j);
        // Pokes (pause, rate, stop) wake the sleep: look at them first.
        if (!sleeper.sleepUntil(task.control, CONTROL_POKE, control.pokes, due)) continue;
        frame = source.next();
        if (frame === undefined) j++;
        continue;
      }
      due[0] = dueOf(j, frame.t);
      pace[0] = due[0];
      // Wake in time to put the frame into the arena before it is due, then publish it at the
      // due time itself: workers woken for that moment find it there.
      prepare[0] = due[0] - copyMs - 0.005;
      if (!sleeper.sleepUntil(task.control, CONTROL_POKE, control.pokes, prepare)) continue;
      // The loop drives the runtime's own stream (0), one frame per engine frame.
      const k = driver.engineFrame + 1;
      const f = driver.frameOf(0) + 1;
      // Frames are computed one at a time here, so the ring slot is free unless a node lags.
      if (
        driver.completed() < k - driver.queue &&
        !driver.nodesDoneSync(
          net.nodes.filter((n) => !n.isInput).map((n) => n.index),
          k - driver.queue,
          0,
        )
      )
        break;
      const c0 = performance.now();
      try {
        driver.writeInputs(frame.arrays, 0, f);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        reject(err.message);
        frame.taken();
        frame = source.next();
        j++;
        continue;
      }
      // A ring frame a sensor overwrote while it was copied: take the next one instead.
      if (!frame.taken()) {
        frame = source.next();
        continue;
      }
      // Follow the slowest recent copies (a cold copy after a long sleep is the one that matters).
      copyMs = Math.max(0.95 * copyMs, performance.now() - c0);
      while (sharedNow() < due[0]) if (control.stopped()) break;
      // Workers finishing this frame read when the next one is due: say it before they can.
      pace[0] = nextDue(j);
      if (engine.step(0) !== k) break;
      if (!driver.nodesDoneSync(net.outputs, k, task.engine.outputSpinMs)) break;
      const latencyMs = sharedNow() - due[0];
      histogram.record(Math.max(1, Math.round(latencyMs * 1e6)));
      buckets[latencyBucket(latencyMs * 1000)]++;
      if (latencyMs > period) misses++;
      ticks++;
      const tick = driver.tickOf(0, f);
      labels.push(frame.label);
      const label = labels.length > task.labelDelay ? labels[labels.length - 1 - task.labelDelay] : undefined;
      if (labels.length > task.labelDelay + 1) labels.shift();
      if (label !== undefined) {
        labelled++;
        if (argmax(driver.outputView(0, 0, f)) === label) correct++;
      }
      if (sink !== undefined) {
        const outputs: Record<string, Float32Array> = {};
        outputNames.forEach((name, o) => (outputs[name] = driver.outputView(o, 0, f)));
        sink.write(encodeMessage({ t: tick, tick, outputs }));
      }
      if (record !== undefined) {
        // What the engine was given, so a replay computes exactly the same ticks; t: when the
        // frame was due, in ms from the first, so `--rate recorded` replays the timing.
        const inputs: Record<string, Float32Array> = {};
        const views = driver.inputsOf(0, f);
        inputNames.forEach((name, i) => (inputs[name] = views[i]));
        record.write(encodeMessage({ t: Number((due[0] - start).toFixed(3)), inputs, ...(frame.label === undefined ? {} : { label: frame.label }) }));
      }
      // The next frame, made or read now that this one is done (not counted as latency).
      frame = source.next();
      j++;
      const now = sharedNow();
      if (task.overrun === 'queue') {
        // Only a source that arrives by itself can pile up; a recording is read on demand.
        if (!recorded && task.source.kind !== 'replay' && now >= fixedDue(j + task.queueLimit)) {
          throw new OverrunError(`input queue full: ${task.queueLimit + 1} frames waiting (limit ${task.queueLimit}); the network cannot keep up with ${control.rateHz} Hz`);
        }
      } else {
        // drop / latest: a frame is stale once a newer one has arrived (the next deadline has
        // passed, or a ring holds a newer frame); skip to the newest arrived.
        for (;;) {
          if (frame === null || frame === undefined) break;
          const newer = source.newerWaiting();
          if (newer === undefined ? nextDue(j) > now || (task.ticks !== undefined && j + 1 >= task.ticks) : !newer) break;
          drops++;
          frame.taken();
          frame = source.next();
          // Frames of a clocked source each have their deadline; a ring's do not.
          if (newer === undefined) j++;
        }
      }
      if (performance.now() - lastStatus >= task.statusMs) {
        lastStatus = performance.now();
        post({ type: 'status', summary: summary(), rejected: takeRejected(), detail: detail() });
      }
      // Socket writes leave only while this thread's event loop turns.
      if (sink?.needsTurns === true) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (const r of source.rejected.splice(0)) reject(r);
    if (driver.stopped()) throw new Error('the engine stopped');
    post({ type: 'done', summary: summary(), rejected: takeRejected(), detail: detail() });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ type: 'failed', name: e.name, ...codeOf(e), message: e.message, summary: summary(), rejected: takeRejected(), detail: detail() });
  } finally {
    Atomics.store(ctrl, CLOCKED, 0);
    control.detach();
    source.close();
    await sink?.close();
    await record?.close();
  }
}

tightenTimerSlack();
const engine = await attachEngine(task.engine);
try {
  await loop(engine);
} catch (err) {
  // Opening the source or a sink failed: nothing ran.
  const e = err instanceof Error ? err : new Error(String(err));
  const none = { ticks: 0, rateHz: task.rateHz, latencyUs: { p50: 0, p99: 0, p999: 0, max: 0 }, deadlineMisses: 0, drops: 0, accuracy: null, rejected: 0, cpuUsPerFrame: 0 };
  const detail = { latencyBuckets: [], labelled: 0, correct: 0, rateHz: task.rateHz, paused: false };
  post({ type: 'failed', name: e.name, ...codeOf(e), message: e.message, summary: none, rejected: [], detail });
} finally {
  engine.release();
}
