// Lowers an imported graph (./ir.ts) to a network spec and its parameters. A streamroll node
// is act(sum of edges + bias), so ops are folded into that form where it is exact: a conv or
// dense op becomes an edge into a pending sum; a batch norm scales that sum's edge weights and
// bias; an Add merges sums (a node operand joins as an identity edge: a residual); a constant
// add joins the bias; an activation materialises the sum as a node; a Pad folds into the conv
// it feeds; a Concat feeding a conv or dense becomes one edge per part. A sum used by several
// ops is materialised once. Anything that cannot be expressed exactly is reported, never
// approximated.
import type { EdgeOp, NetworkSpec, NodeSpec, EdgeSpec, Shape, Activation } from '../graph/spec.js';
import type { Parameters } from '../graph/parameters.js';
import { ImportError, type IrGraph, type IrNode, type IrShape, type Pads, type Unsupported } from './ir.js';

/** What an import made, for people: counts and what was folded away. */
export interface ImportReport {
  readonly format: string;
  /** Source ops by type. */
  readonly sourceOps: Readonly<Record<string, number>>;
  /** One line per folding that removed an op (batch norms, pads, constant adds). */
  readonly folded: readonly string[];
}

/** An imported model: a spec in the runtime's terms, its weights, and the report. */
export interface ImportedModel {
  readonly spec: NetworkSpec;
  readonly params: Parameters;
  readonly report: ImportReport;
  /** The source model's layout of spatial tensors at its inputs and outputs. */
  readonly layout: 'nchw' | 'nhwc';
}

interface NodeVal {
  readonly kind: 'node';
  readonly node: string;
  readonly shape: IrShape;
  /** The node's elements seen in another shape (a reshape), and in which order a spatial node is read. */
  readonly view?: { readonly shape: IrShape; readonly order: 'chw' | 'hwc' };
}
interface Term {
  readonly from: string;
  readonly fromShape: IrShape;
  readonly op: EdgeOp;
  /** Model-file layout ([outC, inC/g, kh, kw] or [out, in]); null for weightless ops. */
  readonly weights: Float32Array | null;
}
interface SumVal {
  readonly kind: 'sum';
  readonly shape: IrShape;
  readonly terms: Term[];
  readonly bias: Float32Array;
}
interface PaddedVal {
  readonly kind: 'padded';
  readonly inner: NodeVal;
  readonly pads: Pads;
}
interface ConcatVal {
  readonly kind: 'concat';
  readonly parts: readonly NodeVal[];
  readonly shape: IrShape;
}
type Val = NodeVal | SumVal | PaddedVal | ConcatVal;

