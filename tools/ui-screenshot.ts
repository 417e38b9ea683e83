// npm run ui:screenshot [-- FILE.png]: the README's picture of the live view. Runs the default
// model on the synthetic camera at 100 Hz with the view served, opens the page in headless
// Chromium (tools/ui-browser.ts), waits until it has drawn 30 updates, saves the screenshot
// (default docs/ui.png) and stops. Look at the picture before committing it.
import { DEFAULT_MODEL } from '../src/cli/run.js';
import { LoopControl } from '../src/engine/loop-control.js';
import { loadSource } from '../src/engine/model-source.js';
import { runRealtime } from '../src/engine/realtime.js';
import { Runtime } from '../src/engine/runtime.js';
import { responseDelays } from '../src/rollout/response.js';
import { serveUi } from '../src/ui/ui-server.js';
import { openPage } from './ui-browser.js';

if (typeof WebSocket === 'undefined') {
  process.stderr.write('ui:screenshot needs WebSocket: run it with node --experimental-websocket (npm run ui:screenshot does)\n');
  process.exit(2);
}
const out = process.argv[2] ?? new URL('../../docs/ui.png', import.meta.url).pathname;
const loaded = await loadSource(DEFAULT_MODEL, { seed: 1 });
const rt = await Runtime.create(loaded.network, { rollout: loaded.rollout, params: loaded.params });
const control = new LoopControl();
const ui = await serveUi(rt, { control });
const stop = new AbortController();
const net = rt.network;
const loop = runRealtime(
  rt,
  { camera: { seed: 1 } },
  { rateHz: 100, control, signal: stop.signal, statusMs: 100, onStatus: ui.onStatus, labelDelay: responseDelays(net, rt.rollout.delays)[net.outputs[0]] },
);
try {
  // A few seconds of history first, so the charts have something to show.
  await new Promise((r) => setTimeout(r, 4000));
  const report = await openPage(ui.url, { updates: 30, holdS: 0, screenshot: out, width: 1400, height: 980, timeoutS: 60 });
  process.stderr.write(
    `saved ${out} after ${report.updates} updates (states at tick ${report.statesTick})${report.exceptions.length > 0 ? `; page exceptions: ${report.exceptions.join('; ')}` : ''}\n`,
  );
  if (report.exceptions.length > 0) process.exitCode = 1;
} finally {
  stop.abort();
  await loop;
  await ui.close();
  await rt.close();
}
