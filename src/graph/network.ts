import { count, LIMITS } from './limits.js';
import { type IssueList, SpecError, show } from './errors.js';
import { showShape, sizeOf, type EdgeGeometry } from './geometry.js';
import { opOf } from './ops.js';
import { checkSpecStructure } from './structure.js';
import { activationParams, edgeId, type Activation, type ActivationParams, type EdgeOp, type NetworkSpec, type Shape, type WeightPrecision } from './spec.js';
import { StreamrollError } from '../util/errors.js';

/** A validated node. Indices follow the spec's node order. */
export interface NetNode {
  readonly index: number;
  readonly name: string;
  readonly shape: Shape;
  /** Number of elements in the state. */
  readonly size: number;
  readonly activation: Activation;
  /** The activation's parameters (its own or the defaults; 0 where it takes none). */
  readonly activationParams: ActivationParams;
  /** The order of the node's values in arrays crossing the API (inputs given, outputs read). */
  readonly order: 'chw' | 'hwc';
  /** Training only: fraction of its values dropped per frame (see NodeSpec.dropout); 0 at inference. */
  readonly dropout: number;
  /** Width of the stored weights of dense edges into it (NodeSpec.precision); undefined: the runtime's. */
  readonly precision: WeightPrecision | undefined;
  /** True when the node has no incoming edge: its state is given in every frame. */
  readonly isInput: boolean;
  /** Indices of edges ending here, in spec order (the order their sums are accumulated). */
  readonly inEdges: readonly number[];
  readonly outEdges: readonly number[];
}

/** A validated edge with its transform's resolved geometry. */
export interface NetEdge {
  readonly index: number;
  /** `name`, or `"from->to"`. */
  readonly id: string;
  readonly from: number;
  readonly to: number;
  readonly op: EdgeOp;
  readonly geometry: EdgeGeometry;
  /** Weight tensor shape in model files (dense `[out,in]`, conv `[outC,inC,kh,kw]`); null when the op has none. */
  readonly weightShape: readonly number[] | null;
  readonly weightSize: number;
}

/** A checked network: every name resolved, every shape consistent, every node reachable from an input. */
export class Network {
  readonly spec: NetworkSpec;
  readonly name: string;
  readonly nodes: readonly NetNode[];
  readonly edges: readonly NetEdge[];
  /** Indices of input nodes, in spec order. */
  readonly inputs: readonly number[];
  /** Indices of output nodes, in the spec's `outputs` order. */
  readonly outputs: readonly number[];
  readonly #nodeByName: ReadonlyMap<string, number>;
  readonly #edgeById: ReadonlyMap<string, number>;

  /** @internal use {@link validateNetwork} */
  constructor(spec: NetworkSpec, nodes: NetNode[], edges: NetEdge[], outputs: number[]) {
    this.spec = spec;
    this.name = spec.name;
    this.nodes = nodes;
    this.edges = edges;
    this.inputs = nodes.filter((n) => n.isInput).map((n) => n.index);
    this.outputs = outputs;
    this.#nodeByName = new Map(nodes.map((n) => [n.name, n.index]));
    this.#edgeById = new Map(edges.map((e) => [e.id, e.index]));
  }

  /** The node called `name`; throws if there is none. */
  node(name: string): NetNode {
    const i = this.#nodeByName.get(name);
    if (i === undefined) throw new StreamrollError('OPTION_INVALID', `network "${this.name}" has no node "${name}" (nodes: ${this.nodes.map((n) => n.name).join(', ')})`);
    return this.nodes[i];
  }

  /** The edge with id `id`; throws if there is none. */
  edge(id: string): NetEdge {
    const i = this.#edgeById.get(id);
    if (i === undefined) throw new StreamrollError('OPTION_INVALID', `network "${this.name}" has no edge "${id}" (edges: ${this.edges.map((e) => e.id).join(', ')})`);
    return this.edges[i];
  }

