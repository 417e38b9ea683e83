import { count, LIMITS } from './limits.js';
import { IssueList, show } from './errors.js';
import { ACTIVATIONS, ACTIVATION_PARAMS, OP_TYPES, type Activation, type EdgeOp, type EdgeSpec, type NetworkSpec, type NodeSpec, type Shape } from './spec.js';
import { OPS } from './ops.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

const TOP_FIELDS = ['name', 'description', 'nodes', 'edges', 'outputs'];
const NODE_FIELDS = ['name', 'shape', 'activation', 'alpha', 'beta', 'layout', 'dropout', 'precision'];
const EDGE_FIELDS = ['from', 'to', 'op', 'name'];
function unknownFields(obj: Json, allowed: readonly string[], path: string, issues: IssueList): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) issues.add(`${path}.${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

function nonEmptyString(v: unknown, path: string, issues: IssueList): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v;
  issues.add(path, `expected a non-empty string, found ${show(v)}`);
  return undefined;
}

function checkShape(v: unknown, path: string, issues: IssueList): Shape | undefined {
  if (!Array.isArray(v) || (v.length !== 1 && v.length !== 3)) {
    issues.add(path, `expected [n] or [C,H,W], found ${show(v)}`);
    return undefined;
  }
  let ok = true;
  v.forEach((d, i) => {
    if (!isPositiveInt(d)) {
      issues.add(`${path}[${i}]`, `expected a positive integer, found ${show(d)}`);
      ok = false;
    }
  });
  if (!ok) return undefined;
  const elements = (v as number[]).reduce((a, b) => a * b, 1);
  if (elements > LIMITS.tensorElements) {
    issues.add(path, `${show(v)} is ${count(elements)} values, over the limit of ${count(LIMITS.tensorElements)} per tensor`);
    return undefined;
  }
  return (v.length === 1 ? [v[0]] : [v[0], v[1], v[2]]) as Shape;
}

function checkOp(v: unknown, path: string, issues: IssueList): EdgeOp | undefined {
  if (!isObject(v)) {
    issues.add(path, `expected an object like {"type": "dense"}, found ${show(v)}`);
    return undefined;
  }
  const type = v.type;
  if (typeof type !== 'string' || !(OP_TYPES as readonly string[]).includes(type)) {
    issues.add(`${path}.type`, `unsupported op ${show(type)} (supported: ${OP_TYPES.join(', ')})`);
    return undefined;
  }
  const descriptor = OPS[type as EdgeOp['type']];
  unknownFields(v, ['type', ...descriptor.fields], path, issues);
  return descriptor.parse(v, path, issues);
}

/** What the structural check found: the well-formed part of the spec, and what was wrong. */
export interface StructureResult {
  /** The spec without the malformed nodes and edges. */
  readonly spec: NetworkSpec;
  readonly issues: IssueList;
  /** Names of nodes left out for a malformed field, so references to them are not reported twice. */
  readonly droppedNodes: ReadonlySet<string>;
}

/**
 * Checks the JSON structure of a spec (types, required fields, sizes, op and activation
 * names), keeping the well-formed part so the caller can go on to check cross-references
 * and shapes and report every problem at once. Throws only when the input is not an object.
 */
export function checkSpecStructure(input: unknown, source?: string): StructureResult {
  const issues = new IssueList();
  const droppedNodes = new Set<string>();
  if (!isObject(input)) {
    issues.add('$', `expected a network spec object {"name", "nodes", "edges", "outputs"}, found ${show(input)}`);
    issues.throwIfAny('network spec', source);
  }
  const top = input as Json;
  unknownFields(top, TOP_FIELDS, '$', issues);
  const name = nonEmptyString(top.name, 'name', issues) ?? '';

  const nodes: NodeSpec[] = [];
  if (!Array.isArray(top.nodes) || top.nodes.length === 0) {
    issues.add('nodes', `expected a non-empty array of nodes, found ${show(top.nodes)}`);
  } else {
    top.nodes.forEach((n: unknown, i: number) => {
      const path = `nodes[${i}]`;
      if (!isObject(n)) {
        issues.add(path, `expected a node object {"name", "shape"}, found ${show(n)}`);
        return;
      }
      unknownFields(n, NODE_FIELDS, path, issues);
      const nodeName = nonEmptyString(n.name, `${path}.name`, issues);
      const shape = checkShape(n.shape, `${path}.shape`, issues);
      let activation: Activation | undefined;
      if (n.activation !== undefined) {
        if (typeof n.activation === 'string' && (ACTIVATIONS as readonly string[]).includes(n.activation)) {
          activation = n.activation as Activation;
        } else {
          issues.add(`${path}.activation`, `unsupported activation ${show(n.activation)} (supported: ${ACTIVATIONS.join(', ')})`);
        }
      }
      const params: { alpha?: number; beta?: number } = {};
      for (const key of ['alpha', 'beta'] as const) {
        const value = n[key];
        if (value === undefined) continue;
        const takes = activation === undefined ? undefined : ACTIVATION_PARAMS[activation];
        if (takes === undefined || takes[key] === undefined) {
          const which = Object.entries(ACTIVATION_PARAMS)
            .filter(([, p]) => p?.[key] !== undefined)
            .map(([a]) => a);
          issues.add(`${path}.${key}`, `activation ${show(activation ?? 'linear')} takes no ${key} (only ${which.join(', ')} ${which.length === 1 ? 'does' : 'do'})`);
        } else if (typeof value !== 'number' || !Number.isFinite(value)) {
          issues.add(`${path}.${key}`, `expected a finite number, found ${show(value)}`);
        } else {
          params[key] = value;
        }
      }
      let layout: 'chw' | 'hwc' | undefined;
      if (n.layout !== undefined) {
        if (n.layout !== 'chw' && n.layout !== 'hwc') issues.add(`${path}.layout`, `expected "chw" or "hwc", found ${show(n.layout)}`);
        else if (shape !== undefined && shape.length !== 3) issues.add(`${path}.layout`, `layout is the order of a spatial [C,H,W] node's values; node has ${show(shape)}`);
        else layout = n.layout;
      }
      let dropout: number | undefined;
      if (n.dropout !== undefined) {
        if (typeof n.dropout !== 'number' || !(n.dropout >= 0 && n.dropout < 1)) issues.add(`${path}.dropout`, `expected a fraction 0 <= p < 1, found ${show(n.dropout)}`);
        else dropout = n.dropout;
      }
      let precision: 'fp32' | 'bf16' | 'fp16' | undefined;
      if (n.precision !== undefined) {
        if (n.precision !== 'fp32' && n.precision !== 'bf16' && n.precision !== 'fp16') issues.add(`${path}.precision`, `expected "fp32", "bf16" or "fp16", found ${show(n.precision)}`);
        else precision = n.precision;
      }
      if (nodeName !== undefined && shape !== undefined) {
        nodes.push({
          name: nodeName,
          shape,
          ...(activation === undefined ? {} : { activation }),
          ...params,
          ...(layout === undefined ? {} : { layout }),
          ...(dropout === undefined ? {} : { dropout }),
          ...(precision === undefined ? {} : { precision }),
        });
      } else if (nodeName !== undefined) {
        droppedNodes.add(nodeName);
      }
    });
  }

  const edges: EdgeSpec[] = [];
  if (!Array.isArray(top.edges)) {
    issues.add('edges', `expected an array of edges, found ${show(top.edges)}`);
  } else {
    top.edges.forEach((e: unknown, i: number) => {
      const path = `edges[${i}]`;
      if (!isObject(e)) {
        issues.add(path, `expected an edge object {"from", "to", "op"}, found ${show(e)}`);
        return;
      }
      unknownFields(e, EDGE_FIELDS, path, issues);
      const from = nonEmptyString(e.from, `${path}.from`, issues);
      const to = nonEmptyString(e.to, `${path}.to`, issues);
      const op = checkOp(e.op, `${path}.op`, issues);
      const edgeName = e.name === undefined ? undefined : nonEmptyString(e.name, `${path}.name`, issues);
      if (from !== undefined && to !== undefined && op !== undefined) {
        edges.push(edgeName === undefined ? { from, to, op } : { from, to, op, name: edgeName });
      }
    });
  }

  const outputs: string[] = [];
  if (!Array.isArray(top.outputs) || top.outputs.length === 0) {
    issues.add('outputs', `missing: expected a non-empty array of output node names, found ${show(top.outputs)}`);
  } else {
    top.outputs.forEach((o: unknown, i: number) => {
      const out = nonEmptyString(o, `outputs[${i}]`, issues);
      if (out !== undefined) outputs.push(out);
    });
  }

  let description: string | undefined;
  if (top.description !== undefined) {
    if (typeof top.description === 'string') description = top.description;
    else issues.add('description', `expected a string, found ${show(top.description)}`);
  }

  const spec = description === undefined ? { name, nodes, edges, outputs } : { name, description, nodes, edges, outputs };
  return { spec, issues, droppedNodes };
}
