import type * as TF from '@tensorflow/tfjs';
import type { Window2d } from '../graph/geometry.js';
import type { NetEdge, Network } from '../graph/network.js';
import type { Activation, ActivationParams } from '../graph/spec.js';
import type { Parameters } from '../graph/parameters.js';

type Tensor = TF.Tensor;
type Pad = [[number, number], [number, number], [number, number], [number, number]];

/**
 * Trainable copies of a network's parameters in the layouts TensorFlow.js computes fastest:
 * dense weights as [in, out] (a plain matMul, no transposed operand: ~10x faster on wasm),
 * conv filters as [kh, kw, inC, outC], biases in the state's NHWC order.
 */
export interface TrainableParameters {
  readonly weights: (TF.Variable | null)[];
  readonly biases: (TF.Variable | null)[];
}

/** Row-major [C,H,W] flat index of each NHWC position, for moving biases between layouts. */
function hwcToChwIndex(shape: readonly number[]): (i: number) => number {
  if (shape.length === 1) return (i) => i;
  const [C, H, W] = shape;
  return (i) => {
    const c = i % C;
    const p = (i - c) / C;
    return c * H * W + p;
  };
}

/** Our parameters -> trainable variables. */
export function toTrainable(tf: typeof TF, net: Network, params: Parameters): TrainableParameters {
  const weights = net.edges.map((e) => {
    const w = params.weights[e.index];
    if (w === null) return null;
    const g = e.geometry;
    // tidy frees the intermediates; variables survive it.
    if (g.type === 'dense') return tf.tidy(() => tf.variable(tf.transpose(tf.tensor2d(w, [g.outSize, g.inSize])), true, `w_${e.index}`));
    if (g.type === 'conv2d') return tf.tidy(() => tf.variable(tf.transpose(tf.tensor4d(w, [g.outC, g.inC / g.groups, g.kh, g.kw]), [2, 3, 1, 0]), true, `w_${e.index}`));
    return null;
  });
  const biases = net.nodes.map((n) => {
    if (n.isInput) return null;
    const b = params.biases[n.index];
    const at = hwcToChwIndex(n.shape);
    const hwc = new Float32Array(n.size);
    for (let i = 0; i < n.size; i++) hwc[i] = b[at(i)];
    return tf.tidy(() => tf.variable(tf.tensor(hwc, n.shape.length === 3 ? [n.shape[1], n.shape[2], n.shape[0]] : [n.size]), true, `b_${n.index}`));
  });
  return { weights, biases };
}

/** Trainable variables -> our parameters (model-file layouts). */
export function fromTrainable(tf: typeof TF, net: Network, tp: TrainableParameters): Parameters {
  const weights = net.edges.map((e) => {
    const v = tp.weights[e.index];
    if (v === null) return null;
    const g = e.geometry;
    if (g.type === 'dense') return tf.tidy(() => tf.transpose(v)).dataSync() as Float32Array;
    return tf.tidy(() => tf.transpose(v, [3, 2, 0, 1])).dataSync() as Float32Array;
  });
  const biases = net.nodes.map((n) => {
    const v = tp.biases[n.index];
    if (v === null) return new Float32Array(0);
    const hwc = v.dataSync() as Float32Array;
    const at = hwcToChwIndex(n.shape);
    const chw = new Float32Array(n.size);
    for (let i = 0; i < n.size; i++) chw[at(i)] = hwc[i];
    return chw;
  });
  return { weights, biases };
}

