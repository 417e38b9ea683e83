import { SingleBar } from 'cli-progress';
import { loadSource } from '../engine/model-source.js';
import { initParameters } from '../graph/parameters.js';
import { loadModel, saveModel, type Model } from '../io/model-file.js';
import { mnistSplit } from '../io/mnist-data.js';
import { loadNetworkFile, loadRollout } from '../io/spec-file.js';
import { assertValidRollout } from '../rollout/validity.js';
import { evaluateModel } from '../train/evaluate.js';
import { loadTf } from '../train/tf.js';
import { train } from '../train/trainer.js';
import { shuffled } from '../util/random.js';
import { numberOption } from './args.js';
import { UsageError, type CliIo, type Command } from './command.js';

const TRAIN_HELP = `Usage: streamroll train NET.json [options]
       streamroll train --from MODEL [options]

Trains a network in a rollout with backpropagation through time on noisy MNIST sequences
(the paper's setup: one digit in every frame, fresh Gaussian noise per frame, clipped to
[0,1]), using TensorFlow.js (tfjs-node when installed, else the wasm backend; the log says
which). Writes a model file after every epoch (a checkpoint) and at the end.

TensorFlow.js is not installed with streamroll: npm install @tensorflow/tfjs-node (native),
or @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm (portable), beside it.

With --from it fine-tunes a model trained elsewhere into the rollout: the network and its
starting weights come from MODEL (an ONNX file or a TensorFlow.js model.json, imported as
streamroll import does, or a .srm model file). Its input must be [1,28,28] (or [28,28,1])
and its first output 10 classes. Trained in the streaming rollout, a feedforward model
learns to answer from the frames its shortcuts already see (the paper's earlier responses).

Options:
  --rollout R        streaming (default), sequential, or PATTERN.json
  --data D           mnist-noise (the only data set; 8,000 training digits by default)
  --noise-std X      pixel noise (default 2.0, as in the paper)
  --frames N         output frames in the loss, from the first response on (default 8)
  --epochs E         default 10
  --batch N          default 64
  --optimizer O      adam (default) or rmsprop (the paper's)
  --lr X             learning rate (default 0.001 for Adam, 0.0001 for RMSprop)
                     (dropout is a node field of the spec, "dropout": 0.25: training only)
  --train-digits N   how many of the 8,000 training digits to use (default all)
  --seed N           default 1
  --out FILE         model file to write (default NET-ROLLOUT.srm)
  --from MODEL       start from MODEL's network and weights (instead of NET.json and a
                     seeded initialisation)
  --resume FILE      continue from a checkpoint written by --out (weights and epoch count;
                     Adam's moments start afresh)
  -h, --help         show this help`;

const EVAL_HELP = `Usage: streamroll eval MODEL.srm --data mnist-noise [options]

Accuracy of every output frame on held-out digits, computed by the parallel engine (not by
TensorFlow.js): each test digit is shown for N frames from a reset state with fresh noise.
Frames are placed on the paper's clock: tick k shows paper frame i = k - a (a: the least
delay on edges leaving the inputs, since the paper counts input frame 0 as real input); the
first response sits at its update step T(i*, o), and each later frame F(R) steps after the
one before, so first responses line up with 'streamroll analyze' (docs/semantics.md).

Options:
  --data D           mnist-noise
  --frames N         frames per sequence (default 10)
  --noise-std X      default: the noise the model was trained with, else 2.0
  --digits N         test digits to use (default all 2,000)
  --json             {"rollout", "frames": [{"tick","updateSteps","accuracy"}], "firstResponseStep", "inferenceFactor", ...}
  -h, --help         show this help`;

function checkData(values: Record<string, string | boolean | undefined>): void {
  const data = values.data ?? 'mnist-noise';
  if (data !== 'mnist-noise') throw new UsageError(`--data must be mnist-noise, got "${String(data)}"`);
}