const sizeOf = (shape: IrShape): number => shape.reduce((a, b) => a * b, 1);
const channels = (shape: IrShape): number => shape[0];
/** Elements per channel: H*W for [C,H,W], 1 for a vector. */
const plane = (shape: IrShape): number => (shape.length === 3 ? shape[1] * shape[2] : 1);
const sameShape = (a: IrShape, b: IrShape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const asShape = (shape: IrShape): Shape => (shape.length === 3 ? [shape[0], shape[1], shape[2]] : [shape[0]]);

/** A lowering failure of one op (collected: the import lists them all). */
class OpFailure extends Error {}

/** Lowers `graph` to a spec; throws an ImportError listing every op that does not map. */
export function lowerGraph(graph: IrGraph, format: string): ImportedModel {
  const nodes: NodeSpec[] = [];
  const edges: EdgeSpec[] = [];
  const weights: (Float32Array | null)[] = [];
  const biases = new Map<string, Float32Array>();
  const folded: string[] = [];
  const unsupported: Unsupported[] = [];
  const names = new Set<string>();
  const vals = new Map<string, Val>();
  const uses = new Map<string, number>();
  const outputs = new Set(graph.outputs);
  /** Which nodes this lowering made from a sum (their activation may still be set in place). */
  const fromSum = new Set<string>();
  const producer = new Map(graph.nodes.map((n) => [n.output, n]));

  const count = (id: string): void => void uses.set(id, (uses.get(id) ?? 0) + 1);
  for (const n of graph.nodes) for (const x of inputsOf(n)) count(x);
  for (const o of graph.outputs) count(o);

  // The model's output names are kept for its outputs: no other node may take one first.
  const unique = (base: string, claim = false): string => {
    let name = base.length > 0 ? base : 'node';
    for (let i = 2; names.has(name) || (!claim && outputs.has(name)); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
  // Nodes are named after the tensor they hold (the model's names for its outputs), less
  // TensorFlow's function-call scopes and the scope every scoped name shares: a converted
  // SavedModel nests every op under a long call path.
  const unwrapped = (id: string): string =>
    id
      .split('/')
      .filter((part, i, all) => i === all.length - 1 || !/^(Stateful)?PartitionedCall(_\d+)?$/.test(part))
      .join('/');
  const scope = commonScope(graph.nodes.map((n) => unwrapped(n.output)));
  const nameFor = (id: string): string => {
    const short = unwrapped(id);
    return short.startsWith(scope) ? short.slice(scope.length) : short;
  };

  const addEdge = (from: string, to: string, op: EdgeOp, w: Float32Array | null): void => {
    const taken = edges.some((e) => e.from === from && e.to === to);
    edges.push(taken ? { from, to, op, name: `${from}->${to}#${edges.filter((e) => e.from === from && e.to === to).length + 1}` } : { from, to, op });
    weights.push(w);
  };

  const materialize = (id: string, sum: SumVal, activation?: { activation: Activation; alpha?: number; beta?: number }): NodeVal => {
    const name = unique(nameFor(id), outputs.has(id));
    nodes.push({
      name,
      shape: asShape(sum.shape),
      ...(activation === undefined || activation.activation === 'linear' ? {} : { activation: activation.activation }),
      ...(activation?.alpha === undefined ? {} : { alpha: activation.alpha }),
      ...(activation?.beta === undefined ? {} : { beta: activation.beta }),
    });
    for (const t of sum.terms) addEdge(t.from, name, t.op, t.weights);
    biases.set(name, sum.bias);
    fromSum.add(name);
    return { kind: 'node', node: name, shape: sum.shape };
  };

  /** The value of `id` as a node (materialising a sum once, for every consumer). */
  const asNode = (id: string, what: string): NodeVal => {
    const v = vals.get(id);
    if (v === undefined) throw new OpFailure(`its input "${id}" is unknown or could not be imported`);
    if (v.kind === 'node') {
      if (v.view === undefined) return v;
      if (v.view.order === 'hwc' && v.shape.length === 3)
        throw new OpFailure(`${what} reads "${id}", a spatial tensor flattened in [H,W,C] order, which only a dense layer can take (by permuting its weights)`);
      // A reshaped node as a node of its own: an identity edge (row-major order is kept).
      const node = unique(nameFor(id), outputs.has(id));
      nodes.push({ name: node, shape: asShape(v.view.shape) });
      addEdge(v.node, node, { type: 'identity' }, null);
      biases.set(node, new Float32Array(sizeOf(v.view.shape)));
      const out: NodeVal = { kind: 'node', node, shape: v.view.shape };
      vals.set(id, out);
      return out;
    }
    if (v.kind === 'sum') {
      const out = materialize(id, v);
      vals.set(id, out);
      return out;
    }
    if (v.kind === 'padded') throw new OpFailure(`${what} reads "${id}", a zero-padded tensor; padding only folds into the convolution it feeds`);
    throw new OpFailure(`${what} reads "${id}", a concatenation; a concatenation only maps when it feeds a convolution or a dense layer (one edge per part)`);
  };

  /** A sum of one identity edge from node `n`. */
  const overNode = (n: NodeVal): SumVal => ({
    kind: 'sum',
    shape: n.shape,
    terms: [{ from: n.node, fromShape: n.shape, op: { type: 'identity' }, weights: null }],
    bias: new Float32Array(sizeOf(n.shape)),
  });

  /** The value of `id` as a sum this op may change: its own if it is the only consumer, else one over its node. */
  const ownSum = (id: string, what: string): SumVal => {
    const v = vals.get(id);
    if (v?.kind === 'sum' && (uses.get(id) ?? 0) === 1) return v;
    return overNode(asNode(id, what));
  };

  for (const input of graph.inputs) {
    const name = unique(input.name);
    nodes.push({ name, shape: asShape(input.shape) });
    vals.set(input.name, { kind: 'node', node: name, shape: input.shape });
  }

  // Ops downstream of one that failed are skipped, not reported: only real failures are listed.
  const failed = new Set<string>();
  for (const n of graph.nodes) {
    const ins = inputsOf(n);
    if (ins.some((x) => failed.has(x))) {
      failed.add(n.output);
      continue;
    }
    const missing = ins.find((x) => !vals.has(x));
    try {
      if (missing !== undefined) throw new OpFailure(`its input "${missing}" is neither a model input nor made by an earlier op`);
      lowerOne(n);
    } catch (err) {
      if (!(err instanceof OpFailure)) throw err;
      failed.add(n.output);
      unsupported.push({ name: n.name, opType: n.opType, why: err.message });
    }
  }

  function lowerOne(n: IrNode): void {
    const op = n.op;
    switch (op.kind) {
      case 'identity': {
        const v = vals.get(op.x) as Val;
        vals.set(n.output, v);
        // The value now has this op's consumers instead of this op.
        uses.set(op.x, (uses.get(op.x) ?? 0) - 1 + (uses.get(n.output) ?? 0));
        return;
      }
      case 'reshape': {
        const v = vals.get(op.x) as Val;
        const node = v.kind === 'node' ? v : asNode(op.x, n.opType);
        const order = op.order === 'hwc' && node.shape.length === 3 ? 'hwc' : (node.view?.order ?? 'chw');
        // Back to the node's own shape in its own order: no view at all.
        if (sameShape(n.shape, node.shape) && order === 'chw') vals.set(n.output, { kind: 'node', node: node.node, shape: node.shape });
        else vals.set(n.output, { kind: 'node', node: node.node, shape: node.shape, view: { shape: n.shape, order } });
        return;
      }
      case 'pad': {
        const inner = asNode(op.x, n.opType);
        if (inner.shape.length !== 3) throw new OpFailure('padding a vector');
        vals.set(n.output, { kind: 'padded', inner, pads: op.pads });
        return;
      }
      case 'concat': {
        const parts = op.xs.map((x) => asNode(x, n.opType));
        vals.set(n.output, { kind: 'concat', parts, shape: n.shape });
        return;
      }
      case 'conv': {
        const v = vals.get(op.x);
        let pads = op.pads;
        let parts: readonly NodeVal[];
        if (v?.kind === 'padded') {
          pads = [pads[0] + v.pads[0], pads[1] + v.pads[1], pads[2] + v.pads[2], pads[3] + v.pads[3]];
          parts = [v.inner];
          folded.push(`zero padding "${nameFor(producer.get(op.x)?.name ?? op.x)}" into "${nameFor(n.name)}"`);
        } else if (v?.kind === 'concat') {
          if (op.groups !== 1) throw new OpFailure('a grouped convolution of a concatenation');
          parts = v.parts;
        } else {
          parts = [asNode(op.x, n.opType)];
        }
        const outC = n.shape[0];
        const inC = parts.reduce((a, p) => a + channels(p.shape), 0);
        const cig = inC / op.groups;
        const [kh, kw] = op.kernel;
        const terms: Term[] = [];
        let c0 = 0;
        for (const p of parts) {
          if (p.shape.length !== 3) throw new OpFailure(`its input "${p.node}" is not spatial`);
          const pc = channels(p.shape);
          // One edge per concatenated part: the weights of that part's input channels.
          const w = parts.length === 1 ? op.weight : sliceConvInputs(op.weight, outC, cig, kh * kw, c0, pc);
          const conv: EdgeOp = {
            type: 'conv2d',
            kernel: [kh, kw],
            stride: [op.stride[0], op.stride[1]],
            dilation: [op.dilation[0], op.dilation[1]],
            padding: [pads[0], pads[1], pads[2], pads[3]],
            ...(op.groups === 1 ? {} : { groups: op.groups }),
          };
          terms.push({ from: p.node, fromShape: p.shape, op: conv, weights: w });
          c0 += pc;
        }
        vals.set(n.output, { kind: 'sum', shape: n.shape, terms, bias: expand(op.bias, n.shape) });
        return;
      }
      case 'dense': {
        const v = vals.get(op.x);
        const parts = v?.kind === 'concat' ? v.parts : [denseSource(op.x)];
        const out = n.shape[0];
        const inTotal = parts.reduce((a, p) => a + sizeOf(p.shape), 0);
        if (inTotal * out !== op.weight.length) throw new OpFailure(`its weights hold ${op.weight.length} values for ${out} outputs of ${inTotal} inputs`);
        const terms: Term[] = [];
        let col = 0;
        for (const p of parts) {
          const m = sizeOf(p.shape);
          let w = parts.length === 1 ? op.weight : sliceColumns(op.weight, out, inTotal, col, m);
          const order = (op.order ?? p.view?.order) === 'hwc' ? 'hwc' : 'chw';
          // Columns of a Keras Flatten follow [H,W,C]: permute them to the runtime's [C,H,W].
          if (order === 'hwc' && p.shape.length === 3) w = hwcColumnsToChw(w, out, p.shape);
          terms.push({ from: p.node, fromShape: p.shape, op: { type: 'dense' }, weights: w });
          col += m;
        }
        vals.set(n.output, { kind: 'sum', shape: n.shape, terms, bias: expand(op.bias, n.shape) });
        return;
      }
      case 'pool': {
        const x = asNode(op.x, n.opType);
        if (x.shape.length !== 3) throw new OpFailure('pooling a vector');
        const pool: EdgeOp = {
          type: op.pool === 'max' ? 'maxpool' : 'avgpool',
          kernel: [op.kernel[0], op.kernel[1]],
          stride: [op.stride[0], op.stride[1]],
          padding: [op.pads[0], op.pads[1], op.pads[2], op.pads[3]],
        };
        vals.set(n.output, { kind: 'sum', shape: n.shape, terms: [{ from: x.node, fromShape: x.shape, op: pool, weights: null }], bias: new Float32Array(sizeOf(n.shape)) });
        return;
      }
      case 'globalpool': {
        const x = asNode(op.x, n.opType);
        if (x.shape.length !== 3) throw new OpFailure('global pooling of a vector');
        const pool: EdgeOp = { type: 'avgpool', kernel: [x.shape[1], x.shape[2]] };
        vals.set(n.output, { kind: 'sum', shape: n.shape, terms: [{ from: x.node, fromShape: x.shape, op: pool, weights: null }], bias: new Float32Array(sizeOf(n.shape)) });
        return;
      }
      case 'affine': {
        const v = vals.get(op.x);
        const folds = v?.kind === 'sum' && (uses.get(op.x) ?? 0) === 1 && v.terms.every((t) => t.op.type === 'conv2d' || t.op.type === 'dense' || t.op.type === 'identity');
        // Otherwise scale the materialised value: a depthwise 1x1 (or diagonal dense) edge.
        const sum = folds ? (v as SumVal) : overNode(asNode(op.x, n.opType));
        const C = channels(sum.shape);
        if (op.scale.length !== C) throw new OpFailure(`${op.scale.length} scales for ${C} channels`);
        const terms = sum.terms.map((t) => scaleTerm(t, op.scale, sum.shape));
        const bias = new Float32Array(sum.bias.length);
        const p = plane(sum.shape);
        for (let i = 0; i < bias.length; i++) {
          const c = Math.floor(i / p);
          bias[i] = sum.bias[i] * op.scale[c] + op.shift[c];
        }
        if (folds) folded.push(`batch norm "${nameFor(n.name)}" into the weights and bias of "${nameFor(producer.get(op.x)?.name ?? op.x)}"`);
        vals.set(n.output, { kind: 'sum', shape: sum.shape, terms, bias });
        return;
      }
      case 'bias': {
        const sum = ownSum(op.x, n.opType);
        if (op.bias.length !== sum.bias.length) throw new OpFailure(`a constant of ${op.bias.length} values added to ${sum.bias.length}`);
        const bias = sum.bias.map((b, i) => b + op.bias[i]);
        folded.push(`constant add "${nameFor(n.name)}" into a bias`);
        vals.set(n.output, { kind: 'sum', shape: sum.shape, terms: sum.terms, bias });
        return;
      }
      case 'add': {
        const terms: Term[] = [];
        const bias = new Float32Array(sizeOf(n.shape));
        for (const x of op.xs) {
          const s = ownSum(x, n.opType);
          if (!sameShape(s.shape, n.shape)) throw new OpFailure(`adds "${x}" of shape [${s.shape.join(',')}] to a result of [${n.shape.join(',')}] (only equal shapes add)`);
          terms.push(...s.terms);
          s.bias.forEach((b, i) => (bias[i] += b));
        }
        vals.set(n.output, { kind: 'sum', shape: n.shape, terms, bias });
        return;
      }
      case 'activation': {
        const act = { activation: op.activation, ...(op.alpha === undefined ? {} : { alpha: op.alpha }), ...(op.beta === undefined ? {} : { beta: op.beta }) };
        const v = vals.get(op.x);
        if (v?.kind === 'sum' && (uses.get(op.x) ?? 0) === 1) {
          vals.set(n.output, materialize(n.output, v, act));
          return;
        }
        const x = asNode(op.x, n.opType);
        const spec = nodes.find((s) => s.name === x.node);
        // A node made here from a sum, not yet activated, used by this op alone: activate it in place.
        if (spec !== undefined && fromSum.has(x.node) && (spec.activation ?? 'linear') === 'linear' && (uses.get(op.x) ?? 0) === 1 && !outputs.has(op.x)) {
          Object.assign(spec, { activation: act.activation }, act.alpha === undefined ? {} : { alpha: act.alpha }, act.beta === undefined ? {} : { beta: act.beta });
          vals.set(n.output, x);
          if (outputs.has(n.output)) renameTo(x.node, n.output);
          return;
        }
        vals.set(n.output, materialize(n.output, overNode(x), act));
        return;
      }
    }
  }

  /** The dense layer's source: a node, or a node seen through a reshape (which a dense reads flattened anyway). */
  function denseSource(id: string): NodeVal {
    const v = vals.get(id);
    if (v?.kind === 'node') return v.view === undefined ? v : { kind: 'node', node: v.node, shape: v.shape, view: v.view };
    return asNode(id, 'a dense layer');
  }

  /** Gives node `from` (made here) the name `to` (a model output's), everywhere. */
  function renameTo(from: string, to: string): void {
    if (from === to || names.has(to)) return;
    names.delete(from);
    names.add(to);
    for (const s of nodes) if (s.name === from) Object.assign(s, { name: to });
    edges.forEach((e, i) => {
      if (e.from === from || e.to === from) edges[i] = { ...e, from: e.from === from ? to : e.from, to: e.to === from ? to : e.to };
    });
    const b = biases.get(from);
    if (b !== undefined) {
      biases.delete(from);
      biases.set(to, b);
    }
    for (const [k, v] of vals) if (v.kind === 'node' && v.node === from) vals.set(k, { ...v, node: to });
  }

  const outputNames: string[] = [];
  for (const o of graph.outputs) {
    if (failed.has(o)) continue;
    try {
      const v = vals.get(o);
      if (v === undefined) throw new OpFailure('no op of the model makes it');
      let node = asNode(o, 'an output');
      if (graph.inputs.some((i) => vals.get(i.name) === node || i.name === node.node)) {
        // An output that is an input (or a reshape of one) still needs a computed node.
        node = materialize(o, overNode(node));
      }
      if (node.node !== o && fromSum.has(node.node) && !outputNames.includes(node.node)) renameTo(node.node, o);
      outputNames.push(nodeName(o));
    } catch (err) {
      if (!(err instanceof OpFailure)) throw err;
      unsupported.push({ name: o, opType: 'output', why: err.message });
    }
  }
  function nodeName(id: string): string {
    const v = vals.get(id);
    return v?.kind === 'node' ? v.node : id;
  }

  if (unsupported.length > 0) throw new ImportError(graph.name, unsupported);
  // An NHWC model's spatial inputs and outputs cross the API in its own [H,W,C] order.
  if (graph.layout === 'nhwc') {
    const boundary = new Set([...graph.inputs.map((i) => i.name), ...outputNames]);
    nodes.forEach((n, i) => {
      if (boundary.has(n.name) && n.shape.length === 3 && n.shape[0] > 1) nodes[i] = { ...n, layout: 'hwc' };
    });
  }
  const spec: NetworkSpec = { name: graph.name, nodes, edges, outputs: outputNames };
  const sourceOps: Record<string, number> = {};
  // A source op may become several import nodes (a fused conv, a layer with its activation).
  const counted = new Set<string>();
  for (const n of graph.nodes) {
    if (counted.has(n.name)) continue;
    counted.add(n.name);
    sourceOps[n.opType] = (sourceOps[n.opType] ?? 0) + 1;
  }
  return {
    spec,
    params: { weights, biases: nodes.map((s) => biases.get(s.name) ?? new Float32Array(0)) },
    report: { format, sourceOps, folded },
    layout: graph.layout,
  };
}

/** The longest run of leading '/'-separated scopes that every scoped name (one with a '/') has, with its '/'. */
function commonScope(ids: readonly string[]): string {
  const scoped = ids.filter((id) => id.includes('/')).map((id) => id.split('/').slice(0, -1));
  if (scoped.length < 2) return '';
  let n = 0;
  while (scoped.every((parts) => parts.length > n && parts[n] === scoped[0][n])) n++;
  return n === 0 ? '' : `${scoped[0].slice(0, n).join('/')}/`;
}

function inputsOf(n: IrNode): readonly string[] {
  const op = n.op;
  return op.kind === 'add' || op.kind === 'concat' ? op.xs : [op.x];
}

/** A per-channel constant (or a full one) expanded to a tensor of `shape`, or zeros. */
function expand(values: Float32Array | undefined, shape: IrShape): Float32Array {
  const out = new Float32Array(sizeOf(shape));
  if (values === undefined) return out;
  if (values.length === out.length) return values.slice();
  const p = plane(shape);
  if (values.length !== channels(shape)) throw new OpFailure(`a bias of ${values.length} values for ${channels(shape)} channels`);
  for (let i = 0; i < out.length; i++) out[i] = values[Math.floor(i / p)];
  return out;
}

/** The weights of input channels [c0, c0 + n) of a convolution with weights [outC, cig, taps]. */
function sliceConvInputs(w: Float32Array, outC: number, cig: number, taps: number, c0: number, n: number): Float32Array {
  const out = new Float32Array(outC * n * taps);
  for (let o = 0; o < outC; o++) out.set(w.subarray((o * cig + c0) * taps, (o * cig + c0 + n) * taps), o * n * taps);
  return out;
}

/** Columns [c0, c0 + n) of a [rows, cols] matrix. */
function sliceColumns(w: Float32Array, rows: number, cols: number, c0: number, n: number): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) out.set(w.subarray(r * cols + c0, r * cols + c0 + n), r * n);
  return out;
}

/** Dense weights whose columns follow [H,W,C] rearranged to follow [C,H,W]. */
function hwcColumnsToChw(w: Float32Array, rows: number, shape: IrShape): Float32Array {
  const [C, H, W] = shape;
  const n = C * H * W;
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) out[r * n + c * H * W + p] = w[r * n + p * C + c];
  }
  return out;
}

