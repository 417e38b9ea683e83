// npm run bench:ui [-- --json] [-- --seconds S] [-- --rounds N] [-- --rate HZ] [-- --refresh HZ]
// What the live view costs the loop it watches: the default model's real-time loop (camera,
// 100 Hz) in phases of one run, rotating through four views each round:
//   off            no view served;
//   events         the view served, one client reading its event stream (everything this
//                  process does for a page: states read, decimated, serialised, sent);
//   browser-blank  headless Chromium (Debian's package) open on about:blank: what a browser on
//                  the same cores costs the loop whatever it shows;
//   browser        the page open in that browser;
//   browser-nice   the same browser at nice 19, as a browser that yields the cores would.
// Medians over rounds of each phase's p99 latency, and the ratios to `off`. Also the main
// thread's cost of one update on the default model and on conv-chain-4 (5 maps of 16x32x32).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, cpus } from 'node:os';
import { benchArgs, benchFail, benchNumber, benchRounds } from './args.js';
import { median } from './timing.js';
import { DEFAULT_MODEL } from '../src/cli/run.js';
import { LoopControl } from '../src/engine/loop-control.js';
import { loadSource } from '../src/engine/model-source.js';
import { runRealtime, type RealtimeSummary } from '../src/engine/realtime.js';
import { Runtime } from '../src/engine/runtime.js';
import { LiveView } from '../src/ui/live-view.js';
import { serveUi, type UiServer } from '../src/ui/ui-server.js';
import { CHROMIUM } from '../tools/ui-browser.js';

const USAGE = `Usage: npm run bench:ui [-- --json] [-- --seconds S] [-- --rounds N] [-- --rate HZ] [-- --refresh HZ]

  --seconds S   length of each phase (default 8)
  --refresh HZ  the view's updates per second (default 10, as run --ui)
  --views LIST  which phases, comma-separated (default all: off,events,browser-blank,browser,browser-nice)
  --rounds N    rounds, each running every view once in a rotated order (default 5)
  --rate HZ     the loop's rate (default 100)
  --json        one JSON document on stdout`;

const values = benchArgs(USAGE, {
  json: { type: 'boolean' },
  seconds: { type: 'string' },
  rounds: { type: 'string' },
  rate: { type: 'string' },
  refresh: { type: 'string' },
  views: { type: 'string' },
});
const refreshHz = benchNumber(values, 'refresh', 10, (n) => n > 0 && n <= 60, 'updates per second in (0, 60]', USAGE);
const seconds = benchNumber(values, 'seconds', 8, (n) => n > 0, 'a number of seconds > 0', USAGE);
const rounds = benchRounds(values, 5, USAGE);
const rateHz = benchNumber(values, 'rate', 100, (n) => n > 0 && n <= 10_000, 'a rate in Hz', USAGE);
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const browser = existsSync(CHROMIUM) ? 'chromium' : 'event-stream client';
const toolFile = new URL('../tools/ui-browser.js', import.meta.url).pathname;

type View = 'off' | 'events' | 'browser-blank' | 'browser' | 'browser-nice';
const ALL_VIEWS: readonly View[] = ['off', 'events', 'browser-blank', 'browser', 'browser-nice'];
const asked = typeof values.views === 'string' ? values.views.split(',') : ALL_VIEWS;
for (const v of asked) if (!ALL_VIEWS.includes(v as View)) benchFail(`--views: no view "${v}" (${ALL_VIEWS.join(', ')})`, USAGE);
if (!asked.includes('off')) benchFail('--views must include off (the baseline)', USAGE);
// Without Chromium only the phases that need no browser run.
const VIEWS = (asked as View[]).filter((v) => browser === 'chromium' || v === 'off' || v === 'events');

/**
 * CPU time (ms) used so far by the Chromium processes tools/ui-browser.ts started (their
 * profile directory names them), from /proc: utime + stime in clock ticks of 10 ms.
 */
function browserCpuMs(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('streamroll-chromium-')) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks * 10;
}

/** Opens the page (or a bare event stream) and resolves once the view has a client. */
async function watch(ui: UiServer, view: View): Promise<() => Promise<void>> {
  let child: ChildProcess | undefined;
  let stream: ReturnType<typeof request> | undefined;
  if (view !== 'events') {
    const blank = view === 'browser-blank';
    const args = ['--experimental-websocket', '--no-warnings', toolFile, blank ? 'about:blank' : ui.url, '--updates', blank ? '0' : '1', '--hold', '100000', '--timeout', '100000'];
    // Chromium inherits the tool's niceness.
    child = view === 'browser' ? spawn(process.execPath, args, { stdio: 'ignore' }) : spawn('nice', ['-n', '19', process.execPath, ...args], { stdio: 'ignore' });
  } else {
    stream = request(`${ui.url}events`, (res) => res.resume());
    stream.end();
  }
  while (view !== 'browser-blank' && ui.clients() === 0) await sleep(50);
  // Let the browser settle (first paint, layout) before measuring.
  await sleep(view === 'browser-blank' ? 3000 : 1500);
  return async () => {
    if (child !== undefined) {
      // SIGTERM lets the tool kill its Chromium on the way out.
      child.kill('SIGTERM');
      await new Promise((r) => child?.once('exit', r));
    }
    stream?.destroy();
  };
}

