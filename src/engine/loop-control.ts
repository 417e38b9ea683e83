// Pause, resume, single-step and rate changes of a running real-time loop. The loop's thread
// reads these words between frames (it never waits on this thread); the words live in shared
// memory so that a page, a signal handler or a service can steer the loop without a message.
import { StreamrollError } from '../util/errors.js';

/** Word 0: 1 asks the loop to stop after the frame in hand (see realtime-task's LOOP_STOP). */
const STOP = 0;
/** Word 1: 1 while paused. */
const PAUSED = 1;
/** Word 2: single steps asked for (a counter; the loop takes one frame per increment while paused). */
const STEPS = 2;
/** Word 3: bumped on every rate change, so the loop rebases its deadlines once per change. */
const RATE_GEN = 3;
/** Word 4: 1 while a loop is attached; word 5: 1 when its timing is recorded (no rate to change). */
const ATTACHED = 4;
const RECORDED = 5;
/** Word 6: bumped (and notified) on every change, stop included: the loop sleeps on it. */
const POKE = 6;
/** Float64 at byte 32 (words 8-9): the rate asked for (Hz). */
const RATE_AT = 4;

/** What {@link LoopControl.state} reports. */
export interface LoopControlState {
  /** A real-time loop is running under this control. */
  readonly attached: boolean;
  readonly paused: boolean;
  /** The rate frames are due at (Hz); null for recorded timing or before a loop attached. */
  readonly rateHz: number | null;
}

/**
 * Steers a real-time loop while it runs: give the same control to `runRealtime({control})`
 * (and to `serveUi`, whose page has buttons for it). A pause holds the clock: no frame is due
 * until `resume()` (or one per `step()`), and deadlines restart from the moment the loop goes
 * on, so a pause is not counted as misses or drops. A rate change takes effect at the next
 * frame. One control steers one loop at a time.
 *
 * @example
 * const control = new LoopControl();
 * const done = runRealtime(rt, { camera: { seed: 1 } }, { rateHz: 100, control });
 * control.pause();
 * control.step(); // exactly one frame
 * control.setRate(30);
 * control.resume();
 */
export class LoopControl {
  /** The shared words (the loop's control block). @internal */
  readonly words: Int32Array;
  readonly #rate: Float64Array;

  constructor() {
    const buffer = new SharedArrayBuffer(64);
    this.words = new Int32Array(buffer);
    this.#rate = new Float64Array(buffer, 8 * RATE_AT, 1);
  }

  /** Holds the clock after the frame in hand. */
  pause(): void {
    Atomics.store(this.words, PAUSED, 1);
    poke(this.words);
  }

  /** Lets the clock go on; the next frame is due at once. */
  resume(): void {
    Atomics.store(this.words, PAUSED, 0);
    poke(this.words);
  }

  /** While paused: computes one more frame, due now. Ignored while running. */
  step(): void {
    if (Atomics.load(this.words, PAUSED) === 0) return;
    Atomics.add(this.words, STEPS, 1);
    poke(this.words);
  }

  /**
   * Frames are due at `hz` from the next one on.
   * @throws StreamrollError OPTION_INVALID for a rate outside (0, 100000] Hz or a loop replaying recorded timing
   */
  setRate(hz: number): void {
    if (!(hz > 0 && hz <= 100_000)) throw new StreamrollError('OPTION_INVALID', `rate must be a number of Hz in (0, 100000], got ${hz}`);
    if (Atomics.load(this.words, RECORDED) === 1) throw new StreamrollError('OPTION_INVALID', 'this loop replays recorded timing: it has no rate to change');
    this.#rate[0] = hz;
    Atomics.add(this.words, RATE_GEN, 1);
    poke(this.words);
  }

  /** Whether a loop runs under this control, paused or not, and at what rate. */
  get state(): LoopControlState {
    const attached = Atomics.load(this.words, ATTACHED) === 1;
    const recorded = Atomics.load(this.words, RECORDED) === 1;
    return { attached, paused: Atomics.load(this.words, PAUSED) === 1, rateHz: attached && !recorded ? this.#rate[0] : null };
  }
}

function poke(words: Int32Array): void {
  Atomics.add(words, POKE, 1);
  Atomics.notify(words, POKE);
}

/** Frees the words for another loop once the loop's thread is gone, however it ended. @internal */
export function releaseLoop(words: Int32Array): void {
  Atomics.store(words, ATTACHED, 0);
}

/** Asks the loop under these words to stop after the frame in hand, waking it wherever it sleeps. @internal */
export function stopLoop(words: Int32Array): void {
  Atomics.store(words, STOP, 1);
  poke(words);
}

/**
 * The loop's side of a {@link LoopControl}, in the loop's thread: what changed since it last
 * looked. @internal
 */
export class LoopControlReader {
  readonly #words: Int32Array;
  readonly #rate: Float64Array;
  #steps: number;
  #rateGen: number;

  constructor(words: Int32Array, rateHz: number, recorded: boolean) {
    this.#words = words;
    this.#rate = new Float64Array(words.buffer, 8 * RATE_AT, 1);
    this.#steps = Atomics.load(words, STEPS);
    this.#rateGen = Atomics.load(words, RATE_GEN);
    // A rate set before the loop started (the control reused, or set early) wins.
    if (this.#rateGen === 0 || recorded) this.#rate[0] = rateHz;
    Atomics.store(words, RECORDED, recorded ? 1 : 0);
    Atomics.store(words, ATTACHED, 1);
  }

  stopped(): boolean {
    return Atomics.load(this.#words, STOP) !== 0;
  }

  paused(): boolean {
    return Atomics.load(this.#words, PAUSED) === 1;
  }

  /** True once per single step asked for since the last call that returned true. */
  takeStep(): boolean {
    if (Atomics.load(this.#words, STEPS) === this.#steps) return false;
    this.#steps++;
    return true;
  }

  /** The new rate when it changed since the last call, else undefined. */
  newRate(): number | undefined {
    const gen = Atomics.load(this.#words, RATE_GEN);
    if (gen === this.#rateGen) return undefined;
    this.#rateGen = gen;
    return this.#rate[0];
  }

  /** The rate in effect (Hz). */
  get rateHz(): number {
    return this.#rate[0];
  }

  /** The change counter to sleep on: it moves on every pause, step, rate change and stop. */
  get pokes(): number {
    return Atomics.load(this.#words, POKE);
  }

  /** Sleeps until anything changes (pause, step, rate, stop) or `ms` pass. */
  waitForChange(ms: number): void {
    Atomics.wait(this.#words, POKE, this.pokes, ms);
  }

  detach(): void {
    Atomics.store(this.#words, ATTACHED, 0);
  }
}

/** The change counter's index in a control's words (see {@link LoopControlReader.pokes}). @internal */
export const CONTROL_POKE = POKE;