function padOf(g: Window2d): Pad {
  const bottom = Math.max(0, (g.outH - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.inH - g.padTop);
  const right = Math.max(0, (g.outW - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.inW - g.padLeft);
  return [
    [0, 0],
    [g.padTop, bottom],
    [g.padLeft, right],
    [0, 0],
  ];
}

/**
 * conv2d whose gradients run on every backend: tfjs's wasm backend has no filter-gradient
 * kernel, so the filter gradient is computed as a forward convolution of the input (batch
 * and channel axes swapped) with the output gradient as filter, dilated by the stride.
 */
function conv2d(tf: typeof TF, x: TF.Tensor4D, w: TF.Tensor4D, g: Window2d, native: boolean): TF.Tensor4D {
  const pad = padOf(g);
  if (native || g.dh !== 1 || g.dw !== 1) return tf.conv2d(x, w, [g.sh, g.sw], pad, 'NHWC', [g.dh, g.dw]);
  const f = tf.customGrad((...args: (Tensor | TF.GradSaveFunc)[]) => {
    const [xs, ws, save] = args as [Tensor, Tensor, TF.GradSaveFunc];
    const xi = xs as TF.Tensor4D;
    const wi = ws as TF.Tensor4D;
    save([xi, wi]);
    return {
      value: tf.conv2d(xi, wi, [g.sh, g.sw], pad, 'NHWC'),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sw] = saved as [TF.Tensor4D, TF.Tensor4D];
        const dy4 = dy as TF.Tensor4D;
        const dx = tf.conv2dTranspose(dy4, sw, sx.shape, [g.sh, g.sw], pad);
        // dW[ky,kx,ci,co] = sum over b,oy,ox of x[b, oy*s+ky-pt, ox*s+kx-pl, ci] * dy[b,oy,ox,co].
        let xt = tf.transpose(sx, [3, 1, 2, 0]) as TF.Tensor4D;
        const needH = (g.outH - 1) * g.sh + g.kh;
        const needW = (g.outW - 1) * g.sw + g.kw;
        const padH: [number, number] = [g.padTop, needH - g.padTop - g.inH];
        const padW: [number, number] = [g.padLeft, needW - g.padLeft - g.inW];
        // Rows past what the last window reads are cut instead of negatively padded.
        if (padH[1] < 0 || padW[1] < 0) {
          xt = tf.slice(xt, [0, 0, 0, 0], [-1, g.inH + Math.min(0, padH[1]), g.inW + Math.min(0, padW[1]), -1]);
          padH[1] = Math.max(0, padH[1]);
          padW[1] = Math.max(0, padW[1]);
        }
        const dyt = tf.transpose(dy4, [1, 2, 0, 3]) as TF.Tensor4D;
        const dw = tf.transpose(tf.conv2d(xt, dyt, 1, [[0, 0], padH, padW, [0, 0]], 'NHWC', [g.sh, g.sw]), [1, 2, 0, 3]);
        return [dx, dw];
      },
    };
  });
  return f(x, w) as TF.Tensor4D;
}

/** y = x W with W [in, out]; gradients by explicit transposes (wasm's transposed matMul is slow). */
function dense(tf: typeof TF, x: TF.Tensor2D, w: TF.Tensor2D, native: boolean): TF.Tensor2D {
  if (native) return tf.matMul(x, w);
  const f = tf.customGrad((...args: (Tensor | TF.GradSaveFunc)[]) => {
    const [xs, ws, save] = args as [Tensor, Tensor, TF.GradSaveFunc];
    save([xs, ws]);
    return {
      value: tf.matMul(xs as TF.Tensor2D, ws as TF.Tensor2D),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sw] = saved as [TF.Tensor2D, TF.Tensor2D];
        return [tf.matMul(dy as TF.Tensor2D, tf.transpose(sw)), tf.matMul(tf.transpose(sx), dy as TF.Tensor2D)];
      },
    };
  });
  return f(x, w) as TF.Tensor2D;
}

/** A state as its batch of row-major [C,H,W] vectors. */
function flatChw(tf: typeof TF, t: Tensor): TF.Tensor2D {
  const b = t.shape[0];
  return (t.rank === 4 ? tf.reshape(tf.transpose(t, [0, 3, 1, 2]), [b, -1]) : t) as TF.Tensor2D;
}

/** Row-major [C,H,W] vectors back into a state of `shape`. */
function fromChw(tf: typeof TF, t: TF.Tensor2D, shape: readonly number[]): Tensor {
  if (shape.length === 1) return t;
  const [C, H, W] = shape;
  return tf.transpose(tf.reshape(t, [t.shape[0], C, H, W]), [0, 2, 3, 1]);
}

