// npm run repro:mnist [-- --quick] [-- --epochs E]
// The paper's MNIST experiment with our own training and runtime: FF, S and SR, each
// trained in the streaming and the sequential rollout (SR also in a hybrid), evaluated
// through the parallel engine on held-out digits; accuracy against update steps.
// Writes results/mnist-repro.json and results/mnist-repro.svg and prints a table.
import { writeFile, mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { benchArgs, benchNumber } from './args.js';
import { lineChart } from '../src/cli/charts.js';
import { initParameters } from '../src/graph/parameters.js';
import { mnistSplit } from '../src/io/mnist-data.js';
import { saveModel } from '../src/io/model-file.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { resolveRollout, type RolloutSpec } from '../src/rollout/pattern.js';
import { evaluateModel } from '../src/train/evaluate.js';
import { loadTf } from '../src/train/tf.js';
import { train } from '../src/train/trainer.js';
import { shuffled } from '../src/util/random.js';

const USAGE = `usage: npm run repro:mnist [-- --quick] [-- --epochs E] [-- --noise-std S] [-- --out DIR]

The paper's MNIST experiment: FF, S and SR trained in streaming, sequential (and hybrid)
rollouts, evaluated through the parallel engine; accuracy against update steps.
  --quick        2,000 training digits, 300 test digits, 1 epoch (a smoke run)
  --epochs E     training epochs (default 10, 1 with --quick)
  --noise-std S  standard deviation of the Gaussian noise on each frame (default 2.0)
  --out DIR      where mnist-repro.json and mnist-repro.svg go (default results, or
                 results/quick with --quick, which is not committed, so a smoke run never
                 overwrites the committed results)`;
const values = benchArgs(USAGE, { quick: { type: 'boolean' }, epochs: { type: 'string' }, 'noise-std': { type: 'string' }, out: { type: 'string' } });
const quick = values.quick === true;
const epochs = benchNumber(values, 'epochs', quick ? 1 : 10, (n) => Number.isInteger(n) && n >= 1, 'a whole number of epochs >= 1', USAGE);
const noiseStd = benchNumber(values, 'noise-std', 2.0, (n) => Number.isFinite(n) && n >= 0, 'a standard deviation >= 0', USAGE);
const outDir = typeof values.out === 'string' ? values.out : quick ? 'results/quick' : 'results';
const split = mnistSplit();
const trainDigits = shuffled(split.train, 11).slice(0, quick ? 2000 : split.train.length);
const testDigits = shuffled(split.test, 7).slice(0, quick ? 300 : split.test.length);
const frames = 10;
const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;

const runs: { net: string; file: string; rollout: string; spec: RolloutSpec }[] = [
  { net: 'FF', file: 'mnist-ff', rollout: 'streaming', spec: 'streaming' },
  { net: 'FF', file: 'mnist-ff', rollout: 'sequential', spec: 'sequential' },
  { net: 'S', file: 'mnist-s', rollout: 'streaming', spec: 'streaming' },
  { net: 'S', file: 'mnist-s', rollout: 'sequential', spec: 'sequential' },
  { net: 'SR', file: 'mnist-sr', rollout: 'streaming', spec: 'streaming' },
  { net: 'SR', file: 'mnist-sr', rollout: 'sequential', spec: 'sequential' },
  // Hybrid: the image edge and the skip edge inside the frame, the rest delayed.
  { net: 'SR', file: 'mnist-sr', rollout: 'hybrid', spec: { default: 1, edges: { 'image->h1': 0, 'h1->prediction': 0 } } },
];

const loaded = await loadTf();
const started = Date.now();
process.stderr.write(`MNIST repro: ${trainDigits.length} training / ${testDigits.length} test digits, noise ${noiseStd}, ${epochs} epoch(s) per run, TensorFlow.js ${loaded.backend}\n`);
const results: { net: string; rollout: string; firstResponseStep: number; inferenceFactor: number; frames: { tick: number; updateSteps: number; accuracy: number }[]; trainSeconds: number }[] = [];
for (const run of runs) {
  const net = await loadNetworkFile(example(run.file));
  const rollout = resolveRollout(net, run.spec);
  const t0 = Date.now();
  const params = await train(loaded, net, rollout, initParameters(net, { seed: 1 }), trainDigits, {
    epochs,
    noiseStd,
    seed: 1,
    onEpoch: (epoch, loss, acc) => void process.stderr.write(`  ${run.net} ${run.rollout}: epoch ${epoch}/${epochs} loss ${loss.toFixed(3)} last-frame train accuracy ${acc.toFixed(3)}\n`),
  });
  const trainSeconds = (Date.now() - t0) / 1000;
  const model = { network: net, rollout, params, meta: { epochs, noiseStd, trainDigits: trainDigits.length } };
  await mkdir(`${outDir}/models`, { recursive: true });
  await saveModel(`${outDir}/models/${run.file}-${run.rollout}.srm`, model);
  const ev = await evaluateModel(model, testDigits, { frames, noiseStd });
  results.push({ net: run.net, rollout: run.rollout, firstResponseStep: ev.firstResponseStep, inferenceFactor: ev.inferenceFactor, frames: ev.frames, trainSeconds });
  process.stderr.write(
    `  ${run.net} ${run.rollout}: trained in ${trainSeconds.toFixed(0)} s; accuracy by update step ${ev.frames.map((f) => `${f.updateSteps}:${(100 * f.accuracy).toFixed(0)}%`).join(' ')}\n`,
  );
}

const doc = {
  runs: results.map((r) => ({
    net: r.net,
    rollout: r.rollout,
    firstResponseStep: r.firstResponseStep,
    inferenceFactor: r.inferenceFactor,
    frames: r.frames.map((f) => ({ tick: f.tick, updateSteps: f.updateSteps, accuracy: f.accuracy })),
    trainSeconds: r.trainSeconds,
  })),
  trainDigits: trainDigits.length,
  testDigits: testDigits.length,
  noiseStd,
  epochs,
  optimizer: 'adam, lr 0.001, batch 64 (the paper: RMSprop 1e-4, 100 epochs)',
  command: `npm run repro:mnist${quick ? ' -- --quick' : ''}${values.epochs !== undefined ? ` -- --epochs ${epochs}` : ''}`,
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, TensorFlow.js ${loaded.backend}`,
  minutes: Number(((Date.now() - started) / 60000).toFixed(1)),
};
await mkdir(outDir, { recursive: true });
await writeFile(`${outDir}/mnist-repro.json`, JSON.stringify(doc, null, 2) + '\n');
const svg = ['FF', 'S', 'SR']
  .map((net) =>
    lineChart(
      `MNIST ${net}: accuracy against update steps`,
      'update steps',
      'test accuracy',
      results.filter((r) => r.net === net).map((r) => ({ name: r.rollout, points: r.frames.map((f) => [f.updateSteps, Number(f.accuracy.toFixed(4))] as const) })),
      { yMin: 0, yMax: 1 },
    ),
  )
  .map((chart, i) => chart.replace('<svg ', `<svg x="${i * 560}" `))
  .join('');
await writeFile(`${outDir}/mnist-repro.svg`, `<svg xmlns="http://www.w3.org/2000/svg" width="${3 * 560}" height="320">${svg}</svg>\n`);
process.stdout.write(`\n${'net'.padEnd(4)}${'rollout'.padEnd(12)}first response  accuracy at update steps 1..10\n`);
for (const r of results) {
  const at = (s: number): string => {
    const f = r.frames.find((x) => x.updateSteps === s);
    return f === undefined ? '   - ' : `${(100 * f.accuracy).toFixed(0).padStart(4)}%`;
  };
  process.stdout.write(`${r.net.padEnd(4)}${r.rollout.padEnd(12)}${String(r.firstResponseStep).padStart(14)}  ${Array.from({ length: 10 }, (_, i) => at(i + 1)).join(' ')}\n`);
}
process.stdout.write(`\nwrote ${outDir}/mnist-repro.json and ${outDir}/mnist-repro.svg (${doc.minutes} min)\n`);
