import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PUBLISHED } from './control.js';
import type { DriverState } from './frame-driver.js';
import { describeLent } from './lent-engine.js';
import type { Runtime } from './runtime.js';
import { SERVED, SERVER_MISSES, SERVER_REJECTED, type ServerMessage, type ServerStats, type ServerTask } from './frame-server-task.js';
import { MAX_MESSAGE_BYTES } from '../io/frame-stream.js';
import { StreamrollError } from '../util/errors.js';

const SERVER_FILE = fileURLToPath(new URL('../../workers/frame-server.js', import.meta.url));

/** Options of {@link serveFrames}. */
export interface ServeOptions {
  /** Default 127.0.0.1: other hosts only when asked for. */
  readonly host?: string;
  /** 0 picks a free port (see {@link FrameServer.port}). */
  readonly port: number;
  readonly maxMessageBytes?: number;
  /** Expected frame period for deadline misses (latency over it counts as a miss). */
  readonly rateHz?: number;
  /** Called on this thread for each rejected message, with why (for logs). */
  readonly onReject?: (reason: string) => void;
  /** How long a named session (a `session` field in messages) outlives its last connection, ms; default 60,000. */
  readonly sessionIdleMs?: number;
  /** Connections served at once (default 256); more are closed as they come. */
  readonly maxConnections?: number;
  /** A connection that sends nothing, or stalls in the middle of a message, this long is closed (ms; default 30,000). */
  readonly idleMs?: number;
  /** Bytes of incomplete messages held over all connections before the server stops reading those that send more (default 64 MiB). */
  readonly bufferBudget?: number;
  /** Serve other hosts than this machine (a host that is not loopback); without it such a host is refused. */
  readonly public?: boolean;
  /** When set, every message must carry a field `token` equal to it; one without is answered with an error and its connection closed. */
  readonly token?: string;
}

/** Whether `host` only reaches this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The same figures as `run --json`, for a server's frames. */
export interface ServerSummary extends ServerStats {
  readonly ticks: number;
  readonly rejected: number;
  readonly deadlineMisses: number;
}

/** A running frame server; `close()` stops it, ends every connection and gives the runtime back. */
export interface FrameServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
  /** Counts are live; latency percentiles and CPU are at most 250 ms old. */
  summary(): ServerSummary;
}

/**
 * Serves a runtime over TCP from a thread of its own: clients send length-prefixed msgpack
 * frames `{t, inputs: {node: Float32Array}}` and get `{t, tick, outputs}` back on the same
 * connection, in order. Every connection is a session with states of its own, starting from
 * zeros and ended with the connection (the runtime's `streams` option bounds how many at
 * once; one more is refused with an error reply); a message field `session: "name"` joins a
 * named session instead, which outlives its connection for `sessionIdleMs`. Frames arriving
 * together from several connections are computed in one engine frame. A bad message gets `{t, error}` back and the connection stays open;
 * an oversize or truncated one closes it (its bytes cannot be trusted). Nothing a client
 * sends can stop the runtime. The runtime serves nothing else until `close()`.
 */
export async function serveFrames(rt: Runtime, options: ServeOptions): Promise<FrameServer> {
  // [::1] as a URL writes it; the socket wants the bare address.
  const host = (options.host ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  if (!isLoopback(host) && options.public !== true) throw new RangeError(`${host} is reachable from other machines: pass public: true (the CLI's --listen-public) to serve it, and consider a token`);
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new RangeError(`port must be an integer from 0 to 65535, got ${String(options.port)}`);
  const counters = new Int32Array(new SharedArrayBuffer(64));
  let stats: ServerStats = { latencyUs: { p50: 0, p99: 0, p999: 0, max: 0 }, cpuUsPerFrame: 0 };
  let worker: Worker | undefined;
  let listening!: (port: number) => void;
  let failed!: (error: Error) => void;
  const started = new Promise<number>((resolve, reject) => {
    listening = resolve;
    failed = reject;
  });
  if (rt.stats().streams.capacity === 0) throw new RangeError('the frame server gives every connection a session of its own: create the runtime with { streams: N } (N connections at once)');
  let final: DriverState | undefined;
  const served = rt.lend(async (lent, guard) => {
    const task: ServerTask = {
      engine: describeLent(rt, lent),
      host,
      port: options.port,
      maxMessageBytes: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
      ...(options.rateHz === undefined ? {} : { rateHz: options.rateHz }),
      counters,
      sessionIdleMs: options.sessionIdleMs ?? 60_000,
      maxConnections: options.maxConnections ?? 256,
      idleMs: options.idleMs ?? 30_000,
      bufferBudget: options.bufferBudget ?? 64 * 1024 * 1024,
      ...(options.token === undefined ? {} : { token: options.token }),
    };
    const thread = new Worker(SERVER_FILE, { workerData: task });
    worker = thread;
    const ended = new Promise<void>((resolve, reject) => {
      thread.on('message', (m: ServerMessage) => {
        if (m.type === 'listening') listening(m.port);
        else if (m.type === 'rejected') options.onReject?.(m.reason);
        else if (m.type === 'status') stats = m.stats;
        else if (m.type === 'closed') {
          stats = m.stats;
          final = m.state;
        } else if (m.type === 'failed') {
          const error = new StreamrollError(m.code, m.message);
          failed(error);
          reject(error);
        }
      });
      thread.once('error', (err) => {
        failed(err);
        reject(err);
      });
      thread.once('exit', () => resolve());
    });
    try {
      await guard(ended);
    } finally {
      await thread.terminate();
    }
    // Without the thread's last word (it failed) the engine's own counter is the best guess.
    return final ?? { ...lent.state, engineFrame: Atomics.load(rt.arena.control, PUBLISHED) };
  });
  served.catch((err: unknown) => failed(err instanceof Error ? err : new Error(String(err))));
  const port = await started;
  return {
    port,
    host,
    async close() {
      worker?.postMessage('close');
      await served.catch(() => undefined);
    },
    summary: () => ({ ticks: Atomics.load(counters, SERVED), rejected: Atomics.load(counters, SERVER_REJECTED), deadlineMisses: Atomics.load(counters, SERVER_MISSES), ...stats }),
  };
}
