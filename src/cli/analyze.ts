import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { describeOp, type Network } from '../graph/network.js';
import { showShape } from '../graph/geometry.js';
import { loadModel } from '../io/model-file.js';
import { loadNetworkFile, loadRollout } from '../io/spec-file.js';
import { analyzeRollout, defaultWindow, type Analysis, type ValidAnalysis } from '../rollout/analyze.js';
import type { Rollout } from '../rollout/pattern.js';
import { renderWindowSvg } from '../rollout/window-svg.js';
import { UsageError, type CliIo, type Command } from './command.js';
import { formatTable } from './table.js';
import { isImportable } from '../import/index.js';
import { loadSource } from '../engine/model-source.js';

const HELP = `Usage: streamroll analyze NET.json|MODEL.srm|MODEL.onnx|model.json [--rollout R] [--window W] [--json] [--svg FILE]

Static analysis of a rollout of a network (no weights needed): validity, the inference
tableau T(i,v), the inference factor F(R), whether all nodes of a frame run in parallel,
and for every output its response delay, first response step and response period.

Arguments:
  NET.json              a network spec (docs/spec-format.md), a model file (.srm) whose
                        spec and rollout are used, or a model imported on the fly:
                        ONNX (.onnx) or TensorFlow.js (model.json)

Options:
  --rollout R           streaming (default; a model file's own rollout for .srm,
                        pipelined for imported models), sequential, pipelined (feedforward
                        networks), or PATTERN.json: {"default": 1, "edges": {"a->b": 0}}
  --window W            last frame of the tableau (default: 4, or more so every
                        output's first response shows)
  --json                print exactly one JSON document on stdout
  --svg FILE            draw the rollout window (frames x nodes) as SVG
  -h, --help            show this help

Exit code 1 when the rollout is invalid (a cycle of R=0 edges, named in the output).`;

interface Loaded {
  readonly net: Network;
  readonly rollout: Rollout;
  readonly label: string;
}

async function load(path: string, rolloutArg: string | undefined): Promise<Loaded> {
  if (path.endsWith('.srm')) {
    const model = await loadModel(path);
    if (rolloutArg === undefined) return { net: model.network, rollout: model.rollout, label: `the model's ${model.rollout.kind} rollout` };
    return { net: model.network, rollout: await loadRollout(model.network, rolloutArg), label: rolloutArg };
  }
  if (isImportable(path)) {
    // An ONNX model: analysed as imported, pipelined unless told otherwise.
    const loaded = await loadSource(path, {});
    if (rolloutArg === undefined) return { net: loaded.network, rollout: loaded.rollout, label: 'pipelined' };
    return { net: loaded.network, rollout: await loadRollout(loaded.network, rolloutArg), label: rolloutArg };
  }
  const net = await loadNetworkFile(path);
  const arg = rolloutArg ?? 'streaming';
  return { net, rollout: await loadRollout(net, arg), label: arg };
}

function parseWindow(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const w = Number(text);
  if (!Number.isInteger(w) || w < 1 || w > 1000) throw new UsageError(`--window must be an integer from 1 to 1000, got "${text}"`);
  return w;
}

function textReport(net: Network, a: ValidAnalysis, label: string): string {
  const lines: string[] = [];
  lines.push(`network ${net.name}, rollout ${label}: valid, ${a.modelParallel ? 'fully model-parallel' : 'not fully model-parallel (some edges between computed nodes have R=0)'}`);
  lines.push(`inference factor F(R) = ${a.inferenceFactor} update step${a.inferenceFactor === 1 ? '' : 's'} per frame`);
  lines.push('');
  lines.push(formatTable([['edge', 'op', 'R'], ...net.edges.map((e) => [e.id, describeOp(e.op), String(a.rollout[e.id])])]));
  lines.push('');
  lines.push('tableau T(i,v): update step at which node v of frame i is known');
  const frames = Array.from({ length: a.window + 1 }, (_, i) => String(i));
  lines.push(formatTable([['node', 'shape', ...frames.map((f) => `f${f}`)], ...net.nodes.map((n) => [n.name, showShape(n.shape), ...a.tableau[n.name].map(String)])]));
  lines.push('');
  lines.push(
    formatTable([
      ['output', 'delay (ticks)', 'first response (step)', 'response period (steps)'],
      ...Object.entries(a.outputs).map(([o, r]) => [o, String(r.delay), String(r.firstResponseStep), String(r.responsePeriod)]),
    ]),
  );
  const fast = a.fastestModelParallel;
  const gain = Object.entries(fast.outputs)
    .map(([o, r]) => `${o} delay ${r.delay}, first response at step ${r.firstResponseStep}`)
    .join('; ');
  lines.push('');
  lines.push(`fastest fully model-parallel pattern (R=0 on edges out of inputs, 1 elsewhere): F=${fast.inferenceFactor}, ${gain}`);
  return lines.join('\n') + '\n';
}

/** `streamroll analyze`: the static analysis of docs/semantics.md, printed as docs/cli-json.md says. */
export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'validity, tableau, inference factor and response times of a rollout',
  help: HELP,
  options: {
    rollout: { type: 'string' },
    window: { type: 'string' },
    json: { type: 'boolean' },
    svg: { type: 'string' },
  },
  async run(positionals: string[], values, io: CliIo): Promise<number> {
    if (positionals.length !== 1) throw new UsageError(`analyze takes one network file, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
    const window = parseWindow(values.window as string | undefined);
    const { net, rollout, label } = await load(positionals[0], values.rollout as string | undefined);
    const analysis: Analysis = analyzeRollout(net, rollout, window === undefined ? {} : { window });
    if (typeof values.svg === 'string') {
      const w = analysis.valid
        ? analysis.window
        : (window ??
          defaultWindow(
            net,
            rollout.delays.map((r) => Math.max(r, 1)),
          ));
      await writeFile(values.svg, renderWindowSvg(net, rollout.delays, { window: w, label: basename(label) }));
    }
    if (values.json === true) {
      io.out(JSON.stringify(analysis, null, 2) + '\n');
    } else if (analysis.valid) {
      io.out(textReport(net, analysis, label));
    }
    if (!analysis.valid) {
      io.err(`invalid rollout ${label} for ${net.name}: the cycle ${analysis.cycle.join(' -> ')} has R=0 on every edge (${analysis.cycleEdges.join(', ')}); give one of these edges a delay >= 1\n`);
      return 1;
    }
    if (typeof values.svg === 'string' && values.json !== true) io.out(`wrote ${values.svg}\n`);
    return 0;
  },
};
