// What the live view shows, gathered on the runtime's thread: node states read from the arena,
// per-worker timing from the control lines, and the real-time loop's statuses. One update is
// built per refresh and shared by every page watching; nothing here runs when nobody watches.
import type { Runtime } from '../engine/runtime.js';
import type { LoopControl } from '../engine/loop-control.js';
import type { LoopDetail, RealtimeSummary } from '../engine/realtime.js';
import { defaultWindow } from '../rollout/analyze.js';
import { outputResponses } from '../rollout/response.js';
import { inferenceFactor } from '../rollout/tableau.js';
import { readStates, type DecimateOptions, type StateSnapshot } from './state-snapshot.js';

/** One worker's share of a frame over the last refresh (mean µs per frame). */
export interface WorkerTiming {
  readonly nodes: readonly string[];
  readonly frames: number;
  readonly computeUs: number;
  readonly waitUs: number;
}

/** The loop's figures in an update (absent while no real-time loop reports). */
export interface LoopView extends RealtimeSummary {
  /** Ticks per latency bucket since the loop started: bucket b covers [2^(b/4), 2^((b+1)/4)) µs. */
  readonly latencyBuckets: readonly number[];
  readonly paused: boolean;
  /** Frames computed per second over the last second. */
  readonly fps: number;
}

/** A point of the history: one per second. */
export interface HistoryPoint {
  /** Seconds since the view started. */
  readonly t: number;
  readonly fps: number;
  /** Accuracy over that second's labelled ticks (null without labels). */
  readonly accuracy: number | null;
  readonly p99Us: number;
}

/** One `data:` line of `GET /events`. */
export interface UiUpdate {
  readonly type: 'update';
  readonly seq: number;
  /** ms since the view started. */
  readonly time: number;
  /** The states of the latest finished frame; null when none could be read this refresh. */
  readonly states: StateSnapshot | null;
  readonly workers: readonly WorkerTiming[];
  readonly loop: LoopView | null;
  readonly control: { readonly available: boolean; readonly paused: boolean; readonly rateHz: number | null };
  /** The newest history point, when one was added since the last update. */
  readonly history?: HistoryPoint;
}

/** `GET /state`: the network, the rollout and the latest update with its history. */
export interface UiState {
  readonly network: {
    readonly name: string;
    readonly nodes: readonly { readonly name: string; readonly shape: readonly number[]; readonly isInput: boolean; readonly isOutput: boolean; readonly worker: number }[];
  };
  readonly rollout: { readonly inferenceFactor: number; readonly window: number; readonly firstResponseFrame: number | null };
  readonly backend: string;
  readonly workers: number;
  readonly refreshHz: number;
  readonly update: UiUpdate;
  readonly history: readonly HistoryPoint[];
}

/** Most history kept (ten minutes). */
const HISTORY = 600;

export class LiveView {
  readonly #rt: Runtime;
  readonly #control: LoopControl | undefined;
  readonly #decimate: DecimateOptions;
  readonly refreshHz: number;
  readonly #t0 = performance.now();
  #seq = 0;
  #loop: { summary: RealtimeSummary; detail: LoopDetail } | undefined;
  #workerTotals: { frames: number; compute: number; wait: number }[] = [];
  #workers: WorkerTiming[] = [];
  readonly #history: HistoryPoint[] = [];
  #mark: { t: number; ticks: number; labelled: number; correct: number } | undefined;
  #fps = 0;
  #pending: HistoryPoint | undefined;
  #last: UiUpdate | undefined;

  constructor(rt: Runtime, options: { control?: LoopControl; refreshHz: number; decimate?: DecimateOptions }) {
    this.#rt = rt;
    this.#control = options.control;
    this.refreshHz = options.refreshHz;
    this.#decimate = options.decimate ?? {};
  }

