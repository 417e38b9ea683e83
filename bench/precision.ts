// npm run bench:precision [-- --json]
// Half-width (bfloat16 and IEEE half) dense weights against float32 on the native kernels:
// single-thread time per step of a one-layer dense network (the dense kernel plus copying its
// input in), interleaved rounds, medians; and the accuracy cost on the shipped MNIST model,
// every output frame of the 2,000 held-out digits through the engine in each precision.
import { cpus } from 'node:os';
import { validateNetwork } from '../src/graph/network.js';
import { initParameters } from '../src/graph/parameters.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { Runtime } from '../src/engine/runtime.js';
import { nativeAvailable } from '../src/kernels/backends.js';
import { NATIVE_BF16_BACKEND, NATIVE_FP16_BACKEND } from '../src/kernels/native/index.js';
import { loadModel } from '../src/io/model-file.js';
import { mnistSplit } from '../src/io/mnist-data.js';
import { heldDigitAccuracy } from '../src/train/evaluate.js';
import { Random, shuffled } from '../src/util/random.js';
import { benchArgs, benchFail } from './args.js';
import { timeInterleaved } from './timing.js';

const USAGE = 'usage: npm run bench:precision [-- --json]';
const values = benchArgs(USAGE, { json: { type: 'boolean' } });
if (!nativeAvailable()) benchFail('the native kernels are not built here; bfloat16 weights need them', USAGE);

const rows: { op: string; weightsMb: number; fp32Us: number; bf16Us: number; speedup: number; fp16Us: number; fp16Speedup: number }[] = [];
for (const [inSize, outSize] of [
  [256, 256],
  [1024, 1024],
  [2048, 2048],
  [4096, 1024],
]) {
  const net = validateNetwork({
    name: 'dense',
    nodes: [
      { name: 'x', shape: [inSize] },
      { name: 'y', shape: [outSize] },
    ],
    edges: [{ from: 'x', to: 'y', op: { type: 'dense' } }],
    outputs: ['y'],
  });
  const params = initParameters(net, { seed: 1 });
  const x = Float32Array.from({ length: inSize }, (_, i) => Math.sin(i));
  const fp32 = new ReferenceExecutor(net, { default: 0 }, params, { backend: 'native' });
  const bf16 = new ReferenceExecutor(net, { default: 0 }, params, { backend: NATIVE_BF16_BACKEND });
  const fp16 = new ReferenceExecutor(net, { default: 0 }, params, { backend: NATIVE_FP16_BACKEND });
  const times = await timeInterleaved([
    { name: 'fp32', call: () => void fp32.step(x) },
    { name: 'bf16', call: () => void bf16.step(x) },
    { name: 'fp16', call: () => void fp16.step(x) },
  ]);
  const a = times.get('fp32') as number;
  const b = times.get('bf16') as number;
  const h = times.get('fp16') as number;
  rows.push({
    op: `dense-${inSize}x${outSize}`,
    weightsMb: Number(((inSize * outSize * 4) / 2 ** 20).toFixed(2)),
    fp32Us: Number(a.toFixed(2)),
    bf16Us: Number(b.toFixed(2)),
    speedup: Number((a / b).toFixed(2)),
    fp16Us: Number(h.toFixed(2)),
    fp16Speedup: Number((a / h).toFixed(2)),
  });
}

const model = await loadModel(new URL('../../examples/mnist-sr.srm', import.meta.url).pathname);
const digits = shuffled(mnistSplit().test, 7);
const accuracy: Record<string, number[]> = {};
for (const precision of ['fp32', 'bf16', 'fp16'] as const) {
  const rt = await Runtime.create(model, { precision, workers: 1 });
  try {
    accuracy[precision] = (await heldDigitAccuracy(rt, digits, { frames: 10, noiseStd: 2.0, rng: new Random(99) })).map((x) => Number(x.toFixed(4)));
  } finally {
    await rt.close();
  }
}
const doc = { machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`, dense: rows, mnistSrAccuracyByTick: accuracy };
if (values.json === true) {
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
} else {
  process.stdout.write(`${doc.machine}; one thread, medians of interleaved rounds (µs per step)\n`);
  for (const r of rows)
    process.stdout.write(
      `${r.op.padEnd(18)} ${String(r.weightsMb).padStart(6)} MB fp32  fp32 ${String(r.fp32Us).padStart(8)}  bf16 ${String(r.bf16Us).padStart(8)} (${r.speedup}x)  fp16 ${String(r.fp16Us).padStart(8)} (${r.fp16Speedup}x)\n`,
    );
  process.stdout.write(`mnist-sr accuracy by tick, fp32: ${accuracy.fp32.map((x) => (100 * x).toFixed(1)).join(' ')}\n`);
  process.stdout.write(`mnist-sr accuracy by tick, bf16: ${accuracy.bf16.map((x) => (100 * x).toFixed(1)).join(' ')}\n`);
  process.stdout.write(`mnist-sr accuracy by tick, fp16: ${accuracy.fp16.map((x) => (100 * x).toFixed(1)).join(' ')}\n`);
}
