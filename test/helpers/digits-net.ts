import { type Network, validateNetwork } from '../../src/graph/network.js';

/** The smallest network the MNIST camera can feed: one dense layer from a 28x28 image to 10 classes. */
export function digitsNet(): Network {
  return validateNetwork({
    name: 'digits',
    nodes: [
      { name: 'image', shape: [1, 28, 28] },
      { name: 'p', shape: [10], activation: 'softmax' },
    ],
    edges: [{ from: 'image', to: 'p', op: { type: 'dense' } }],
    outputs: ['p'],
  });
}
