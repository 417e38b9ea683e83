// Opens a page in headless Chromium (Debian's package, /usr/bin/chromium) through the
// DevTools protocol, waits until the live view has drawn states a number of times, and can
// keep it open and take a screenshot. Used by the browser test, bench:ui and the README's
// screenshot. Needs Node's WebSocket: run with `node --experimental-websocket` on Node 20.
//
//   node --experimental-websocket dist/tools/ui-browser.js URL [--updates N] [--hold S]
//        [--screenshot FILE.png] [--width PX] [--height PX] [--timeout S]
//
// Prints one JSON line: {"updates", "statesTick", "exceptions": [...], "heldS"}; exit 1 when
// the page did not update in time or threw.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** Where Debian installs Chromium; STREAMROLL_CHROMIUM overrides. */
export const CHROMIUM = process.env.STREAMROLL_CHROMIUM ?? '/usr/bin/chromium';

interface Cdp {
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  readonly exceptions: string[];
  close(): void;
}

async function connect(wsUrl: string): Promise<Cdp> {
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot connect to ${wsUrl}`)), { once: true });
  });
  let id = 0;
  const pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const exceptions: string[] = [];
  ws.addEventListener('message', (event) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown> };
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error !== undefined) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result ?? {});
    } else if (msg.method === 'Runtime.exceptionThrown') {
      const details = msg.params?.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
      exceptions.push(details?.exception?.description ?? details?.text ?? 'exception');
    } else if (msg.method === 'Runtime.consoleAPICalled' && msg.params?.type === 'error') {
      exceptions.push(`console.error: ${JSON.stringify(msg.params.args)}`);
    }
  });
  return {
    exceptions,
    send(method, params = {}) {
      const n = ++id;
      ws.send(JSON.stringify({ id: n, method, params }));
      return new Promise((resolve, reject) => pending.set(n, { resolve, reject }));
    },
    close: () => ws.close(),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Set by SIGTERM: stop holding the page, close the browser and report. */
let released = false;

/** What {@link openPage} saw. */
export interface PageReport {
  readonly updates: number;
  readonly statesTick: number;
  readonly exceptions: readonly string[];
  readonly heldS: number;
}

/** Opens `url`, waits for `updates` updates with states, holds it open `holdS` seconds, optionally saves a screenshot. */
export async function openPage(url: string, options: { updates: number; holdS: number; screenshot?: string; width: number; height: number; timeoutS: number }): Promise<PageReport> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set STREAMROLL_CHROMIUM)`);
  const profile = mkdtempSync(join(tmpdir(), 'streamroll-chromium-'));
  // The flags a closed network needs: no background connections, no first-run work.
  const browser = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--mute-audio',
      `--user-data-dir=${profile}`,
      '--remote-debugging-port=0',
      `--window-size=${options.width},${options.height}`,
      'about:blank',
    ],
    // Its own process group, so that closing it ends its helper processes too.
    { stdio: 'ignore', detached: true },
  );
  try {
    const portFile = join(profile, 'DevToolsActivePort');
    const deadline = performance.now() + options.timeoutS * 1000;
    while (!existsSync(portFile) || readFileSync(portFile, 'utf8').split('\n').length < 2) {
      if (performance.now() > deadline) throw new Error('Chromium did not start');
      await sleep(50);
    }
    const port = readFileSync(portFile, 'utf8').split('\n')[0];
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
    const page = targets.find((t) => t.type === 'page');
    if (page === undefined) throw new Error('Chromium opened no page');
    const cdp = await connect(page.webSocketDebuggerUrl);
    try {
      await cdp.send('Runtime.enable');
      await cdp.send('Page.enable');
      await cdp.send('Emulation.setDeviceMetricsOverride', { width: options.width, height: options.height, deviceScaleFactor: 1, mobile: false });
      await cdp.send('Page.navigate', { url });
      const read = async (): Promise<{ updates: number; statesTick: number }> => {
        const r = (await cdp.send('Runtime.evaluate', {
          expression: 'JSON.stringify([String(window.streamrollView?.updates ?? 0), String(window.streamrollView?.statesTick ?? 0)])',
          returnByValue: true,
        })) as {
          result: { value?: string };
        };
        const [u, s] = JSON.parse(r.result.value ?? '["0","0"]') as [string, string];
        return { updates: Number(u), statesTick: Number(s) };
      };
      let seen = { updates: 0, statesTick: 0 };
      // --updates 0: any page, nothing to wait for (a blank page for comparison).
      while (options.updates > 0 && (seen.updates < options.updates || seen.statesTick === 0)) {
        if (performance.now() > deadline)
          throw new Error(`the page updated ${seen.updates} times (states at tick ${seen.statesTick}) in ${options.timeoutS} s; exceptions: ${cdp.exceptions.join('; ') || 'none'}`);
        await sleep(100);
        seen = await read();
      }
      const held0 = performance.now();
      while (!released && performance.now() - held0 < options.holdS * 1000) await sleep(Math.min(100, options.holdS * 1000));
      if (options.screenshot !== undefined) {
        const shot = (await cdp.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false })) as { data: string };
        writeFileSync(options.screenshot, Buffer.from(shot.data, 'base64'));
      }
      seen = await read();
      return { ...seen, exceptions: [...cdp.exceptions], heldS: Number(((performance.now() - held0) / 1000).toFixed(2)) };
    } finally {
      cdp.close();
    }
  } finally {
    const exited = new Promise((r) => browser.once('exit', r));
    try {
      if (browser.pid !== undefined) process.kill(-browser.pid, 'SIGKILL');
    } catch {
      browser.kill('SIGKILL');
    }
    await exited;
    // Helpers may still be writing into the profile for a moment; a leftover temporary
    // directory is not worth failing a run over.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {
      process.stderr.write(`ui-browser: could not remove ${profile}\n`);
    }
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, 'dist/'));
if (isMain) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      updates: { type: 'string', default: '5' },
      hold: { type: 'string', default: '0' },
      screenshot: { type: 'string' },
      width: { type: 'string', default: '1400' },
      height: { type: 'string', default: '980' },
      timeout: { type: 'string', default: '30' },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node --experimental-websocket dist/tools/ui-browser.js URL [--updates N] [--hold S] [--screenshot FILE.png]\n');
    process.exit(2);
  }
  if (typeof WebSocket === 'undefined') {
    process.stderr.write('ui-browser needs WebSocket: run it with node --experimental-websocket (Node 20)\n');
    process.exit(2);
  }
  // A benchmark ends the hold with SIGTERM; Chromium is closed on the way out.
  process.once('SIGTERM', () => (released = true));
  try {
    const report = await openPage(positionals[0], {
      updates: Number(values.updates),
      holdS: Number(values.hold),
      width: Number(values.width),
      height: Number(values.height),
      timeoutS: Number(values.timeout),
      ...(values.screenshot === undefined ? {} : { screenshot: values.screenshot }),
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(report.exceptions.length > 0 ? 1 : 0);
  } catch (err) {
    process.stderr.write(`ui-browser: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
