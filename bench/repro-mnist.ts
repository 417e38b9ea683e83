// npm run repro:mnist [-- --quick] [-- --epochs E] [-- --seeds N]
// The paper's MNIST experiment with our own training and runtime: FF, S and SR, each
// trained in the streaming and the sequential rollout (SR also in the paper's hybrid) with
// several seeds, evaluated through the parallel engine on held-out digits; mean and spread
// of the accuracy against update steps.
// Writes results/mnist-repro.json and results/mnist-repro.svg and prints a table.
import { writeFile, mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { benchArgs, benchNumber } from './args.js';
import { lineChart } from '../src/cli/charts.js';
import { initParameters } from '../src/graph/parameters.js';
import { mnistSplit } from '../src/io/mnist-data.js';
import { saveModel } from '../src/io/model-file.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { delaysByEdgeId, resolveRollout, type RolloutSpec } from '../src/rollout/pattern.js';
import { validateNetwork, type Network } from '../src/graph/network.js';
import { evaluateModel } from '../src/train/evaluate.js';
import { loadTf } from '../src/train/tf.js';
import { train } from '../src/train/trainer.js';
import { shuffled } from '../src/util/random.js';

const USAGE = `usage: npm run repro:mnist [-- --quick] [-- --epochs E] [-- --seeds N] [-- --noise-std S] [-- --out DIR]

The paper's MNIST experiment: FF, S and SR trained in streaming, sequential (and the paper's
hybrid) rollouts with the paper's recipe as far as two cores allow (dropout 0.25 after h1 and
0.5 after h2, batch 128, RMSprop), each with several seeds, evaluated through the parallel
engine; mean and standard deviation of the accuracy against update steps.
  --quick        2,000 training digits, 300 test digits, 1 epoch, 1 seed (a smoke run)
  --epochs E     training epochs (default 10, 1 with --quick; the paper: 100)
  --seeds N      repetitions with seeds 1..N (default 3; the paper: 6)
  --lr X         RMSprop learning rate (default 0.001: ten times the paper's 1e-4 for a tenth
                 of its epochs)
  --noise-std S  standard deviation of the Gaussian noise on each frame (default 2.0)
  --out DIR      where mnist-repro.json and mnist-repro.svg go (default results, or
                 results/quick with --quick, which is not committed, so a smoke run never
                 overwrites the committed results)`;
const values = benchArgs(USAGE, {
  quick: { type: 'boolean' },
  epochs: { type: 'string' },
  seeds: { type: 'string' },
  lr: { type: 'string' },
  'noise-std': { type: 'string' },
  out: { type: 'string' },
});
const quick = values.quick === true;
const epochs = benchNumber(values, 'epochs', quick ? 1 : 10, (n) => Number.isInteger(n) && n >= 1, 'a whole number of epochs >= 1', USAGE);
const seedCount = benchNumber(values, 'seeds', quick ? 1 : 3, (n) => Number.isInteger(n) && n >= 1, 'a whole number of seeds >= 1', USAGE);
const learningRate = benchNumber(values, 'lr', 1e-3, (n) => Number.isFinite(n) && n > 0, 'a learning rate > 0', USAGE);
const noiseStd = benchNumber(values, 'noise-std', 2.0, (n) => Number.isFinite(n) && n >= 0, 'a standard deviation >= 0', USAGE);
const outDir = typeof values.out === 'string' ? values.out : quick ? 'results/quick' : 'results';
const split = mnistSplit();
const trainDigits = shuffled(split.train, 11).slice(0, quick ? 2000 : split.train.length);
const testDigits = shuffled(split.test, 7).slice(0, quick ? 300 : split.test.length);
const frames = 10;
const batchSize = 128;
// The paper's dropout (its Keras scripts: after h1 and after h2), a training-only node field.
const dropout: Record<string, number> = { h1: 0.25, h2: 0.5 };
const seeds = Array.from({ length: seedCount }, (_, i) => i + 1);
const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

async function withDropout(file: string): Promise<Network> {
  const spec = (await loadNetworkFile(example(file))).spec;
  return validateNetwork({ ...spec, nodes: spec.nodes.map((n) => (dropout[n.name] === undefined ? n : { ...n, dropout: dropout[n.name] })) });
}

const runs: { net: string; file: string; rollout: string; spec: RolloutSpec }[] = [
  { net: 'FF', file: 'mnist-ff', rollout: 'streaming', spec: 'streaming' },
  { net: 'FF', file: 'mnist-ff', rollout: 'sequential', spec: 'sequential' },
  { net: 'S', file: 'mnist-s', rollout: 'streaming', spec: 'streaming' },
  { net: 'S', file: 'mnist-s', rollout: 'sequential', spec: 'sequential' },
  { net: 'SR', file: 'mnist-sr', rollout: 'streaming', spec: 'streaming' },
  { net: 'SR', file: 'mnist-sr', rollout: 'sequential', spec: 'sequential' },
  // The paper's hybrid (its mnist_hybrid script): the image edge and h2 -> prediction inside the frame, the rest delayed.
  { net: 'SR', file: 'mnist-sr', rollout: 'hybrid', spec: { default: 1, edges: { 'image->h1': 0, 'h2->prediction': 0 } } },
];

interface Run {
  net: string;
  rollout: string;
  pattern: Record<string, number>;
  firstResponseStep: number;
  inferenceFactor: number;
  frames: { tick: number; updateSteps: number; accuracy: number; std: number; bySeed: number[] }[];
  trainSeconds: number;
}

const loaded = await loadTf();
const started = Date.now();
process.stderr.write(
  `MNIST repro: ${trainDigits.length} training / ${testDigits.length} test digits, noise ${noiseStd}, ${epochs} epoch(s), seeds ${seeds.join(',')}, batch ${batchSize}, RMSprop lr ${learningRate}, dropout h1 0.25 h2 0.5, TensorFlow.js ${loaded.backend}\n`,
);
const results: Run[] = [];
for (const run of runs) {
  const net = await withDropout(run.file);
  const rollout = resolveRollout(net, run.spec);
  const t0 = Date.now();
  const bySeed: { tick: number; updateSteps: number; accuracy: number }[][] = [];
  let first = NaN;
  let factor = NaN;
  for (const seed of seeds) {
    const params = await train(loaded, net, rollout, initParameters(net, { seed }), trainDigits, {
      epochs,
      noiseStd,
      seed,
      batchSize,
      optimizer: 'rmsprop',
      learningRate,
      onEpoch: (epoch, loss, acc) =>
        void process.stderr.write(`  ${run.net} ${run.rollout} seed ${seed}: epoch ${epoch}/${epochs} loss ${loss.toFixed(3)} last-frame train accuracy ${acc.toFixed(3)}\n`),
    });
    const model = { network: net, rollout, params, meta: { epochs, noiseStd, trainDigits: trainDigits.length, seed } };
    if (seed === seeds[0]) {
      await mkdir(`${outDir}/models`, { recursive: true });
      await saveModel(`${outDir}/models/${run.file}-${run.rollout}.srm`, model);
    }
    const ev = await evaluateModel(model, testDigits, { frames, noiseStd });
    bySeed.push(ev.frames);
    first = ev.firstResponseStep;
    factor = ev.inferenceFactor;
  }
  const trainSeconds = (Date.now() - t0) / 1000 / seeds.length;
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const framesOut = bySeed[0].map((f, k) => {
    const xs = bySeed.map((s) => s[k].accuracy);
    const m = mean(xs);
    return { tick: f.tick, updateSteps: f.updateSteps, accuracy: m, std: Math.sqrt(mean(xs.map((x) => (x - m) ** 2))), bySeed: xs };
  });
  results.push({ net: run.net, rollout: run.rollout, pattern: delaysByEdgeId(net, rollout.delays), firstResponseStep: first, inferenceFactor: factor, frames: framesOut, trainSeconds });
  process.stderr.write(
    `  ${run.net} ${run.rollout}: ${trainSeconds.toFixed(0)} s a seed; mean accuracy by update step ${framesOut.map((f) => `${f.updateSteps}:${(100 * f.accuracy).toFixed(0)}±${(100 * f.std).toFixed(0)}%`).join(' ')}\n`,
  );
}

const doc = {
  setup: {
    seeds,
    epochs,
    batch: batchSize,
    dropout: [dropout.h1, dropout.h2],
    dropoutNodes: dropout,
    optimizer: 'rmsprop',
    learningRate,
    trainDigits: trainDigits.length,
    testDigits: testDigits.length,
    noiseStd,
    differsFromThePaper: `${epochs} epochs instead of 100 (learning rate ${learningRate} instead of 1e-4 to make up for it), ${seeds.length} seeds instead of 6, the mnist package's 8,000/2,000 digits instead of the full data set`,
  },
  runs: results.map((r) => ({
    net: r.net,
    rollout: r.rollout,
    ...(r.rollout === 'hybrid' ? { pattern: r.pattern } : {}),
    firstResponseStep: r.firstResponseStep,
    inferenceFactor: r.inferenceFactor,
    frames: r.frames,
    trainSeconds: r.trainSeconds,
  })),
  trainDigits: trainDigits.length,
  testDigits: testDigits.length,
  noiseStd,
  epochs,
  optimizer: `rmsprop, lr ${learningRate}, batch ${batchSize}, dropout 0.25 after h1 and 0.5 after h2 (the paper: RMSprop 1e-4, 100 epochs)`,
  command: `npm run repro:mnist${quick ? ' -- --quick' : ''}${values.epochs !== undefined ? ` -- --epochs ${epochs}` : ''}${values.seeds !== undefined ? ` -- --seeds ${seedCount}` : ''}`,
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, TensorFlow.js ${loaded.backend}`,
  minutes: Number(((Date.now() - started) / 60000).toFixed(1)),
};
await mkdir(outDir, { recursive: true });
await writeFile(`${outDir}/mnist-repro.json`, JSON.stringify(doc, null, 2) + '\n');
// The spread: each rollout's mean, and its mean +- one standard deviation over seeds as thin companions.
const svg = ['FF', 'S', 'SR']
  .map((net) =>
    lineChart(
      `MNIST ${net}: accuracy against update steps`,
      'update steps',
      'test accuracy',
      results
        .filter((r) => r.net === net)
        .flatMap((r) => [
          { name: r.rollout, points: r.frames.map((f) => [f.updateSteps, Number(f.accuracy.toFixed(4))] as const) },
          ...(seeds.length > 1
            ? [-1, 1].map((sign) => ({ name: `${r.rollout} ${sign < 0 ? '-' : '+'}1 sd`, points: r.frames.map((f) => [f.updateSteps, Number((f.accuracy + sign * f.std).toFixed(4))] as const) }))
            : []),
        ]),
      { yMin: 0, yMax: 1 },
    ),
  )
  .map((chart, i) => chart.replace('<svg ', `<svg x="${i * 560}" `))
  .join('');
await writeFile(`${outDir}/mnist-repro.svg`, `<svg xmlns="http://www.w3.org/2000/svg" width="${3 * 560}" height="320">${svg}</svg>\n`);
process.stdout.write(`\n${'net'.padEnd(4)}${'rollout'.padEnd(12)}first response  mean accuracy at update steps 1..10\n`);
for (const r of results) {
  const at = (s: number): string => {
    const f = r.frames.find((x) => x.updateSteps === s);
    return f === undefined ? '   - ' : `${(100 * f.accuracy).toFixed(0).padStart(4)}%`;
  };
  process.stdout.write(`${r.net.padEnd(4)}${r.rollout.padEnd(12)}${String(r.firstResponseStep).padStart(14)}  ${Array.from({ length: 10 }, (_, i) => at(i + 1)).join(' ')}\n`);
}
process.stdout.write(`\nwrote ${outDir}/mnist-repro.json and ${outDir}/mnist-repro.svg (${doc.minutes} min)\n`);
