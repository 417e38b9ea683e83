// npm run data:dsr — writes examples/cifar-dsr0.json .. cifar-dsr6.json: the paper's DSR depth
// ladder (densely skip-connected CIFAR-10 networks), reconstructed from the structure of the
// authors' model files (boschresearch/statestream, reference/model_specifications/
// cifar_DSR{0..6}.st_graph): node shapes, activations, dropout and which layer feeds which.
// DSRn adds n layers: ceil(n/2) in the 32x32 stage after h1, floor(n/2) in the 16x16 stage
// after h2; each added layer reads the stage's head and every layer added before it, the next
// stage's head reads all of the stage, and h1 has a recurrent 3x3 conv. Their files leave the
// resolution changes to statestream's synapse rescaling; here they are strided 3x3 convs
// (stride 2 into h2, 4 into hd), which keeps the graph, and so every rollout figure, the same.
import { writeFileSync } from 'node:fs';
import type { EdgeSpec, NetworkSpec, NodeSpec } from '../src/graph/spec.js';
import { validateNetwork } from '../src/graph/network.js';

function dsr(n: number): NetworkSpec {
  const stage1 = Array.from({ length: Math.ceil(n / 2) }, (_, i) => `h1${i + 1}`);
  const stage2 = Array.from({ length: Math.floor(n / 2) }, (_, i) => `h2${i + 1}`);
  const conv = (kernel: number, stride = 1): EdgeSpec['op'] => ({ type: 'conv2d', kernel, stride, padding: 'same' });
  const nodes: NodeSpec[] = [
    { name: 'image', shape: [3, 32, 32] },
    { name: 'h1', shape: [32, 32, 32], activation: 'relu', dropout: 0.25 },
    ...stage1.map((name): NodeSpec => ({ name, shape: [32, 32, 32], activation: 'relu', dropout: 0.25 })),
    { name: 'h2', shape: [64, 16, 16], activation: 'relu', dropout: 0.25 },
    ...stage2.map((name): NodeSpec => ({ name, shape: [64, 16, 16], activation: 'relu', dropout: 0.25 })),
    { name: 'hd', shape: [512, 4, 4], activation: 'relu', dropout: 0.5 },
    { name: 'prediction', shape: [10], activation: 'softmax' },
  ];
  const edges: EdgeSpec[] = [
    { from: 'image', to: 'h1', op: conv(5) },
    { from: 'h1', to: 'h1', op: conv(3) },
    ...stage1.flatMap((to, i) => ['h1', ...stage1.slice(0, i)].map((from): EdgeSpec => ({ from, to, op: conv(3) }))),
    ...['h1', ...stage1].map((from): EdgeSpec => ({ from, to: 'h2', op: conv(3, 2) })),
    ...stage2.flatMap((to, i) => ['h2', ...stage2.slice(0, i)].map((from): EdgeSpec => ({ from, to, op: conv(3) }))),
    ...['h2', ...stage2].map((from): EdgeSpec => ({ from, to: 'hd', op: conv(3, 4) })),
    { from: 'hd', to: 'prediction', op: { type: 'dense' } },
  ];
  return {
    name: `cifar-dsr${n}`,
    description: `The paper's DSR${n} (CIFAR-10, densely skip-connected, ${n} layers beyond DSR0), reconstructed from the structure of the authors' cifar_DSR${n}.st_graph by tools/dsr-specs.ts.`,
    nodes,
    edges,
    outputs: ['prediction'],
  };
}

for (let n = 0; n <= 6; n++) {
  const spec = dsr(n);
  validateNetwork(spec);
  const path = new URL(`../../examples/cifar-dsr${n}.json`, import.meta.url).pathname;
  writeFileSync(path, JSON.stringify(spec, null, 2) + '\n');
  process.stdout.write(`${path}\n`);
}
