// Reads every node's state of the latest finished frame out of a running engine's arena, from
// any thread that holds the runtime, without telling the engine: the workers never wait for
// a reader. States are double-buffered by frame, so a frame's slots stay put until the engine
// publishes `ring length - 1` frames past it; the reader checks that after copying and
// discards a copy that may have been overwritten (a seqlock without the writer's half).
import type { NetNode, Network } from '../graph/network.js';
import { fromInternal } from '../kernels/layout.js';
import type { StateLayout } from '../kernels/kernel.js';
import { ENTRY_TICK, type Arena } from '../engine/arena.js';
import { PUBLISHED, nodeTick, streamOf } from '../engine/control.js';

/** How states are shrunk for a view (see {@link readStates}). */
export interface DecimateOptions {
  /** Most channels shown per map; evenly spaced over all (default 16). */
  readonly maxChannels?: number;
  /** Longest side of a shown map, averaged over blocks (default 32). */
  readonly maxSide?: number;
  /** Most bars of a vector, averaged over blocks (default 128). */
  readonly maxBars?: number;
}

/**
 * One node's state as a view draws it: `image` (an input frame: 1 or 3 channels, or a square
 * vector), `maps` (a `[C,H,W]` state, some channels, each a heat map) or `vector` (bars).
 * Values are quantised to bytes between `min` and `max` (per shown channel for maps) and sent
 * base64-encoded, row-major: channel, then row, then column (`image` with 3 channels: RGB
 * interleaved per pixel).
 */
export interface NodeView {
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: 'image' | 'maps' | 'vector';
  /** Indices of the channels shown (maps), or of the first value of each bar's block (vector). */
  readonly shown: readonly number[];
  readonly height: number;
  readonly width: number;
  readonly min: readonly number[];
  readonly max: readonly number[];
  readonly data: string;
}

/** The states of one frame. */
export interface StateSnapshot {
  /** The engine frame read (every computed node had finished it). */
  readonly engineFrame: number;
  /** The stream it belongs to (0: the runtime's own) and that stream's tick. */
  readonly stream: number;
  readonly tick: number;
  readonly nodes: readonly NodeView[];
}

const round = (x: number): number => (Number.isFinite(x) ? Number(x.toPrecision(5)) : 0);

/** Block means of a [C,H,W] channel down to at most `side` x `side`. */
function pool(values: Float32Array, at: number, H: number, W: number, side: number): { h: number; w: number; out: Float32Array } {
  const sy = Math.ceil(H / side);
  const sx = Math.ceil(W / side);
  const h = Math.ceil(H / sy);
  const w = Math.ceil(W / sx);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      let count = 0;
      for (let yy = y * sy; yy < Math.min(H, (y + 1) * sy); yy++) {
        for (let xx = x * sx; xx < Math.min(W, (x + 1) * sx); xx++) {
          sum += values[at + yy * W + xx];
          count++;
        }
      }
      out[y * w + x] = sum / count;
    }
  }
  return { h, w, out };
}

function range(values: ArrayLike<number>): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return min <= max ? [min, max] : [0, 0];
}

function quantise(values: ArrayLike<number>, min: number, max: number, out: Uint8Array, at: number): void {
  const scale = max > min ? 255 / (max - min) : 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    out[at + i] = Number.isFinite(x) ? Math.round((Math.min(max, Math.max(min, x)) - min) * scale) : 0;
  }
}

const spaced = (total: number, most: number): number[] => (total <= most ? Array.from({ length: total }, (_, i) => i) : Array.from({ length: most }, (_, i) => Math.floor((i * total) / most)));