  /** Feeds a real-time loop's status (give it to `runRealtime`'s `onStatus`). */
  status(summary: RealtimeSummary, detail: LoopDetail): void {
    this.#loop = { summary, detail };
    const t = (performance.now() - this.#t0) / 1000;
    const mark = this.#mark;
    if (mark === undefined || summary.ticks < mark.ticks) {
      this.#mark = { t, ticks: summary.ticks, labelled: detail.labelled, correct: detail.correct };
      return;
    }
    if (t - mark.t < 1) return;
    const labelled = detail.labelled - mark.labelled;
    this.#fps = (summary.ticks - mark.ticks) / (t - mark.t);
    const point: HistoryPoint = {
      t: Number(t.toFixed(2)),
      fps: Number(this.#fps.toFixed(1)),
      accuracy: labelled === 0 ? null : (detail.correct - mark.correct) / labelled,
      p99Us: summary.latencyUs.p99,
    };
    this.#history.push(point);
    if (this.#history.length > HISTORY) this.#history.shift();
    this.#pending = point;
    this.#mark = { t, ticks: summary.ticks, labelled: detail.labelled, correct: detail.correct };
  }

  /** Per worker, the mean compute and wait time per frame since the last call. */
  #timing(): WorkerTiming[] {
    const now = this.#rt.stats().perWorker;
    const out = now.map((w, i) => {
      const total = { frames: w.frames, compute: w.computeUs * w.frames, wait: w.waitUs * w.frames };
      const before = this.#workerTotals[i];
      const frames = before === undefined ? total.frames : total.frames - before.frames;
      if (frames <= 0) return this.#workers[i] ?? { nodes: w.nodes, frames: 0, computeUs: 0, waitUs: 0 };
      const compute = before === undefined ? total.compute : total.compute - before.compute;
      const wait = before === undefined ? total.wait : total.wait - before.wait;
      this.#workerTotals[i] = total;
      return { nodes: w.nodes, frames, computeUs: Number((compute / frames).toFixed(1)), waitUs: Number((wait / frames).toFixed(1)) };
    });
    this.#workers = out;
    return out;
  }

  /** Builds the next update: reads the states and timing now. */
  update(): UiUpdate {
    const rt = this.#rt;
    const states = readStates(rt.network, rt.arena, rt.backend.layout, this.#decimate);
    const loop = this.#loop;
    const control = this.#control?.state;
    const history = this.#pending;
    this.#pending = undefined;
    const update: UiUpdate = {
      type: 'update',
      seq: ++this.#seq,
      time: Math.round(performance.now() - this.#t0),
      // A refresh that could not read a consistent frame shows the previous one.
      states: states ?? this.#last?.states ?? null,
      workers: this.#timing(),
      loop: loop === undefined ? null : { ...loop.summary, latencyBuckets: loop.detail.latencyBuckets, paused: loop.detail.paused, fps: Number(this.#fps.toFixed(1)) },
      control: { available: control?.attached === true, paused: control?.paused ?? false, rateHz: control?.rateHz ?? loop?.detail.rateHz ?? null },
      ...(history === undefined ? {} : { history }),
    };
    this.#last = update;
    return update;
  }

  /** The whole picture for a page that just opened (builds a fresh update when none is recent). */
  state(): UiState {
    const rt = this.#rt;
    const net = rt.network;
    const delays = rt.rollout.delays;
    const firsts = [...outputResponses(net, delays, inferenceFactor(net, delays)).values()].map((r) => r.firstResponseFrame);
    const update = this.#last !== undefined && performance.now() - this.#t0 - this.#last.time < 1000 / this.refreshHz + 50 ? this.#last : this.update();
    return {
      network: {
        name: net.name,
        nodes: net.nodes.map((n) => ({ name: n.name, shape: [...n.shape], isInput: n.isInput, isOutput: net.outputs.includes(n.index), worker: rt.placement.owner[n.index] })),
      },
      rollout: { inferenceFactor: inferenceFactor(net, delays), window: defaultWindow(net, delays), firstResponseFrame: firsts.length === 0 ? null : Math.max(...firsts) },
      backend: rt.backend.describe(),
      workers: rt.placement.workers,
      refreshHz: this.refreshHz,
      update,
      history: [...this.#history],
    };
  }
}
