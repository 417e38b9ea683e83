// npm run analysis:dsr — the rollout analysis of the paper's DSR depth ladder
// (examples/cifar-dsr0..6.json) in the sequential and the streaming rollout: inference factor,
// first response and response period against depth. Static: no training, no data.
// Writes results/dsr-analysis.json = {"nets": [{"name", "sequential": {analysis}, "streaming": {analysis}}]}.
import { writeFileSync } from 'node:fs';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { analyzeRollout } from '../src/rollout/analyze.js';

const nets = [];
process.stdout.write('net   layers  sequential: F  first response   streaming: F  first response  period\n');
for (let n = 0; n <= 6; n++) {
  const net = await loadNetworkFile(new URL(`../../examples/cifar-dsr${n}.json`, import.meta.url).pathname);
  const sequential = analyzeRollout(net, 'sequential');
  const streaming = analyzeRollout(net, 'streaming');
  if (!sequential.valid || !streaming.valid) throw new Error(`DSR${n}: invalid rollout`);
  nets.push({ name: `DSR${n}`, sequential, streaming });
  const s = sequential.outputs.prediction;
  const t = streaming.outputs.prediction;
  process.stdout.write(
    `DSR${n}  ${String(net.nodes.length - 1).padStart(6)}  ${String(sequential.inferenceFactor).padStart(13)}  ${String(s.firstResponseStep).padStart(14)}   ${String(streaming.inferenceFactor).padStart(12)}  ${String(t.firstResponseStep).padStart(14)}  ${String(t.responsePeriod).padStart(6)}\n`,
  );
}
const out = new URL('../../results/dsr-analysis.json', import.meta.url).pathname;
writeFileSync(out, JSON.stringify({ nets }, null, 2) + '\n');
process.stdout.write(`wrote ${out}\n`);