  hasEdge(id: string): boolean {
    return this.#edgeById.has(id);
  }

  hasNode(name: string): boolean {
    return this.#nodeByName.has(name);
  }
}

/** `conv2d kernel 3 stride 2 padding same`: how error messages name an op. */
export function describeOp(op: EdgeOp): string {
  return opOf(op).describe(op);
}

/**
 * Checks a network spec (parsed JSON or a builder's output) and resolves it.
 * Throws a {@link SpecError} listing every problem, each with its JSON path or node/edge id.
 *
 * @param input the spec, as parsed JSON (unknown) or a {@link NetworkSpec}
 * @param source a file name to prefix messages with
 */
export function validateNetwork(input: unknown, source?: string): Network {
  const structure = checkSpecStructure(input, source);
  const { spec, issues, droppedNodes } = structure;
  // Checks that need the whole graph (reachability, inputs) would only echo a malformed part.
  const wellFormed = issues.empty;

  const nodeIndex = new Map<string, number>();
  spec.nodes.forEach((n, i) => {
    const first = nodeIndex.get(n.name);
    if (first !== undefined) issues.add(`nodes[${i}].name`, `duplicate node name ${show(n.name)} (first at nodes[${first}])`);
    else nodeIndex.set(n.name, i);
  });

  const inEdges: number[][] = spec.nodes.map(() => []);
  const outEdges: number[][] = spec.nodes.map(() => []);
  const ids = new Map<string, number>();
  const known = (): string => [...nodeIndex.keys()].join(', ');
  let edgesResolved = true;
  spec.edges.forEach((e, i) => {
    const from = nodeIndex.get(e.from);
    const to = nodeIndex.get(e.to);
    if (from === undefined && !droppedNodes.has(e.from)) issues.add(`edges[${i}].from`, `unknown node ${show(e.from)} (nodes: ${known()})`);
    if (to === undefined && !droppedNodes.has(e.to)) issues.add(`edges[${i}].to`, `unknown node ${show(e.to)} (nodes: ${known()})`);
    const id = edgeId(e);
    const first = ids.get(id);
    if (first !== undefined) {
      const firstEdge = spec.edges[first];
      if (e.name === undefined && firstEdge.name === undefined) {
        issues.add(`edges[${i}]`, `second unnamed edge ${show(id)} between the same pair (first at edges[${first}]); give each edge between ${show(e.from)} and ${show(e.to)} a unique "name"`);
      } else {
        issues.add(`edges[${i}]${e.name === undefined ? '' : '.name'}`, `duplicate edge id ${show(id)} (first at edges[${first}])`);
      }
    } else {
      ids.set(id, i);
    }
    if (from === undefined || to === undefined) {
      edgesResolved = false;
      return;
    }
    outEdges[from].push(i);
    inEdges[to].push(i);
  });

  const nodes: NetNode[] = spec.nodes.map((n, i) => ({
    index: i,
    name: n.name,
    shape: n.shape,
    size: sizeOf(n.shape),
    activation: n.activation ?? 'linear',
    activationParams: activationParams(n.activation ?? 'linear', n.alpha, n.beta),
    order: n.layout ?? 'chw',
    dropout: n.dropout ?? 0,
    precision: n.precision,
    isInput: inEdges[i].length === 0,
    inEdges: inEdges[i],
    outEdges: outEdges[i],
  }));

  for (const n of nodes) {
    if (n.isInput && n.activation !== 'linear' && edgesResolved && wellFormed) {
      issues.add(`nodes[${n.index}].activation`, `node ${show(n.name)} is an input (no incoming edges): its state is given, so activation ${show(n.activation)} would never apply; remove it`);
    }
  }

  const edges: NetEdge[] = [];
  spec.edges.forEach((e, i) => {
    const from = nodeIndex.get(e.from);
    const to = nodeIndex.get(e.to);
    if (from === undefined || to === undefined) return;
    const resolved = resolveEdge(i, edgeId(e), e.op, nodes[from], nodes[to], issues);
    if (resolved !== null) edges.push(resolved);
  });
  const parameters = edges.reduce((a, e) => a + e.weightSize, 0) + nodes.reduce((a, n) => a + (n.isInput ? 0 : n.size), 0);
  if (parameters > LIMITS.parameters) issues.add('edges', `the network would have ${count(parameters)} parameters, over the limit of ${count(LIMITS.parameters)}`);

  const outputs: number[] = [];
  const seenOutputs = new Set<string>();
  spec.outputs.forEach((name, i) => {
    const idx = nodeIndex.get(name);
    if (idx === undefined) {
      if (!droppedNodes.has(name)) issues.add(`outputs[${i}]`, `unknown node ${show(name)} (nodes: ${known()})`);
      return;
    }
    if (seenOutputs.has(name)) issues.add(`outputs[${i}]`, `node ${show(name)} is listed twice`);
    seenOutputs.add(name);
    if (nodes[idx].isInput && edgesResolved && wellFormed) issues.add(`outputs[${i}]`, `node ${show(name)} is an input node (no incoming edges); outputs must be computed nodes`);
    outputs.push(idx);
  });

  const outputSet = new Set(outputs);
  for (const n of nodes) {
    if (n.order === 'hwc' && !n.isInput && !outputSet.has(n.index) && edgesResolved && wellFormed) {
      issues.add(`nodes[${n.index}].layout`, `node ${show(n.name)} is neither an input nor an output: layout is the order of values crossing the API, which only inputs and outputs do`);
    }
  }

  if (edgesResolved && wellFormed) {
    const reached = reachableFromInputs(
      nodes,
      spec.edges.map((e) => nodeIndex.get(e.to) ?? -1),
    );
    for (const n of nodes) {
      if (!reached[n.index]) {
        const inputs = nodes.filter((m) => m.isInput).map((m) => m.name);
        issues.add(`nodes[${n.index}]`, `node ${show(n.name)} is not reachable from any input node (inputs: ${inputs.length === 0 ? 'none, every node has an incoming edge' : inputs.join(', ')})`);
      }
    }
  }

  issues.throwIfAny('network spec', source);
  return new Network(spec, nodes, edges, outputs);
}

