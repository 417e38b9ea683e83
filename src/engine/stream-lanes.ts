// Stream lanes: two threads sharing the streams of each engine frame, for a network whose
// placement puts every computed node on one worker. That worker (the lead) and a helper
// thread each claim entries of published engine frames (an entry is one stream's frame) and
// compute all nodes for what they claimed. The helper runs in Linux's SCHED_IDLE class, so it
// only takes CPU time no other thread wants (on two cores: what the main thread does not use
// of its core) and gives its core up the moment another thread wakes. It claims four entries
// from the back of a frame that has more than four free, the lead up to eight from the front:
// a frame the lead reaches first goes out as one batch, as without a helper, and a helper
// that the scheduler pauses holds up four streams, not the frame (the lead runs ahead on the
// others).
//
// A stream's frames stay in order: an entry may be claimed only once the stream's previous
// frame is done (its engine frame is in the entry, the lane that finished it says so in the
// arena's laneDone). An engine frame is complete when all of its entries are; the frontier
// (the latest engine frame complete with all before it) is what the node counters show, so
// the driver's protocol is unchanged. Each entry's arithmetic is what the lone worker would
// do (batched kernels give the same bits as one stream at a time), so outputs do not depend
// on which lane computed what.
import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { BATCH_WORDS, ENTRY_CLAIM, ENTRY_PREVIOUS } from './arena.js';
import { LANE_FRONTIER, LANE_PROGRESS, PARK, PUBLISHED, STOP, nodeTick, streamOf, wakeDriverIfAsked, workerLine, workerTiming } from './control.js';
import type { FrameLoop } from './frame-loop.js';
import { MAX_SPIN_MS, type FrameWaiter } from './sync.js';

/** Which of the two lanes a thread is. */
export type LaneRole = 'lead' | 'helper';

/**
 * Entries the lead claims at once, and the helper: a chunk is one call of each node's batched
 * kernel (weights read once for four streams), and the calls' fixed costs are paid per chunk
 * (in A/B runs of mnist-sr at 8 sessions the lead at chunks of 4 without a helper ran ~12%
 * slower than at 8; with a helper at chunks of 4, lead 8 and lead 4 ran alike, and helper
 * chunks of 1 or 2 gained less than 4).
 */
const LEAD_CHUNK = 8;
const HELPER_CHUNK = 4;
/** How long an idle helper naps between looks (ms): nobody wakes it, so it polls. */
const HELPER_NAP_MS = 1;
/** A helper that computed something this recently (ms) spins for more instead of napping. */
const HELPER_BUSY_MS = 2;
/** How long a lead waiting on the helper's entries sleeps between looks (ms). */
const LEAD_NAP_MS = 0.05;
/** How often a helper watching the machine's load looks at it (ms); a look costs ~1.3 µs here. */
const LOAD_LOOK_MS = 0.25;

/**
 * The count of runnable threads in the first `length` bytes of /proc/loadavg ("0.77 1.67
 * 2.41 2/86 1243": the number after the third space), without making a string.
 */
export function runnableThreads(text: Uint8Array, length: number): number {
  let i = 0;
  for (let spaces = 0; i < length && spaces < 3; i++) if (text[i] === 32) spaces++;
  let running = 0;
  for (; i < length && text[i] >= 48 && text[i] <= 57; i++) running = running * 10 + text[i] - 48;
  return running;
}

/**
 * Whether the machine has more threads runnable than cores besides the helper itself, from
 * /proc/loadavg's count of runnable threads. A helper claims nothing then: in Linux's SCHED_IDLE
 * class it would be paused for as long as the others run, holding the streams it claimed
 * (a profiling script with two busy processes on this VM's two cores saw a helper hold its
 * streams for 250-280 ms, and the sessions run at 0.6-0.7x the runtime without it).
 */
class LoadWatch {
  readonly #fd: number;
  readonly #buffer = Buffer.alloc(128);
  readonly #cores = availableParallelism();
  #next = 0;
  #busy = false;

  constructor() {
    this.#fd = openSync('/proc/loadavg', 'r');
  }