/** A node's values (row-major [C,H,W]) as a view. */
export function nodeView(node: NetNode, values: Float32Array, options: DecimateOptions = {}): NodeView {
  const shape = node.shape;
  const base = { name: node.name, shape: [...shape] };
  const square = Math.round(Math.sqrt(node.size));
  const [C, H, W] = shape.length === 3 ? (shape as readonly [number, number, number]) : node.isInput && square * square === node.size && node.size > 1 ? [1, square, square] : [node.size, 1, 1];
  if (node.isInput && (C === 1 || C === 3) && H * W > 1) {
    const [min, max] = range(values);
    const bytes = new Uint8Array(C * H * W);
    if (C === 1) quantise(values, min, max, bytes, 0);
    else {
      // Interleaved RGB for the page's ImageData.
      const hwc = new Float32Array(C * H * W);
      for (let c = 0; c < 3; c++) for (let p = 0; p < H * W; p++) hwc[p * 3 + c] = values[c * H * W + p];
      quantise(hwc, min, max, bytes, 0);
    }
    return { ...base, kind: 'image', shown: Array.from({ length: C }, (_, c) => c), height: H, width: W, min: [round(min)], max: [round(max)], data: Buffer.from(bytes).toString('base64') };
  }
  if (H * W > 1) {
    const shown = spaced(C, options.maxChannels ?? 16);
    const pooled = shown.map((c) => pool(values, c * H * W, H, W, options.maxSide ?? 32));
    const { h, w } = pooled[0];
    const bytes = new Uint8Array(shown.length * h * w);
    const mins: number[] = [];
    const maxs: number[] = [];
    pooled.forEach((p, i) => {
      const [min, max] = range(p.out);
      quantise(p.out, min, max, bytes, i * h * w);
      mins.push(round(min));
      maxs.push(round(max));
    });
    return { ...base, kind: 'maps', shown, height: h, width: w, min: mins, max: maxs, data: Buffer.from(bytes).toString('base64') };
  }
  const n = values.length;
  const bars = Math.min(n, options.maxBars ?? 128);
  const block = Math.ceil(n / bars);
  const count = Math.ceil(n / block);
  const means = new Float32Array(count);
  for (let b = 0; b < count; b++) {
    let sum = 0;
    const end = Math.min(n, (b + 1) * block);
    for (let i = b * block; i < end; i++) sum += values[i];
    means[b] = sum / (end - b * block);
  }
  // Bars grow from zero, so the range always holds it.
  const [lo, hi] = range(means);
  const min = Math.min(0, lo);
  const max = Math.max(0, hi);
  const bytes = new Uint8Array(count);
  quantise(means, min, max, bytes, 0);
  return {
    ...base,
    kind: 'vector',
    shown: Array.from({ length: count }, (_, b) => b * block),
    height: 1,
    width: count,
    min: [round(min)],
    max: [round(max)],
    data: Buffer.from(bytes).toString('base64'),
  };
}

/**
 * Reads the states of the latest engine frame every computed node has finished (its first
 * stream's), converted to row-major `[C,H,W]` and shrunk for a view. Null when no frame has
 * been computed yet, or when the engine ran so far ahead during the copy that the frame's
 * slots may have been reused (try again at the next refresh).
 */
export function readStates(net: Network, arena: Arena, layout: StateLayout, options: DecimateOptions = {}): StateSnapshot | null {
  const ctrl = arena.control;
  const computed = net.nodes.filter((n) => !n.isInput);
  if (computed.length === 0) return null;
  let k = Infinity;
  for (const n of computed) k = Math.min(k, Atomics.load(ctrl, nodeTick(n.index)));
  if (!(k >= 1)) return null;
  const batch = arena.batch(k);
  if (batch[0] < 1) return null;
  const stream = streamOf(batch[1]);
  const f = batch[2];
  const tick = batch[1 + ENTRY_TICK];
  const copies = net.nodes.map((node) => {
    const out = new Float32Array(node.size);
    fromInternal(arena.state(node.index, f, stream), out, node.shape, layout);
    return out;
  });
  // Frame f's slots are reused once the engine publishes (ring length - 1) frames after k:
  // inputs are written before a frame is published, states after.
  const ring = Math.min(...net.nodes.map((n) => arena.slots(n.index, stream).length));
  if (Atomics.load(ctrl, PUBLISHED) >= k + ring - 1) return null;
  if (arena.batch(k)[2] !== f) return null;
  return { engineFrame: k, stream, tick, nodes: net.nodes.map((node, v) => nodeView(node, copies[v], options)) };
}