interface Phase {
  readonly view: View;
  readonly round: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly deadlineMisses: number;
  readonly drops: number;
  readonly cpuUsPerFrame: number;
  /** The browser's CPU (all its processes) per second of the phase, ms; null without one. */
  readonly browserCpuMsPerS: number | null;
}

async function phase(rt: Runtime, view: View, round: number): Promise<Phase> {
  const control = new LoopControl();
  const ui = view !== 'off' ? await serveUi(rt, { control, refreshHz }) : undefined;
  const stopWatching = ui === undefined ? undefined : await watch(ui, view);
  let summary: RealtimeSummary;
  const cpu0 = browserCpuMs();
  const t0 = performance.now();
  let browserCpu: number | null = null;
  try {
    summary = await runRealtime(rt, { camera: { seed: round + 1 } }, { rateHz, ticks: Math.round(seconds * rateHz), control, ...(ui === undefined ? {} : { onStatus: ui.onStatus, statusMs: 100 }) });
    if (view !== 'off' && view !== 'events') browserCpu = Number(((browserCpuMs() - cpu0) / ((performance.now() - t0) / 1000)).toFixed(1));
  } finally {
    await stopWatching?.();
    await ui?.close();
  }
  const row: Phase = {
    view,
    round,
    p50Us: summary.latencyUs.p50,
    p99Us: summary.latencyUs.p99,
    p999Us: summary.latencyUs.p999,
    deadlineMisses: summary.deadlineMisses,
    drops: summary.drops,
    cpuUsPerFrame: summary.cpuUsPerFrame,
    browserCpuMsPerS: browserCpu,
  };
  log(
    `round ${round} view ${view.padEnd(12)}  p50 ${row.p50Us.toFixed(0)} µs  p99 ${row.p99Us.toFixed(0)} µs  p99.9 ${row.p999Us.toFixed(0)} µs  misses ${row.deadlineMisses}  drops ${row.drops}  CPU ${row.cpuUsPerFrame} µs/frame${browserCpu === null ? '' : `  browser CPU ${browserCpu} ms/s`}`,
  );
  return row;
}

/** Mean main-thread time of one update (read, decimate, serialise), µs. */
async function updateCost(model: string): Promise<{ model: string; updateUs: number; bytes: number }> {
  const loaded = await loadSource(model, { seed: 1 });
  const rt = await Runtime.create(loaded.network, { rollout: loaded.rollout, params: loaded.params });
  try {
    const input = new Float32Array(loaded.network.nodes[loaded.network.inputs[0]].size).map((_, i) => Math.sin(i));
    for (let i = 0; i < 5; i++) await rt.step(input);
    const view = new LiveView(rt, { refreshHz: 10 });
    let bytes = 0;
    for (let i = 0; i < 20; i++) bytes = JSON.stringify(view.update()).length;
    const n = 200;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) JSON.stringify(view.update());
    return { model: loaded.network.name, updateUs: Number((((performance.now() - t0) / n) * 1000).toFixed(1)), bytes };
  } finally {
    await rt.close();
  }
}

const loaded = await loadSource(DEFAULT_MODEL, { seed: 1 });
const rt = await Runtime.create(loaded.network, { rollout: loaded.rollout, params: loaded.params });
log(
  `bench:ui: ${loaded.network.name}, ${rt.placement.workers} worker(s), ${rateHz} Hz, view refreshed at ${refreshHz} Hz, ${seconds} s phases, ${rounds} rounds, view opened in ${browser}; ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'})`,
);
const phases: Phase[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so that a drift of the machine favours no view.
    for (let i = 0; i < VIEWS.length; i++) phases.push(await phase(rt, VIEWS[(i + r) % VIEWS.length], r));
  }
} finally {
  await rt.close();
}
const costs = [await updateCost(DEFAULT_MODEL), await updateCost(new URL('../../examples/conv-chain-4.json', import.meta.url).pathname)];
const medianP99Us = Object.fromEntries(VIEWS.map((v) => [v, median(phases.filter((p) => p.view === v).map((p) => p.p99Us))])) as Record<View, number>;
const p99Ratio = Object.fromEntries(VIEWS.filter((v) => v !== 'off').map((v) => [v, Number((medianP99Us[v] / medianP99Us.off).toFixed(3))]));
const browserCpuMsPerS = Object.fromEntries(VIEWS.filter((v) => v.startsWith('browser')).map((v) => [v, median(phases.filter((p) => p.view === v).map((p) => p.browserCpuMsPerS ?? 0))]));
const cpuUsPerFrame = Object.fromEntries(VIEWS.map((v) => [v, median(phases.filter((p) => p.view === v).map((p) => p.cpuUsPerFrame))]));
const result = {
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown' },
  model: loaded.network.name,
  rateHz,
  secondsPerPhase: seconds,
  browser,
  refreshHz,
  phases,
  medianP99Us,
  p99Ratio,
  medianCpuUsPerFrame: cpuUsPerFrame,
  medianBrowserCpuMsPerS: browserCpuMsPerS,
  updateCost: costs,
};
log(`median p99 over ${rounds} rounds: ${VIEWS.map((v) => `${v} ${medianP99Us[v].toFixed(0)} µs${v === 'off' ? '' : ` (${p99Ratio[v]}x)`}`).join(', ')}`);
for (const c of costs) log(`one update of ${c.model}: ${c.updateUs} µs on the main thread, ${c.bytes} bytes`);
if (values.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
