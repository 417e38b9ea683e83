// The live view's HTTP server: the page, a JSON snapshot, a server-sent event stream and the
// loop's controls, from the runtime's own process. Loopback only unless asked (the same rule
// as the TCP frame server); a page on another site cannot steer the loop (JSON-only POSTs
// need a CORS preflight this server never grants, and the Host header must name this server).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoopControl } from '../engine/loop-control.js';
import type { LoopDetail, RealtimeSummary } from '../engine/realtime.js';
import type { Runtime } from '../engine/runtime.js';
import { isLoopback } from '../engine/serve-frames.js';
import { renderWindowSvg } from '../rollout/window-svg.js';
import { StreamrollError } from '../util/errors.js';
import { LiveView, type UiState, type UiUpdate } from './live-view.js';
import type { DecimateOptions } from './state-snapshot.js';
import { UI_PAGE } from './ui-page.js';

export type { UiState, UiUpdate, WorkerTiming, LoopView, HistoryPoint } from './live-view.js';
export type { NodeView, StateSnapshot, DecimateOptions } from './state-snapshot.js';

/** Options of {@link serveUi}. */
export interface UiOptions {
  /** Address to listen on (default 127.0.0.1); another machine's reach needs `public`. */
  readonly host?: string;
  /** Port (default 0: any free one; the server says which). */
  readonly port?: number;
  /** Allow an address other machines can reach (0.0.0.0, a LAN address). */
  readonly public?: boolean;
  /** Every request must carry it: `?token=T` (the page passes its own on) or `Authorization: Bearer T`. */
  readonly token?: string;
  /** Updates per second sent to pages (default 10, at most 60); a page may ask for fewer with `/events?hz=N`. */
  readonly refreshHz?: number;
  /** The real-time loop's control: the page's pause, step and rate buttons use it. */
  readonly control?: LoopControl;
  /** How states are shrunk before they are sent. */
  readonly decimate?: DecimateOptions;
  /** Most pages connected at once (default 32); more are answered 503. */
  readonly maxClients?: number;
}

/** A running live view; see {@link serveUi}. */
export interface UiServer {
  readonly host: string;
  readonly port: number;
  /** The page's address (with the token, if any). */
  readonly url: string;
  /** Give this to `runRealtime`'s `onStatus`: the page shows the loop's figures from it. */
  readonly onStatus: (summary: RealtimeSummary, rejected: readonly string[], detail: LoopDetail) => void;
  /** Pages connected to the event stream now. */
  clients(): number;
  /** The snapshot `GET /state` answers. */
  state(): UiState;
  /** Stops serving and ends every event stream. */
  close(): Promise<void>;
}

interface Client {
  readonly res: ServerResponse;
  /** Sends every n-th update (a page asking for a lower rate). */
  readonly every: number;
  /** Waiting for 'drain': updates are skipped, not queued, for a page that reads slowly. */
  blocked: boolean;
}

const CONTROL_BODY_LIMIT = 1024;

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown): void => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

/** The body as text, or null when it is over `limit` bytes (the rest is read and thrown away). */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The hostnames a loopback server answers to (anything else is a rebound DNS name). */
function hostAllowed(header: string | undefined, boundHost: string): boolean {
  if (header === undefined) return false;
  const name = header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.replace(/:\d+$/, '');
  return isLoopback(name) || name === boundHost;
}

/**
 * Serves a live view of a running network in the browser: every node's current state as an
 * image, the rollout window with the current tick, per-worker compute and wait time, the
 * latency histogram, misses, drops and accuracy over time, and pause / step / rate buttons
 * for a loop run with the same `control`. The page is `GET /`; `GET /state` is a JSON
 * snapshot and `GET /events` a server-sent event stream (one `data:` line per update), both
 * documented in docs/ui.md. States are read from the shared arena at the refresh rate (never
 * when no page is connected) without the engine waiting for the reader.
 *
 * @example
 * const control = new LoopControl();
 * const ui = await serveUi(rt, { port: 8080, control });
 * await runRealtime(rt, { camera: {} }, { rateHz: 100, control, onStatus: ui.onStatus });
 * await ui.close();
 * @throws StreamrollError OPTION_INVALID for a non-loopback host without `public`, or a bad rate
 */