  /** Whether more threads besides this one are runnable than there are cores, as of at most LOAD_LOOK_MS ago. */
  busy(now: number): boolean {
    if (now < this.#next) return this.#busy;
    this.#next = now + LOAD_LOOK_MS;
    const running = runnableThreads(this.#buffer, readSync(this.#fd, this.#buffer, 0, this.#buffer.length, 0));
    // Besides this thread itself: the main thread and the lead being runnable too is the
    // ordinary case (the main thread takes the core back at once when it wakes).
    this.#busy = running - 1 > this.#cores;
    return this.#busy;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Entries of engine frame k's batch that a lane claimed (see StreamLanes.take). */
export interface LaneChunk {
  readonly k: number;
  readonly batch: Int32Array;
  readonly entries: readonly number[];
}

/** The part of a worker's frame loop a lane drives. */
type LaneLoop = Pick<FrameLoop, 'arena' | 'ctrl' | 'task' | 'computeEntries'>;

export class StreamLanes {
  readonly #loop: LaneLoop;
  readonly role: LaneRole;
  /** Counters the frontier moves: every node the lead's worker computes or converts. */
  readonly #counters: readonly number[];
  readonly #picked: number[] = [];
  /** This thread's statistics line: entries computed, then compute and wait µs. */
  readonly #stats: number;
  readonly #timing: Float64Array;
  /** A word of this thread's own line that nobody notifies: the helper naps on it. */
  readonly #napWord: number;
  #entries = 0;
  #lastWork = -Infinity;
  /** The helper's look at the machine's load, when it watches it (see {@link watchLoad}). */
  #load: LoadWatch | undefined;

  constructor(loop: LaneLoop, role: LaneRole) {
    this.#loop = loop;
    this.role = role;
    const { task } = loop;
    this.#counters = [...task.converts, ...task.nodes];
    const nodes = loop.arena.plan.states.length;
    this.#stats = workerLine(nodes, task.worker);
    this.#timing = workerTiming(loop.ctrl, nodes, task.worker);
    this.#napWord = this.#stats + 1;
  }

  /**
   * Claims and computes one chunk (see {@link take}); returns how many entries it computed,
   * 0 when nothing is claimable now. Throws when a node fails (the engine is stopped first).
   */
  step(): number {
    const k = this.#claimChunk();
    if (k === 0) return 0;
    this.#compute(k, this.#loop.arena.batch(k), this.#picked);
    return this.#picked.length;
  }

  /**
   * Claims entries of the oldest published engine frame that has some this lane may take
   * (the lead up to {@link LEAD_CHUNK} in order; the helper {@link HELPER_CHUNK} from the back
   * of a frame with more entries than that and that many free), or returns null. Entries
   * claimed must be computed with {@link run}: nobody else will. (The lane's own loop claims
   * through {@link step}, which keeps no chunk beyond its call.)
   */
  take(): LaneChunk | null {
    const k = this.#claimChunk();
    return k === 0 ? null : { k, batch: this.#loop.arena.batch(k), entries: [...this.#picked] };
  }

  /** Computes a chunk this lane took, marks its entries done and moves the frontier. */
  run(chunk: LaneChunk): void {
    this.#compute(chunk.k, chunk.batch, chunk.entries);
  }

  /** Claims a chunk (see {@link take}) into #picked; returns its engine frame, 0 for none. */
  #claimChunk(): number {
    if (this.#load?.busy(performance.now()) === true) return 0;
    const { ctrl, arena } = this.#loop;
    const published = Atomics.load(ctrl, PUBLISHED);
    const frontier = Atomics.load(ctrl, LANE_FRONTIER);
    const picked = this.#picked;
    for (let k = frontier + 1; k <= published; k++) {
      const batch = arena.batch(k);
      const n = batch[0];
      picked.length = 0;
      if (this.role === 'lead') {
        for (let b = 0; b < n && picked.length < LEAD_CHUNK; b++) if (this.#claim(batch, b, k, frontier)) picked.push(b);
      } else {
        let free = 0;
        for (let b = 0; b < n; b++) if (Atomics.load(batch, 1 + BATCH_WORDS * b + ENTRY_CLAIM) === k) free++;
        // Only from frames with more entries than a chunk: the lead always has some of every
        // frame, so a helper the scheduler pauses never holds a whole frame.
        if (n <= HELPER_CHUNK || free < HELPER_CHUNK) continue;
        for (let b = n - 1; b >= 0 && picked.length < HELPER_CHUNK; b--) if (this.#claim(batch, b, k, frontier)) picked.push(b);
      }
      if (picked.length > 0) return k;
    }
    return 0;
  }

  #compute(k: number, batch: Int32Array, entries: readonly number[]): void {
    const t0 = performance.now();
    this.#loop.computeEntries(batch, entries);
    this.#finish(batch, entries, k);
    this.#lastWork = performance.now();
    this.#timing[0] += (this.#lastWork - t0) * 1000;
  }

  /**
   * Makes the helper claim nothing while the machine has more threads runnable than cores
   * besides it (see LoadWatch); its worker thread calls this, and {@link close} at the end. Where the
   * load cannot be read, the helper stays out altogether.
   */
  watchLoad(): boolean {
    try {
      this.#load ??= new LoadWatch();
      return true;
    } catch {
      return false;
    }
  }

  /** Lets go of what {@link watchLoad} opened. */
  close(): void {
    this.#load?.close();
    this.#load = undefined;
  }

  /**
   * Entry b of engine frame k, if it is still free and its stream's previous frame is done:
   * claimed by negating its claim word. The slot cannot be reused for a later engine frame
   * while one of its entries is unclaimed, so a successful claim is of frame k's entry.
   */
  #claim(batch: Int32Array, b: number, k: number, frontier: number): boolean {
    const at = 1 + BATCH_WORDS * b;
    if (Atomics.load(batch, at + ENTRY_CLAIM) !== k) return false;
    const previous = batch[at + ENTRY_PREVIOUS];
    if (previous > frontier && Atomics.load(this.#loop.arena.laneDone, streamOf(batch[at])) < previous) return false;
    return Atomics.compareExchange(batch, at + ENTRY_CLAIM, k, -k) === k;
  }

  /** Marks computed entries done (their streams may go on) and moves the frontier as far as it can. */
  #finish(batch: Int32Array, picked: readonly number[], k: number): void {
    const { ctrl, arena } = this.#loop;
    for (const b of picked) Atomics.store(arena.laneDone, streamOf(batch[1 + BATCH_WORDS * b]), k);
    Atomics.add(batch, batch.length - 1, picked.length);
    this.#entries += picked.length;
    Atomics.store(ctrl, this.#stats, this.#entries);
    this.#advance();
    Atomics.add(ctrl, LANE_PROGRESS, 1);
    Atomics.notify(ctrl, LANE_PROGRESS);
  }

  /** Moves the frontier over every engine frame whose entries are all done, raising the node counters with it. */
  #advance(): void {
    const { ctrl, arena } = this.#loop;
    for (;;) {
      const frontier = Atomics.load(ctrl, LANE_FRONTIER);
      const next = frontier + 1;
      if (next > Atomics.load(ctrl, PUBLISHED)) return;
      const batch = arena.batch(next);
      if (Atomics.load(batch, batch.length - 1) !== batch[0]) return;
      if (Atomics.compareExchange(ctrl, LANE_FRONTIER, frontier, next) !== frontier) continue;
      for (const v of this.#counters) {
        // The other lane may have moved it further meanwhile: counters only go up.
        const index = nodeTick(v);
        for (let seen = Atomics.load(ctrl, index); seen < next; ) {
          const was = Atomics.compareExchange(ctrl, index, seen, next);
          if (was === seen) break;
          seen = was;
        }
        Atomics.notify(ctrl, index);
        wakeDriverIfAsked(ctrl, v, next);
      }
    }
  }

  /**
   * Computes until engine frame k (published) is complete, the other lane's entries
   * included: what a thread that took over the lead's share (see lent-engine.ts) does
   * after each publish. False when the engine was asked to stop.
   */
  complete(k: number): boolean {
    const ctrl = this.#loop.ctrl;
    while (Atomics.load(ctrl, LANE_FRONTIER) < k) {
      if (Atomics.load(ctrl, STOP) !== 0) return false;
      if (this.step() === 0) this.#awaitOther();
    }
    return true;
  }

  /**
   * The lane's own loop on its worker thread: claims and computes entries as frames are
   * published until the engine stops ('stop') or, for the lead, the driver asks it to park
   * ('park'). The lead waits for frames like any worker (`frames`); the helper spins only
   * while it has been finding work, and otherwise naps.
   */
  serve(frames: FrameWaiter): 'stop' | 'park' {
    const { ctrl } = this.#loop;
    const me = this.#loop.task.worker + 1;
    for (;;) {
      if (Atomics.load(ctrl, STOP) !== 0) return 'stop';
      if (this.role === 'lead' && Atomics.load(ctrl, PARK) === me) return 'park';
      if (this.step() > 0) continue;
      const t0 = performance.now();
      const published = Atomics.load(ctrl, PUBLISHED);
      if (this.role === 'helper') this.#idle(published);
      else if (published > Atomics.load(ctrl, LANE_FRONTIER)) this.#awaitOther();
      else {
        const got = frames.wait(published + 1);
        if (got !== 'frame') return got;
      }
      this.#timing[1] += (performance.now() - t0) * 1000;
    }
  }

  /** Blocks briefly until the other lane finishes something or a frame is published. */
  #awaitOther(): void {
    const ctrl = this.#loop.ctrl;
    const progress = Atomics.load(ctrl, LANE_PROGRESS);
    const published = Atomics.load(ctrl, PUBLISHED);
    const until = performance.now() + (this.#loop.task.spin ? MAX_SPIN_MS : 0);
    for (let i = 0; ; i++) {
      if (Atomics.load(ctrl, LANE_PROGRESS) !== progress || Atomics.load(ctrl, PUBLISHED) !== published) return;
      if ((i & 31) === 31 && (Atomics.load(ctrl, STOP) !== 0 || performance.now() >= until)) break;
    }
    // The other lane is paused (descheduled): sleep until it notifies, looking out for new
    // frames now and then (the driver notifies PUBLISHED, not this word).
    Atomics.wait(ctrl, LANE_PROGRESS, progress, LEAD_NAP_MS);
  }

  /** The helper with nothing to claim: spins for more while work has been coming, else naps. */
  #idle(published: number): void {
    const { ctrl, task } = this.#loop;
    const now = performance.now();
    if (task.spin && now - this.#lastWork < HELPER_BUSY_MS) {
      const progress = Atomics.load(ctrl, LANE_PROGRESS);
      const until = now + MAX_SPIN_MS;
      for (let i = 0; ; i++) {
        if (Atomics.load(ctrl, PUBLISHED) !== published || Atomics.load(ctrl, LANE_PROGRESS) !== progress) return;
        if ((i & 31) === 31 && (Atomics.load(ctrl, STOP) !== 0 || performance.now() >= until)) return;
      }
    }
    Atomics.wait(ctrl, this.#napWord, Atomics.load(ctrl, this.#napWord), HELPER_NAP_MS);
  }
}
