import { StreamrollError } from '../util/errors.js';
// Handles of the zero-copy frame API: an input slot the caller writes into before committing
// it, and an output frame whose views point into the arena until released. Both refuse use
// outside their lifetime with a ViewError instead of letting a caller read or write memory
// that the engine has moved on to.

/** A view used outside its lifetime: a committed slot, a released output frame, an unknown node. */
export class ViewError extends StreamrollError {
  constructor(message: string) {
    super('VIEW_MISUSE', message);
    this.name = 'ViewError';
  }
}

/** What an {@link InputSlot} asks its runtime to do. */
export interface SlotHooks {
  /** Checks and publishes the slot's frame (throws InputError, leaving the slot open), then resolves with its outputs. */
  commit(): Promise<OutputFrame>;
  /** Gives the slot back unpublished. */
  cancel(): void;
}

/**
 * The next input frame, in the arena: one row-major `[C,H,W]` Float32Array per input node,
 * zeroed, to fill in place (a camera decoder can write straight into it). `commit()` hands
 * it to the engine; from then on the views are the engine's, and the accessors throw. Keep
 * no reference to a view past `commit()`: the slot is reused `queue` frames later.
 *
 * While a slot is open the runtime serves nothing else (calls queue behind it, as behind
 * `step()`); `commit()` or `cancel()` frees it.
 */
export class InputSlot {
  /** The tick this frame will be. */
  readonly tick: number;
  readonly #views: Readonly<Record<string, Float32Array>>;
  readonly #hooks: SlotHooks;
  #state: 'open' | 'committed' | 'cancelled' = 'open';

  constructor(tick: number, views: Readonly<Record<string, Float32Array>>, hooks: SlotHooks) {
    this.tick = tick;
    this.#views = views;
    this.#hooks = hooks;
  }

  /** The input views by node name; throws a {@link ViewError} once committed or cancelled. */
  get inputs(): Readonly<Record<string, Float32Array>> {
    this.#assertOpen('read or write its inputs');
    return this.#views;
  }

  /** One input node's view; throws a {@link ViewError} for an unknown node or a closed slot. */
  input(name: string): Float32Array {
    const view = this.inputs[name];
    if (view === undefined) throw new ViewError(`"${name}" is not an input node (inputs: ${Object.keys(this.#views).join(', ')})`);
    return view;
  }

  /** Whether the slot can still be written and committed. */
  get open(): boolean {
    return this.#state === 'open';
  }

  /**
   * Publishes the frame and resolves with its outputs once they are computed. A non-finite
   * value rejects with an InputError and leaves the slot open (fix it and commit again).
   * The next slot can be taken before the outputs arrive (frames pipeline).
   */
  commit(): Promise<OutputFrame> {
    try {
      this.#assertOpen('commit it');
      const outputs = this.#hooks.commit();
      this.#state = 'committed';
      return outputs;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Gives the slot back without publishing it; the tick is not used. Idempotent after commit. */
  cancel(): void {
    if (this.#state !== 'open') return;
    this.#state = 'cancelled';
    this.#hooks.cancel();
  }

  #assertOpen(what: string): void {
    if (this.#state !== 'open') throw new ViewError(`the input slot of tick ${this.tick} was ${this.#state}; cannot ${what} (take a new one with nextInput())`);
  }
}

/**
 * One tick's outputs as views into the arena's output ring: row-major `[C,H,W]`, keyed by
 * node name, copied there by the worker that computed them (writing into them changes no
 * state the engine reads). Valid until `release()`: until then the engine never overwrites
 * them, and at most `queue` frames may be held at once. After release the accessors throw
 * a {@link ViewError}; keep no reference to a view past it. `using frame = ...` releases at
 * the end of the block.
 */
export class OutputFrame implements Disposable {
  readonly tick: number;
  /** From the input being committed to its outputs being ready (µs). */
  readonly latencyUs: number;
  readonly #views: Readonly<Record<string, Float32Array>>;
  #release: (() => void) | undefined;

  constructor(tick: number, latencyUs: number, views: Readonly<Record<string, Float32Array>>, release: () => void) {
    this.tick = tick;
    this.latencyUs = latencyUs;
    this.#views = views;
    this.#release = release;
  }

  /** The output views by node name; throws a {@link ViewError} once released. */
  get outputs(): Readonly<Record<string, Float32Array>> {
    if (this.#release === undefined) throw new ViewError(`the outputs of tick ${this.tick} were released; copy() them first to keep them`);
    return this.#views;
  }

  /** One output node's view; throws a {@link ViewError} for an unknown node or after release. */
  output(name: string): Float32Array {
    const view = this.outputs[name];
    if (view === undefined) throw new ViewError(`"${name}" is not an output node (outputs: ${Object.keys(this.#views).join(', ')})`);
    return view;
  }

  /** Copies of the outputs (independent of the arena). */
  copy(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [name, view] of Object.entries(this.outputs)) out[name] = view.slice();
    return out;
  }

  get released(): boolean {
    return this.#release === undefined;
  }

  /** Lets the engine reuse the views' memory. Idempotent. */
  release(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * The engine frames whose output views callers hold. The ring keeps an output frame until
 * `queue` more frames have been published; publishing further would overwrite a held one, so
 * {@link HeldFrames.assertRoom} refuses it with a ViewError instead.
 */
export class HeldFrames {
  /** Engine frame -> holds. */
  readonly #held = new Map<number, number>();

  get size(): number {
    return this.#held.size;
  }

  /** The oldest held engine frame, or undefined. */
  oldest(): number | undefined {
    let min: number | undefined;
    for (const k of this.#held.keys()) if (min === undefined || k < min) min = k;
    return min;
  }

  hold(k: number): void {
    this.#held.set(k, (this.#held.get(k) ?? 0) + 1);
  }

  release(k: number): void {
    const n = this.#held.get(k) ?? 0;
    if (n <= 1) this.#held.delete(k);
    else this.#held.set(k, n - 1);
  }

  /** Throws a ViewError when publishing engine frame k could overwrite a held frame's outputs. */
  assertRoom(k: number, queue: number, tickOf: (k: number) => number): void {
    const h = this.oldest();
    if (h !== undefined && h < k - queue) {
      throw new ViewError(
        `tick ${tickOf(k)} would overwrite the outputs of tick ${tickOf(h)}, which are still held: release() output frames when done with them (at most queue = ${queue} may be held)`,
      );
    }
  }
}
