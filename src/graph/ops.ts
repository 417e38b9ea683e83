// Every edge op of the graph layer in one table: which fields a spec may give, their
// defaults, the geometry and weight shape between two nodes, the FLOPs, the fans for weight
// init and how messages name it. A new op gets an entry here (the mapped type makes a missing
// one a compile error) and a kernel per backend; code elsewhere that switches on op types ends
// in an exhaustive `never` check, so the compiler lists it too.
import { type IssueList, show } from './errors.js';
import { pair, showShape, windowAxis, type Conv2dGeometry, type DenseGeometry, type EdgeGeometry, type IdentityGeometry, type PoolGeometry, type Window2d } from './geometry.js';
import type { Conv2dOp, DenseOp, EdgeOp, IdentityOp, Padding, Shape, Size2, WeightPrecision } from './spec.js';

type Json = Record<string, unknown>;

/** The op of type K. */
export type OpOf<K extends EdgeOp['type']> = EdgeOp & { readonly type: K };
/** The geometry an op of type K resolves to. */
export type GeometryOf<K extends EdgeOp['type']> = EdgeGeometry & { readonly type: K };

/** What an op needs to know of the nodes it joins. */
export interface OpEnd {
  readonly name: string;
  readonly shape: Shape;
  readonly size: number;
  /** The target's weight width (NetNode.precision). */
  readonly precision?: WeightPrecision | undefined;
}

/** An edge resolved between two nodes: its kernels' geometry and the weight tensor's shape (null: none). */
export interface ResolvedOp<G extends EdgeGeometry = EdgeGeometry> {
  readonly geometry: G;
  readonly weightShape: readonly number[] | null;
}

