// A network as one ONNX graph (bench:peer and bench:sessions hand it to onnxruntime-node; the
// importer's tests read it back): every frame computed from that frame's input, which is
// what the sequential rollout of a network without feedback computes. A network with feedback
// edges is exported with its state carried (`carry`): the sources of those edges are extra
// inputs (last frame's values) and outputs (this frame's), which the caller feeds back, as
// stateful models are run in onnxruntime; that is the sequential rollout too. Each node is
// act(sum of its edges' ops + bias), in the runtime's own weight layouts (conv
// [outC,inC/groups,kh,kw] and dense [out,in] match ONNX's).
import type { Network } from '../graph/network.js';
import type { Activation, ActivationParams, Shape } from '../graph/spec.js';
import type { Parameters } from '../graph/parameters.js';
import { graphModel, type Attribute, type Constant, type GraphNode } from './onnx-writer.js';
import { StreamrollError } from '../util/errors.js';

const dimsOf = (shape: Shape, batch = 1): number[] => [batch, ...shape];

/** Sliding-window attributes shared by Conv and the pools (pads: begin H, W, end H, W). */
function windowAttributes(
  g: { kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; inH: number; inW: number; outH: number; outW: number; padTop: number; padLeft: number },
  dilations: boolean,
): Attribute[] {
  const padBottom = Math.max(0, (g.outH - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.inH - g.padTop);
  const padRight = Math.max(0, (g.outW - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.inW - g.padLeft);
  return [
    { name: 'kernel_shape', ints: [g.kh, g.kw] },
    { name: 'strides', ints: [g.sh, g.sw] },
    { name: 'pads', ints: [g.padTop, g.padLeft, padBottom, padRight] },
    ...(dilations ? [{ name: 'dilations', ints: [g.dh, g.dw] }] : []),
  ];
}

/** The ONNX nodes computing `activation` of `input` into `output`. */
function activationNodes(activation: Activation, p: ActivationParams, input: string, output: string): GraphNode[] {
  const one = (op: string, attributes: Attribute[] = []): GraphNode[] => [{ op, inputs: [input], outputs: [output], attributes }];
  switch (activation) {
    case 'linear':
      return one('Identity');
    case 'relu':
      return one('Relu');
    case 'relu6':
      // Clip's bounds are inputs since opset 11: two scalar constants.
      return [{ op: 'Clip', inputs: [input, 'const:0', 'const:6'], outputs: [output] }];
    case 'leaky_relu':
      return one('LeakyRelu', [{ name: 'alpha', float: p.alpha }]);
    case 'elu':
      return one('Elu', [{ name: 'alpha', float: p.alpha }]);
    case 'tanh':
      return one('Tanh');
    case 'sigmoid':
      return one('Sigmoid');
    case 'hard_sigmoid':
      return one('HardSigmoid', [
        { name: 'alpha', float: p.alpha },
        { name: 'beta', float: p.beta },
      ]);
    case 'hard_swish':
      return one('HardSwish');
    case 'softmax':
      // Over a vector, or over the channels of each pixel ([1,C,H,W], axis 1).
      return one('Softmax', [{ name: 'axis', int: 1 }]);
  }
}

/** Name of the graph input that holds last frame's value of a carried node (see {@link carriedNodes}). */
export const carriedInputName = (node: string): string => `${node}:prev`;

/**
 * The nodes whose values a stateful export carries from frame to frame (sources of feedback
 * edges), in index order: each is a graph input named {@link carriedInputName} (zeros before
 * the first frame) and a graph output under its own name.
 */
export function carriedNodes(net: Network): number[] {
  return [...new Set(net.edges.filter((e) => e.to <= e.from).map((e) => e.from))].sort((a, b) => a - b);
}

/**
 * The ONNX model of `net` with `params`, or an error naming what it cannot express: feedback
 * edges unless `carry` (a frame would depend on earlier frames), dense edges into spatial
 * nodes, dilated pools. Nodes with layout hwc are exported as NCHW all the same. `batch`
 * fixes the batch axis of inputs and outputs (default 1): a peer computing that many frames
 * per run. With `carry`, feedback edges read last frame's values of their sources from extra
 * inputs, and those sources are extra outputs (see {@link carriedNodes}).
 */
export function networkModel(net: Network, params: Parameters, options: { readonly batch?: number; readonly carry?: boolean } = {}): Uint8Array {
  const batch = options.batch ?? 1;
  const nodes: GraphNode[] = [];
  const constants: Constant[] = [];
  if (options.carry !== true) {
    for (const e of net.edges)
      if (e.to <= e.from)
        throw new StreamrollError(
          'SPEC_INVALID',
          `ONNX export: edge "${e.id}" feeds back; export the network with its state carried (the carry option: extra inputs and outputs fed back run after run)`,
        );
  }
  const carried = options.carry === true ? carriedNodes(net) : [];
  for (const node of net.nodes) {
    if (node.isInput) continue;
    const terms: string[] = [];
    for (const ei of node.inEdges) {
      const e = net.edges[ei];
      const g = e.geometry;
      // A feedback edge reads its source's value of the last frame.
      const src = e.to <= e.from ? carriedInputName(net.nodes[e.from].name) : net.nodes[e.from].name;
      const out = `${e.id}:out`;
      if (g.type === 'conv2d') {
        const w = `${e.id}:W`;
        constants.push({ name: w, dims: [g.outC, g.inC / g.groups, g.kh, g.kw], data: params.weights[ei] as Float32Array });
        nodes.push({ op: 'Conv', inputs: [src, w], outputs: [out], attributes: [...windowAttributes(g, true), { name: 'group', int: g.groups }] });
      } else if (g.type === 'dense') {
        if (node.shape.length !== 1) throw new StreamrollError('SPEC_INVALID', `ONNX export: dense edge "${e.id}" into a spatial node has no ONNX peer here`);
        const w = `${e.id}:W`;
        constants.push({ name: w, dims: [g.outSize, g.inSize], data: params.weights[ei] as Float32Array });
        // Row-major [C,H,W] flattening, as the runtime's dense reads spatial sources.
        const flat = net.nodes[e.from].shape.length === 1 ? src : `${e.id}:flat`;
        if (flat !== src) nodes.push({ op: 'Flatten', inputs: [src], outputs: [flat], attributes: [{ name: 'axis', int: 1 }] });
        nodes.push({ op: 'Gemm', inputs: [flat, w], outputs: [out], attributes: [{ name: 'transB', int: 1 }] });
      } else if (g.type === 'maxpool' || g.type === 'avgpool') {
        if (g.dh !== 1 || g.dw !== 1) throw new StreamrollError('SPEC_INVALID', `ONNX export: dilated pool "${e.id}" has no ONNX peer here`);
        // AveragePool leaves padding out of the mean by default, as the runtime does.
        const pooled = node.shape.length === 1 ? `${e.id}:pooled` : out;
        nodes.push({ op: g.type === 'maxpool' ? 'MaxPool' : 'AveragePool', inputs: [src], outputs: [pooled], attributes: windowAttributes(g, false) });
        // A global pool into a vector node: [1,C,1,1] flattened to [1,C].
        if (pooled !== out) nodes.push({ op: 'Flatten', inputs: [pooled], outputs: [out], attributes: [{ name: 'axis', int: 1 }] });
      } else {
        // Identity: the source itself, or reshaped (row-major) to the target's dims.
        const same = net.nodes[e.from].shape.join() === node.shape.join();
        if (same) {
          terms.push(src);
          continue;
        }
        const shape = `${e.id}:shape`;
        constants.push({ name: shape, dims: [node.shape.length + 1], data: BigInt64Array.from(dimsOf(node.shape, -1), (d) => BigInt(d)) });
        nodes.push({ op: 'Reshape', inputs: [src, shape], outputs: [out] });
      }
      terms.push(out);
    }
    const bias = `${node.name}:b`;
    constants.push({ name: bias, dims: dimsOf(node.shape), data: params.biases[node.index] });
    let sum = terms[0];
    for (const [i, t] of [...terms.slice(1), bias].entries()) {
      const next = `${node.name}:sum${i}`;
      nodes.push({ op: 'Add', inputs: [sum, t], outputs: [next] });
      sum = next;
    }
    nodes.push(...activationNodes(node.activation, node.activationParams, sum, node.name));
  }
  if (nodes.some((n) => n.inputs.includes('const:0'))) {
    constants.push({ name: 'const:0', dims: [], data: Float32Array.of(0) }, { name: 'const:6', dims: [], data: Float32Array.of(6) });
  }
  return graphModel({
    nodes,
    constants,
    inputs: [
      ...net.inputs.map((v) => ({ name: net.nodes[v].name, dims: dimsOf(net.nodes[v].shape, batch) })),
      ...carried.map((v) => ({ name: carriedInputName(net.nodes[v].name), dims: dimsOf(net.nodes[v].shape, batch) })),
    ],
    outputs: [...net.outputs, ...carried.filter((v) => !net.outputs.includes(v))].map((v) => ({ name: net.nodes[v].name, dims: dimsOf(net.nodes[v].shape, batch) })),
  });
}