/** A term scaled per output channel: its weights' rows, or (identity terms) a depthwise 1x1 / diagonal dense. */
function scaleTerm(t: Term, scale: Float32Array, shape: IrShape): Term {
  const C = scale.length;
  if (t.op.type === 'conv2d' || t.op.type === 'dense') {
    const w = (t.weights as Float32Array).slice();
    const per = w.length / (t.op.type === 'conv2d' ? C : sizeOf(shape));
    const p = plane(shape);
    for (let i = 0; i < w.length; i++) {
      const row = Math.floor(i / per);
      w[i] *= scale[t.op.type === 'conv2d' ? row : Math.floor(row / p)];
    }
    return { ...t, weights: w };
  }
  if (t.op.type === 'identity' && sameShape(t.fromShape, shape)) {
    if (shape.length === 3) return { ...t, op: { type: 'conv2d', kernel: 1, padding: 'valid', groups: C }, weights: scale.slice() };
    if (C <= 4096) {
      const w = new Float32Array(C * C);
      for (let c = 0; c < C; c++) w[c * C + c] = scale[c];
      return { ...t, op: { type: 'dense' }, weights: w };
    }
  }
  throw new OpFailure(`a per-channel scale (a batch norm) of a ${t.op.type} result has nothing to fold into`);
}
