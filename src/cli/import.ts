import { validateNetwork } from '../graph/network.js';
import { describeOp } from '../graph/network.js';
import { showShape } from '../graph/geometry.js';
import { nodeFlops } from '../engine/placement.js';
import { importModel, isImportable } from '../import/index.js';
import { saveModel } from '../io/model-file.js';
import { analyzeRollout } from '../rollout/analyze.js';
import { resolveRollout } from '../rollout/pattern.js';
import { loadRollout } from '../io/spec-file.js';
import { UsageError, type CliIo, type Command } from './command.js';
import { formatTable } from './table.js';

const HELP = `Usage: streamroll import MODEL.onnx|model.json [-o OUT.srm] [--rollout R] [--json]

Imports a model trained elsewhere: an ONNX file (PyTorch and other exporters), or a
TensorFlow.js model (model.json with its weight shards beside it): a layers model (Keras) or
a graph model (tensorflowjs_converter from a SavedModel); quantised weights (uint8, uint16,
float16) are dequantised. Prints the network it maps to (nodes with shapes and activations,
edges with their ops and weight shapes, FLOPs per frame, what was folded away) and, with -o,
saves it as a streamroll model file that run, bench, analyze and Runtime.create take. They
also take the .onnx or model.json itself.

Batch norms fold into the conv or dense layer before them, zero padding into the conv after
it, bias adds into biases; a residual Add becomes a node with several incoming edges, a
Concat feeding a conv or dense one edge per part. Anything that does not map exactly is
refused as a whole: every such op is listed with its name, type and why, exit code 1.
README.md ("Bring your own model") lists the ops that map.

Input and output names are the model's. An ONNX model's tensors cross the API row-major
[C,H,W] per frame (its NCHW without the batch axis); a TensorFlow.js model's spatial inputs
and outputs keep its own [H,W,C] order (node field layout: "hwc").

Options:
  -o, --out FILE     write the imported model (spec, rollout and weights) to FILE.srm
  --rollout R        the rollout saved with it and reported: pipelined (default: every
                     layer computes at once and each output answers its input of d ticks
                     before exactly as the model does), streaming, sequential, PATTERN.json
  --json             print one JSON document: {"network", "sourceOps", "folded",
                     "flopsPerFrame", "rollout", "outputs": {"<node>": {"delay"}}, "nodes",
                     "edges", "written"}
  -h, --help         show this help

Exit code 1 when the model cannot be imported.`;

/** `streamroll import`: a model from elsewhere as a streamroll network. */
export const importCommand: Command = {
  name: 'import',
  summary: 'import an ONNX or TensorFlow.js model as a streamroll network (and save it as .srm)',
  help: HELP,
  options: {
    out: { type: 'string', short: 'o' },
    rollout: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(positionals, values, io: CliIo): Promise<number> {
    if (positionals.length !== 1) throw new UsageError(`import takes one model file, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
    const path = positionals[0];
    if (!isImportable(path)) throw new UsageError(`${path}: import reads ONNX files (.onnx) and TensorFlow.js models (model.json)`);
    const out = values.out as string | undefined;
    if (out !== undefined && !out.endsWith('.srm')) throw new UsageError(`--out must name a .srm file, got "${out}"`);
    const imported = await importModel(path);
    const net = validateNetwork(imported.spec, path);
    const rolloutArg = (values.rollout as string | undefined) ?? 'pipelined';
    const rollout = rolloutArg === 'pipelined' ? resolveRollout(net, 'pipelined') : await loadRollout(net, rolloutArg);
    const analysis = analyzeRollout(net, rollout);
    if (!analysis.valid) throw new UsageError(`rollout ${rolloutArg} is invalid for ${net.name}: the cycle ${analysis.cycle.join(' -> ')} has R=0 on every edge`);
    const flops = net.nodes.map((n) => nodeFlops(net, n.index));
    const total = flops.reduce((a, b) => a + b, 0);
    if (out !== undefined) {
      await saveModel(out, { network: net, rollout, params: imported.params, meta: { importedFrom: path, format: imported.report.format, folded: imported.report.folded } });
    }
    if (values.json === true) {
      io.out(
        JSON.stringify({
          network: net.name,
          sourceOps: imported.report.sourceOps,
          folded: imported.report.folded,
          flopsPerFrame: total,
          rollout: rollout.kind,
          outputs: Object.fromEntries(Object.entries(analysis.outputs).map(([o, r]) => [o, { delay: r.delay }])),
          nodes: net.nodes.map((n) => ({ name: n.name, shape: n.shape, activation: n.activation, flops: flops[n.index] })),
          edges: net.edges.map((e) => ({ id: e.id, op: describeOp(e.op), weights: e.weightShape, delay: rollout.delays[e.index] })),
          written: out ?? null,
        }) + '\n',
      );
      return 0;
    }
    const lines: string[] = [];
    const ops = Object.entries(imported.report.sourceOps)
      .map(([op, n]) => `${n} ${op}`)
      .join(', ');
    lines.push(`${path}: ${imported.report.format} model "${net.name}" (${ops})`);
    lines.push(`-> ${net.nodes.length} nodes, ${net.edges.length} edges, ${(total / 1e6).toFixed(2)} MFLOP per frame`);
    lines.push('');
    lines.push(formatTable([['node', 'shape', 'activation', 'MFLOP'], ...net.nodes.map((n) => [n.name, showShape(n.shape), n.isInput ? 'input' : n.activation, (flops[n.index] / 1e6).toFixed(3)])]));
    lines.push('');
    lines.push(
      formatTable([['edge', 'op', 'weights', 'R'], ...net.edges.map((e) => [e.id, describeOp(e.op), e.weightShape === null ? '-' : showShape(e.weightShape), String(rollout.delays[e.index])])]),
    );
    if (imported.report.folded.length > 0) {
      lines.push('');
      lines.push('folded:');
      for (const f of imported.report.folded) lines.push(`  ${f}`);
    }
    lines.push('');
    lines.push(
      `rollout ${rollout.kind}: F = ${analysis.inferenceFactor}, ${Object.entries(analysis.outputs)
        .map(([o, r]) => `${o} answers its input of ${r.delay} tick${r.delay === 1 ? '' : 's'} before`)
        .join('; ')}`,
    );
    if (out !== undefined) lines.push(`wrote ${out}`);
    io.out(lines.join('\n') + '\n');
    return 0;
  },
};