function edgeForward(tf: typeof TF, e: NetEdge, src: Tensor, tp: TrainableParameters, native: boolean, targetShape: readonly number[]): Tensor {
  const g = e.geometry;
  switch (g.type) {
    case 'dense':
      return fromChw(tf, dense(tf, flatChw(tf, src), tp.weights[e.index] as unknown as TF.Tensor2D, native), targetShape);
    case 'conv2d': {
      const w = tp.weights[e.index] as unknown as TF.Tensor4D;
      if (g.groups === 1) return conv2d(tf, src as TF.Tensor4D, w, g, native);
      // tfjs has no grouped convolution: one per group, on its slice of the channels.
      const xs = tf.split(src as TF.Tensor4D, g.groups, 3) as TF.Tensor4D[];
      const ws = tf.split(w, g.groups, 3) as TF.Tensor4D[];
      return tf.concat(
        xs.map((x, i) => conv2d(tf, x, ws[i], { ...g, inC: g.inC / g.groups }, native)),
        3,
      );
    }
    case 'maxpool':
      return tf.maxPool(src as TF.Tensor4D, [g.kh, g.kw], [g.sh, g.sw], padOf(g) as unknown as 'same');
    case 'avgpool':
      return tf.avgPool(src as TF.Tensor4D, [g.kh, g.kw], [g.sh, g.sw], padOf(g) as unknown as 'same');
    case 'identity':
      return fromChw(tf, flatChw(tf, src), targetShape);
  }
}

/**
 * The rollout window as a TensorFlow.js computation: ticks 1..T of docs/semantics.md (frame 0
 * all zeros, an edge with delay r reading its source r frames back), batched. Returns, per
 * tick, each output node's pre-activation (the logits, for a softmax output) and its state.
 *
 * @param inputs per tick, per input node (by position in net.inputs), a batch [B, ...NHWC]
 */
export function unroll(
  tf: typeof TF,
  net: Network,
  delays: readonly number[],
  order: readonly number[],
  tp: TrainableParameters,
  inputs: readonly (readonly Tensor[])[],
  native: boolean,
  training?: { readonly seed: number },
): { logits: Tensor[]; states: Tensor[] }[] {
  const batch = inputs[0][0].shape[0];
  const zeros = net.nodes.map((n) => tf.zeros(n.shape.length === 3 ? [batch, n.shape[1], n.shape[2], n.shape[0]] : [batch, n.size]));
  const history: Tensor[][] = [zeros];
  const result: { logits: Tensor[]; states: Tensor[] }[] = [];
  for (let k = 1; k <= inputs.length; k++) {
    const frame: Tensor[] = new Array<Tensor>(net.nodes.length);
    const logits: Tensor[] = new Array<Tensor>(net.nodes.length);
    net.inputs.forEach((v, j) => (frame[v] = inputs[k - 1][j]));
    for (const v of order) {
      const node = net.nodes[v];
      if (node.isInput) continue;
      let sum: Tensor | undefined;
      for (const e of node.inEdges) {
        const edge = net.edges[e];
        const j = k - delays[e];
        const src = j <= 0 ? zeros[edge.from] : j === k ? frame[edge.from] : history[j][edge.from];
        const y = edgeForward(tf, edge, src, tp, native, node.shape);
        sum = sum === undefined ? y : tf.add(sum, y);
      }
      const pre = tf.add(sum as Tensor, tp.biases[v] as TF.Variable);
      logits[v] = pre;
      frame[v] = activate(tf, node.activation, pre, node.shape.length === 3, node.activationParams);
      // Dropout on the state consumers read, in every frame of the window; seeded per step, frame and node.
      if (training !== undefined && node.dropout > 0) frame[v] = tf.dropout(frame[v], node.dropout, undefined, training.seed + k * 4099 + v);
    }
    history.push(frame);
    result.push({ logits: net.outputs.map((o) => logits[o]), states: net.outputs.map((o) => frame[o]) });
  }
  return result;
}

function activate(tf: typeof TF, a: Activation, x: Tensor, spatial: boolean, p: ActivationParams): Tensor {
  switch (a) {
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'leaky_relu':
      return tf.leakyRelu(x, p.alpha);
    case 'elu':
      return p.alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(p.alpha, tf.sub(tf.exp(x), 1)));
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'hard_sigmoid':
      return tf.clipByValue(tf.add(tf.mul(p.alpha, x), p.beta), 0, 1);
    case 'hard_swish':
      return tf.mul(x, tf.clipByValue(tf.add(tf.div(x, 6), 0.5), 0, 1));
    case 'softmax':
      // Over the last axis: the whole vector, or the channels of each pixel (NHWC).
      return tf.softmax(x, spatial ? 3 : 1);
    case 'linear':
      return x;
  }
}