export async function serveUi(rt: Runtime, options: UiOptions = {}): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const refreshHz = options.refreshHz ?? 10;
  if (!(refreshHz > 0 && refreshHz <= 60)) throw new StreamrollError('OPTION_INVALID', `refreshHz must be in (0, 60], got ${refreshHz}`);
  if (!isLoopback(host) && options.public !== true) throw new StreamrollError('OPTION_INVALID', `serving the view on ${host} would show it to other machines: pass public: true to mean it`);
  const maxClients = options.maxClients ?? 32;
  const view = new LiveView(rt, { refreshHz, ...(options.control === undefined ? {} : { control: options.control }), ...(options.decimate === undefined ? {} : { decimate: options.decimate }) });
  const clients = new Set<Client>();
  let svg: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let seq = 0;

  const broadcast = (): void => {
    if (clients.size === 0) return;
    seq++;
    const due = [...clients].filter((c) => !c.blocked && seq % c.every === 0);
    if (due.length === 0) return;
    const line = `data: ${JSON.stringify(view.update() satisfies UiUpdate)}\n\n`;
    for (const c of due) {
      if (!c.res.write(line)) {
        c.blocked = true;
        c.res.once('drain', () => (c.blocked = false));
      }
    }
  };
  const startTimer = (): void => {
    timer ??= setInterval(broadcast, 1000 / refreshHz);
    timer.unref();
  };
  const stopTimerIfIdle = (): void => {
    if (clients.size > 0 || timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
  };

  const authorised = (req: IncomingMessage, url: URL): boolean => {
    if (options.token === undefined) return true;
    return url.searchParams.get('token') === options.token || req.headers.authorization === `Bearer ${options.token}`;
  };

  const control = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return sendJson(res, 415, { error: 'POST /control takes application/json' });
    const text = await readBody(req, CONTROL_BODY_LIMIT);
    if (text === null) return sendJson(res, 413, { error: `a control request is at most ${CONTROL_BODY_LIMIT} bytes` });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return sendJson(res, 400, { error: 'the body is not JSON' });
    }
    const loop = options.control;
    if (loop === undefined || !loop.state.attached) return sendJson(res, 409, { error: 'no real-time loop runs under this view' });
    const { action, rateHz } = (typeof body === 'object' && body !== null ? body : {}) as { action?: unknown; rateHz?: unknown };
    try {
      if (action === 'pause') loop.pause();
      else if (action === 'resume') loop.resume();
      else if (action === 'step') loop.step();
      else if (action === 'rate' && typeof rateHz === 'number') loop.setRate(rateHz);
      else return sendJson(res, 400, { error: 'expected {"action": "pause" | "resume" | "step"} or {"action": "rate", "rateHz": HZ}' });
    } catch (err) {
      return sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
    sendJson(res, 200, loop.state);
  };

  const events = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (clients.size >= maxClients) return sendJson(res, 503, { error: `${maxClients} pages are watching already` });
    const hz = Number(url.searchParams.get('hz') ?? refreshHz);
    const every = Number.isFinite(hz) && hz > 0 ? Math.max(1, Math.round(refreshHz / hz)) : 1;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    res.write('retry: 2000\n\n');
    const client: Client = { res, every, blocked: false };
    clients.add(client);
    startTimer();
    const gone = (): void => {
      clients.delete(client);
      stopTimerIfIdle();
    };
    req.once('close', gone);
    res.once('error', gone);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://view');
    if (options.public !== true && !hostAllowed(req.headers.host, host)) return sendJson(res, 403, { error: 'this view answers only to its own address' });
    if (!authorised(req, url)) return sendJson(res, 401, { error: 'a token is required: open the address printed at start (it ends in ?token=...)' });
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /':
        return send(res, 200, 'text/html; charset=utf-8', UI_PAGE, {
          'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
        });
      case 'GET /state':
        return sendJson(res, 200, view.state());
      case 'GET /events':
        return events(req, res, url);
      case 'GET /rollout.svg':
        svg ??= renderWindowSvg(rt.network, rt.rollout.delays, { window: view.state().rollout.window, label: 'in use', highlight: true });
        return send(res, 200, 'image/svg+xml; charset=utf-8', svg);
      case 'POST /control':
        void control(req, res).catch((err: unknown) => sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) }));
        return;
      default:
        if (['/', '/state', '/events', '/rollout.svg', '/control'].includes(url.pathname)) return sendJson(res, 405, { error: `${req.method} is not allowed on ${url.pathname}` });
        return sendJson(res, 404, { error: `no ${url.pathname} here: the view is /, its data /state and /events` });
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new StreamrollError('OPTION_INVALID', `cannot serve the view on ${host}:${options.port ?? 0}: ${err.code ?? err.message}`)));
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${shownHost}:${address.port}/${options.token === undefined ? '' : `?token=${encodeURIComponent(options.token)}`}`,
    onStatus: (summary, _rejected, detail) => view.status(summary, detail),
    clients: () => clients.size,
    state: () => view.state(),
    close: async () => {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      for (const c of clients) c.res.end();
      clients.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