/** How one op type is checked, resolved, costed and described. */
export interface OpDescriptor<T extends EdgeOp> {
  readonly type: T['type'];
  /** One line for documentation and help. */
  readonly summary: string;
  /** Fields a spec may give besides `type`. */
  readonly fields: readonly string[];
  /** Checks the op's own fields (the type is known); undefined when it added issues. */
  parse(v: Json, path: string, issues: IssueList): T | undefined;
  /** `conv2d kernel 3 stride 2 padding same`: how messages name the op. */
  describe(op: T): string;
  /** The geometry between `src` and `dst`, or why they do not fit (completes "edge e (op): [src]"). */
  resolve(op: T, src: OpEnd, dst: OpEnd): ResolvedOp<GeometryOf<T['type']>> | string;
  /** Floating-point operations of one application (a cost estimate). */
  flops(g: GeometryOf<T['type']>): number;
  /** Fan-in and fan-out of one output for weight init (ops without weights: [1, 1]). */
  fans(g: GeometryOf<T['type']>): readonly [number, number];
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNonNegativeInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const size2Text = (s: Size2): string => (typeof s === 'number' ? String(s) : `${s[0]}x${s[1]}`);
const paddingText = (p: Padding): string => (Array.isArray(p) ? `[${p.join(',')}]` : String(p));

function size2(v: unknown, path: string, issues: IssueList): Size2 | undefined {
  if (isPositiveInt(v)) return v;
  if (Array.isArray(v) && v.length === 2) {
    let ok = true;
    v.forEach((d, i) => {
      if (!isPositiveInt(d)) {
        issues.add(`${path}[${i}]`, `expected a positive integer, found ${show(d)}`);
        ok = false;
      }
    });
    return ok ? [v[0] as number, v[1] as number] : undefined;
  }
  issues.add(path, `expected a positive integer or [height, width] of positive integers, found ${show(v)}`);
  return undefined;
}

function padding(v: unknown, path: string, issues: IssueList): Padding | undefined {
  if (v === 'same' || v === 'valid') return v;
  if (isNonNegativeInt(v)) return v;
  if (Array.isArray(v) && v.length === 4 && v.every(isNonNegativeInt)) return [v[0], v[1], v[2], v[3]] as const;
  issues.add(path, `expected "same", "valid", a non-negative integer or [top, bottom, left, right] of them, found ${show(v)}`);
  return undefined;
}

/** Output length and padding before/after along one axis, for explicit [before, after] padding too. */
function axis(inLen: number, kernel: number, stride: number, dilation: number, pad: Padding, which: 0 | 1): { out: number; padBefore: number } | string {
  if (!Array.isArray(pad)) return windowAxis(inLen, kernel, stride, dilation, pad as 'same' | 'valid' | number);
  const before = pad[which * 2];
  const after = pad[which * 2 + 1];
  const span = (kernel - 1) * dilation + 1;
  const out = Math.floor((inLen + before + after - span) / stride) + 1;
  if (out < 1) return `window of ${span} (kernel ${kernel}, dilation ${dilation}) does not fit input length ${inLen} with padding ${before}+${after}`;
  return { out, padBefore: before };
}

/** The sliding window of a conv or pool over a [C,H,W] source, or why it does not fit. */
function slidingWindow(shape: Shape, kernel: Size2, stride: Size2, dilation: Size2, pad: Padding, pooling: boolean): Window2d | string {
  const [inC, inH, inW] = shape as readonly [number, number, number];
  const [kh, kw] = pair(kernel);
  const [sh, sw] = pair(stride);
  const [dh, dw] = pair(dilation);
  const rows = axis(inH, kh, sh, dh, pad, 0);
  if (typeof rows === 'string') return `height: ${rows}`;
  const cols = axis(inW, kw, sw, dw, pad, 1);
  if (typeof cols === 'string') return `width: ${cols}`;
  if (pooling) {
    const sides = Array.isArray(pad) ? pad : typeof pad === 'number' ? [pad, pad, pad, pad] : [];
    if (sides.some((p, i) => p >= (i < 2 ? kh : kw))) return `padding ${paddingText(pad)} must be smaller than the pooling window ${kh}x${kw}, or some windows would hold only padding`;
  }
  return { inC, inH, inW, outH: rows.out, outW: cols.out, kh, kw, sh, sw, dh, dw, padTop: rows.padBefore, padLeft: cols.padBefore };
}

const dense: OpDescriptor<DenseOp> = {
  type: 'dense',
  summary: 'fully connected: the source flattened row-major; weights [out, in]',
  fields: [],
  parse: () => ({ type: 'dense' }),
  describe: () => 'dense',
  resolve(_op, src, dst): ResolvedOp<DenseGeometry> {
    return {
      geometry: { type: 'dense', inSize: src.size, outSize: dst.size, inShape: src.shape, outShape: dst.shape, ...(dst.precision === undefined ? {} : { precision: dst.precision }) },
      weightShape: [dst.size, src.size],
    };
  },
  flops: (g) => 2 * g.inSize * g.outSize,
  fans: (g) => [g.inSize, g.outSize],
};

const identity: OpDescriptor<IdentityOp> = {
  type: 'identity',
  summary: 'copies the source unchanged into a target of the same number of elements (a reshape, row-major)',
  fields: [],
  parse: () => ({ type: 'identity' }),
  describe: () => 'identity',
  resolve(_op, src, dst): ResolvedOp<IdentityGeometry> | string {
    if (src.size !== dst.size) return `-> expected a target of ${src.size} elements, node ${show(dst.name)} has ${showShape(dst.shape)} (${dst.size} elements)`;
    return { geometry: { type: 'identity', size: src.size, inShape: src.shape, outShape: dst.shape }, weightShape: null };
  },
  flops: (g) => g.size,
  fans: () => [1, 1],
};

const conv2d: OpDescriptor<Conv2dOp> = {
  type: 'conv2d',
  summary: '2-D convolution over [C,H,W], optionally grouped (groups = C: depthwise); weights [outC, inC/groups, kh, kw]',
  fields: ['kernel', 'stride', 'padding', 'dilation', 'groups'],
  parse(v, path, issues) {
    const before = issues.items.length;
    const kernel = size2(v.kernel, `${path}.kernel`, issues);
    const stride = v.stride === undefined ? undefined : size2(v.stride, `${path}.stride`, issues);
    const pad = v.padding === undefined ? undefined : padding(v.padding, `${path}.padding`, issues);
    const dilation = v.dilation === undefined ? undefined : size2(v.dilation, `${path}.dilation`, issues);
    if (v.groups !== undefined && !isPositiveInt(v.groups)) issues.add(`${path}.groups`, `expected a positive integer, found ${show(v.groups)}`);
    if (issues.items.length > before || kernel === undefined) return undefined;
    return {
      type: 'conv2d',
      kernel,
      ...(stride === undefined ? {} : { stride }),
      ...(pad === undefined ? {} : { padding: pad }),
      ...(dilation === undefined ? {} : { dilation }),
      ...(v.groups === undefined || v.groups === 1 ? {} : { groups: v.groups as number }),
    };
  },
  describe(op) {
    const parts = ['conv2d', `kernel ${size2Text(op.kernel)}`, `stride ${size2Text(op.stride ?? 1)}`, `padding ${paddingText(op.padding ?? 'same')}`];
    if (op.dilation !== undefined && pair(op.dilation).some((d) => d !== 1)) parts.push(`dilation ${size2Text(op.dilation)}`);
    if ((op.groups ?? 1) !== 1) parts.push(`groups ${op.groups}`);
    return parts.join(' ');
  },
  resolve(op, src, dst): ResolvedOp<Conv2dGeometry> | string {
    if (src.shape.length !== 3) return `: conv2d needs a spatial source [C,H,W], node ${show(src.name)} has ${showShape(src.shape)}`;
    const win = slidingWindow(src.shape, op.kernel, op.stride ?? 1, op.dilation ?? 1, op.padding ?? 'same', false);
    if (typeof win === 'string') return `: ${win}`;
    if (dst.shape.length !== 3 || dst.shape[1] !== win.outH || dst.shape[2] !== win.outW)
      return `-> expected target shape ${showShape(['C', win.outH, win.outW])}, node ${show(dst.name)} has ${showShape(dst.shape)}`;
    const outC = dst.shape[0];
    const groups = op.groups ?? 1;
    if (win.inC % groups !== 0 || outC % groups !== 0) return `: groups ${groups} must divide the source's ${win.inC} channels and the target's ${outC}`;
    return { geometry: { type: 'conv2d', ...win, outC, groups }, weightShape: [outC, win.inC / groups, win.kh, win.kw] };
  },
  flops: (g) => (2 * g.outC * g.outH * g.outW * g.inC * g.kh * g.kw) / g.groups,
  fans: (g) => [(g.inC / g.groups) * g.kh * g.kw, (g.outC / g.groups) * g.kh * g.kw],
};

function pool<K extends 'maxpool' | 'avgpool'>(type: K): OpDescriptor<OpOf<K>> {
  return {
    type,
    summary: `${type === 'maxpool' ? 'max' : 'average'} pooling per channel (padding is ignored${type === 'avgpool' ? ': the average is over the real elements' : ''}); a 1x1 result may go to a vector [C]`,
    fields: ['kernel', 'stride', 'padding'],
    parse(v, path, issues) {
      const before = issues.items.length;
      const kernel = size2(v.kernel, `${path}.kernel`, issues);
      const stride = v.stride === undefined ? undefined : size2(v.stride, `${path}.stride`, issues);
      const pad = v.padding === undefined ? undefined : padding(v.padding, `${path}.padding`, issues);
      if (issues.items.length > before || kernel === undefined) return undefined;
      return { type, kernel, ...(stride === undefined ? {} : { stride }), ...(pad === undefined ? {} : { padding: pad }) };
    },
    describe: (op) => `${type} kernel ${size2Text(op.kernel)} stride ${size2Text(op.stride ?? op.kernel)} padding ${paddingText(op.padding ?? 'valid')}`,
    resolve(op, src, dst): ResolvedOp<GeometryOf<K>> | string {
      if (src.shape.length !== 3) return `: ${type} needs a spatial source [C,H,W], node ${show(src.name)} has ${showShape(src.shape)}`;
      const win = slidingWindow(src.shape, op.kernel, op.stride ?? op.kernel, 1, op.padding ?? 'valid', true);
      if (typeof win === 'string') return `: ${win}`;
      const spatial = dst.shape.length === 3 && dst.shape[0] === win.inC && dst.shape[1] === win.outH && dst.shape[2] === win.outW;
      // A global pool's [C,1,1] is [C] in row-major order (and in every internal layout).
      const vector = dst.shape.length === 1 && win.outH === 1 && win.outW === 1 && dst.shape[0] === win.inC;
      if (!spatial && !vector)
        return `-> expected target shape ${showShape([win.inC, win.outH, win.outW])}${win.outH === 1 && win.outW === 1 ? ` or [${win.inC}]` : ''}, node ${show(dst.name)} has ${showShape(dst.shape)}`;
      return { geometry: { type, ...win } as PoolGeometry as GeometryOf<K>, weightShape: null };
    },
    flops: (g) => g.inC * g.outH * g.outW * g.kh * g.kw,
    fans: () => [1, 1],
  };
}

/** Every op, by type. */
export const OPS: { readonly [K in EdgeOp['type']]: OpDescriptor<OpOf<K>> } = {
  dense,
  conv2d,
  maxpool: pool('maxpool'),
  avgpool: pool('avgpool'),
  identity,
};

/** The descriptor of an op (typed for the op in hand). */
export function opOf<T extends EdgeOp>(op: T): OpDescriptor<T> {
  return OPS[op.type] as unknown as OpDescriptor<T>;
}

/** The descriptor of a geometry's op. */
export function opOfGeometry<G extends EdgeGeometry>(g: G): OpDescriptor<OpOf<G['type']>> {
  return OPS[g.type] as unknown as OpDescriptor<OpOf<G['type']>>;
}

/** Fails compilation when a switch over op types misses one. */
export function unreachableOp(x: never): never {
  throw new Error(`unknown op ${String((x as { type?: unknown })?.type ?? x)}`);
}
