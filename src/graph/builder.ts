import { validateNetwork, type Network } from './network.js';
import type { Activation, Conv2dOp, EdgeOp, EdgeSpec, NetworkSpec, NodeSpec, PoolOp, Shape } from './spec.js';

/** `{type: 'dense'}` */
export const dense = (): EdgeOp => ({ type: 'dense' });
/** `{type: 'identity'}` */
export const identity = (): EdgeOp => ({ type: 'identity' });
/** A conv2d op; omitted fields keep their defaults (stride 1, padding same, dilation 1). */
export const conv2d = (params: Omit<Conv2dOp, 'type'>): EdgeOp => ({ type: 'conv2d', ...params });
/** A maxpool op; stride defaults to the kernel, padding to valid. */
export const maxpool = (params: Omit<PoolOp, 'type'>): EdgeOp => ({ type: 'maxpool', ...params });
/** An avgpool op; stride defaults to the kernel, padding to valid. */
export const avgpool = (params: Omit<PoolOp, 'type'>): EdgeOp => ({ type: 'avgpool', ...params });

/**
 * Typed builder for a {@link NetworkSpec}. `build()` returns the same plain object a JSON
 * spec file holds, so a network can be written in code and saved as JSON, or the reverse.
 *
 * @example
 * const spec = new NetworkBuilder('mnist-ff')
 *   .node('image', [1, 28, 28])
 *   .node('h1', [16, 7, 7], 'relu')
 *   .edge('image', 'h1', conv2d({ kernel: 7, stride: 4, padding: 'same' }))
 *   .output('h1')
 *   .build();
 */
export class NetworkBuilder {
  readonly #name: string;
  #description: string | undefined;
  readonly #nodes: NodeSpec[] = [];
  readonly #edges: EdgeSpec[] = [];
  readonly #outputs: string[] = [];

  constructor(name: string) {
    this.#name = name;
  }

  /** Sets the one-line description. */
  describe(text: string): this {
    this.#description = text;
    return this;
  }

  /** Adds a node; nodes keep the order they are added in (it defines the sequential preset). */
  node(name: string, shape: Shape, activation?: Activation): this {
    this.#nodes.push(activation === undefined ? { name, shape: [...shape] as unknown as Shape } : { name, shape: [...shape] as unknown as Shape, activation });
    return this;
  }

  /** Adds an edge `from -> to`; `name` is needed only when two edges join the same pair. */
  edge(from: string, to: string, op: EdgeOp, name?: string): this {
    this.#edges.push(name === undefined ? { from, to, op } : { from, to, op, name });
    return this;
  }

  /** Marks nodes as outputs, in order. */
  output(...names: string[]): this {
    this.#outputs.push(...names);
    return this;
  }

  /** The plain spec object (not yet validated). */
  build(): NetworkSpec {
    const base = { name: this.#name, nodes: [...this.#nodes], edges: [...this.#edges], outputs: [...this.#outputs] };
    return this.#description === undefined ? base : { name: this.#name, description: this.#description, nodes: base.nodes, edges: base.edges, outputs: base.outputs };
  }

  /** Builds and validates; throws a SpecError naming each problem. */
  validate(): Network {
    return validateNetwork(this.build());
  }
}