function reachableFromInputs(nodes: readonly NetNode[], edgeTargets: readonly number[]): boolean[] {
  const reached = nodes.map((n) => n.isInput);
  const queue = nodes.filter((n) => n.isInput).map((n) => n.index);
  while (queue.length > 0) {
    const u = queue.pop() as number;
    for (const e of nodes[u].outEdges) {
      const v = edgeTargets[e];
      if (!reached[v]) {
        reached[v] = true;
        queue.push(v);
      }
    }
  }
  return reached;
}

function resolveEdge(index: number, id: string, op: EdgeOp, src: NetNode, dst: NetNode, issues: IssueList): NetEdge | null {
  const resolved = opOf(op).resolve(op, src, dst);
  if (typeof resolved === 'string') {
    issues.add(`edges[${index}]`, `edge ${show(id)} (${describeOp(op)}): ${showShape(src.shape)}${resolved.startsWith('-') ? ' ' : ''}${resolved}`);
    return null;
  }
  const weightSize = resolved.weightShape === null ? 0 : resolved.weightShape.reduce((a, b) => a * b, 1);
  if (weightSize > LIMITS.tensorElements) {
    issues.add(
      `edges[${index}]`,
      `edge ${show(id)} (${describeOp(op)}) would have ${count(weightSize)} weights (${showShape(resolved.weightShape as readonly number[])}), over the limit of ${count(LIMITS.tensorElements)} per tensor`,
    );
    return null;
  }
  return { index, id, from: src.index, to: dst.index, op, geometry: resolved.geometry, weightShape: resolved.weightShape, weightSize };
}

export { SpecError };