/** `streamroll train`. */
export const trainCommand: Command = {
  name: 'train',
  summary: 'train a rollout with BPTT on noisy MNIST sequences (TensorFlow.js)',
  help: TRAIN_HELP,
  options: {
    rollout: { type: 'string' },
    data: { type: 'string' },
    'noise-std': { type: 'string' },
    frames: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    optimizer: { type: 'string' },
    'train-digits': { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'string' },
    from: { type: 'string' },
  },
  async run(positionals, values, io: CliIo): Promise<number> {
    const from = values.from as string | undefined;
    if (from === undefined && positionals.length !== 1) throw new UsageError('train takes one network spec (NET.json), or --from MODEL');
    if (from !== undefined && positionals.length !== 0) throw new UsageError(`train --from MODEL takes no network spec (got ${positionals.join(' ')}): the network is MODEL's`);
    if (from !== undefined && values.resume !== undefined) throw new UsageError('--from and --resume exclude each other: --resume continues a checkpoint of its own network');
    checkData(values);
    const noiseStd = numberOption(values, 'noise-std', 2.0, (n) => n >= 0, 'a number >= 0');
    const lossFrames = numberOption(values, 'frames', 8, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1');
    const epochs = numberOption(values, 'epochs', 10, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1');
    const batchSize = numberOption(values, 'batch', 64, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1');
    const optimizer = (values.optimizer as string | undefined) ?? 'adam';
    if (optimizer !== 'adam' && optimizer !== 'rmsprop') throw new UsageError(`--optimizer must be adam or rmsprop, got "${optimizer}"`);
    const learningRate = numberOption(values, 'lr', optimizer === 'rmsprop' ? 1e-4 : 1e-3, (n) => n > 0, 'a number > 0');
    const seed = numberOption(values, 'seed', 1, Number.isInteger, 'an integer');
    const source = from === undefined ? undefined : await loadSource(from, {});
    if (source !== undefined && source.weights === 'seeded random') throw new UsageError(`--from ${from}: a network spec holds no weights to start from; train it as streamroll train ${from}`);
    const net = source?.network ?? (await loadNetworkFile(positionals[0]));
    const rolloutArg = (values.rollout as string | undefined) ?? 'streaming';
    const rollout = await loadRollout(net, rolloutArg);
    assertValidRollout(net, rollout.delays);
    const out = (values.out as string | undefined) ?? `${net.name}-${rolloutArg.replace(/\.json$/, '').replace(/[^a-z0-9-]/gi, '_')}.srm`;
    let params = source?.params ?? initParameters(net, { seed });
    let startEpoch = 0;
    if (typeof values.resume === 'string') {
      const ckpt = await loadModel(values.resume);
      if (JSON.stringify(ckpt.network.spec) !== JSON.stringify(net.spec)) throw new UsageError(`--resume ${values.resume} holds network "${ckpt.network.name}", not this spec`);
      params = ckpt.params;
      startEpoch = typeof ckpt.meta.epoch === 'number' ? ckpt.meta.epoch : 0;
    }
    const all = mnistSplit().train;
    const count = numberOption(values, 'train-digits', all.length, (n) => Number.isInteger(n) && n >= batchSize && n <= all.length, `an integer from --batch to ${all.length}`);
    // A seeded shuffle first: the split lists digits class by class, and a subset must hold every class.
    const digits = shuffled(all, seed + 1000).slice(0, count);
    const loaded = await loadTf();
    if (source !== undefined) io.err(`starting from ${from} (${source.weights} weights: ${net.nodes.length} nodes, ${net.edges.length} edges)\n`);
    io.err(`training ${net.name} (${rolloutArg}) on ${digits.length} digits, noise ${noiseStd}, ${epochs} epochs, TensorFlow.js backend: ${loaded.backend}\n`);
    const steps = Math.floor(digits.length / batchSize);
    const bar = new SingleBar({ stream: process.stderr, format: 'epoch {epoch} [{bar}] {value}/{total} steps | loss {loss} | last-frame accuracy {acc}', hideCursor: true });
    bar.start(steps * epochs, 0, { epoch: startEpoch + 1, loss: '-', acc: '-' });
    const started = Date.now();
    let lastLoss = NaN;
    const trained = await train(loaded, net, rollout, params, digits, {
      epochs,
      startEpoch,
      batchSize,
      optimizer,
      learningRate,
      noiseStd,
      lossFrames,
      seed,
      onStep: (_, loss) => bar.increment(1, { loss: loss.toFixed(3) }),
      onEpoch: async (epoch, loss, accuracy, current) => {
        lastLoss = loss;
        bar.update({ epoch: epoch + 1, acc: accuracy.toFixed(3) });
        await saveModel(out, { network: net, rollout, params: current(), meta: trainingMeta(epoch, loss, accuracy) });
      },
    });
    bar.stop();
    const meta = trainingMeta(startEpoch + epochs, lastLoss, NaN);
    await saveModel(out, { network: net, rollout, params: trained, meta });
    io.err(`wrote ${out} after ${((Date.now() - started) / 1000).toFixed(0)} s (final epoch mean loss ${lastLoss.toFixed(3)})\n`);
    return 0;

    function trainingMeta(epoch: number, loss: number, accuracy: number): Record<string, unknown> {
      return {
        epoch,
        loss,
        trainAccuracyLastFrame: Number.isNaN(accuracy) ? null : accuracy,
        data: 'mnist-noise',
        noiseStd,
        lossFrames,
        batchSize,
        learningRate,
        optimizer,
        seed,
        trainDigits: digits.length,
        backend: loaded.backend,
        ...(from === undefined ? {} : { from }),
        command: `streamroll train ${from === undefined ? positionals[0] : `--from ${from}`} --rollout ${rolloutArg} --noise-std ${noiseStd} --frames ${lossFrames} --epochs ${startEpoch + epochs} --batch ${batchSize} --optimizer ${optimizer} --lr ${learningRate} --seed ${seed}`,
        trainedAt: new Date().toISOString(),
      };
    }
  },
};

/** `streamroll eval`. */
export const evalCommand: Command = {
  name: 'eval',
  summary: 'accuracy of every output frame on held-out noisy MNIST, through the engine',
  help: EVAL_HELP,
  options: {
    data: { type: 'string' },
    frames: { type: 'string' },
    'noise-std': { type: 'string' },
    digits: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(positionals, values, io: CliIo): Promise<number> {
    if (positionals.length !== 1) throw new UsageError('eval takes one model file (MODEL.srm)');
    checkData(values);
    const model: Model = await loadModel(positionals[0]);
    const trainedNoise = typeof model.meta.noiseStd === 'number' ? model.meta.noiseStd : 2.0;
    const noiseStd = numberOption(values, 'noise-std', trainedNoise, (n) => n >= 0, 'a number >= 0');
    const frames = numberOption(values, 'frames', 10, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1');
    const test = mnistSplit().test;
    const count = numberOption(values, 'digits', test.length, (n) => Number.isInteger(n) && n >= 1 && n <= test.length, `an integer from 1 to ${test.length}`);
    // Every class in any subset: the split lists digits class by class.
    const tty = process.stderr.isTTY;
    const result = await evaluateModel(model, shuffled(test, 7).slice(0, count), { frames, noiseStd, onProgress: (n) => tty && io.err(`\r${n}/${count} digits`) });
    if (tty) io.err('\r\x1b[K');
    if (values.json === true) {
      io.out(JSON.stringify(result, null, 2) + '\n');
    } else {
      io.out(
        `${model.network.name}, ${result.rollout} rollout: F(R) = ${result.inferenceFactor}, first response at update step ${result.firstResponseStep}; ${result.digits} test digits, noise ${noiseStd}\n`,
      );
      for (const f of result.frames) io.out(`  tick ${String(f.tick).padStart(2)}  update step ${String(f.updateSteps).padStart(3)}  accuracy ${(100 * f.accuracy).toFixed(1)}%\n`);
    }
    return 0;
  },
};
