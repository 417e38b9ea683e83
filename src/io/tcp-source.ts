import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { createHistogram } from 'node:perf_hooks';
import type { Runtime } from '../engine/runtime.js';
import { encodeMessage, MAX_MESSAGE_BYTES, MessageError, readMessages, toSourceFrame } from './frame-stream.js';

/** Options of {@link serveFrames}. */
export interface ServeOptions {
  /** Default 127.0.0.1: other hosts only when asked for. */
  readonly host?: string;
  /** 0 picks a free port (see {@link FrameServer.port}). */
  readonly port: number;
  readonly maxMessageBytes?: number;
  /** Expected frame period for deadline misses (latency over it counts as a miss). */
  readonly rateHz?: number;
  /** Called for each rejected message, with why (for logs). */
  readonly onReject?: (reason: string) => void;
}

/** A running frame server; `close()` stops it and ends every connection. */
export interface FrameServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
  /** The same figures as `run --json`, for this server's frames. */
  summary(): { ticks: number; rejected: number; deadlineMisses: number; latencyUs: { p50: number; p99: number; p999: number; max: number }; cpuUsPerFrame: number };
}

/**
 * Serves a runtime over TCP: clients send length-prefixed msgpack frames
 * `{t, inputs: {node: Float32Array}}` and get `{t, tick, outputs}` back on the same
 * connection, in order. A bad message gets `{t, error}` back and the connection stays open;
 * an oversize or truncated one closes it (its bytes cannot be trusted). Nothing a client
 * sends can stop the runtime.
 */
export async function serveFrames(rt: Runtime, options: ServeOptions): Promise<FrameServer> {
  const host = options.host ?? '127.0.0.1';
  const period = options.rateHz === undefined ? Infinity : 1000 / options.rateHz;
  const histogram = createHistogram();
  const cpu0 = process.cpuUsage();
  let ticks = 0;
  let rejected = 0;
  let misses = 0;
  const sockets = new Set<Socket>();
  const reject = (socket: Socket, reason: string, t: unknown): void => {
    rejected++;
    options.onReject?.(reason);
    if (!socket.destroyed) socket.write(encodeMessage({ t: typeof t === 'number' ? t : null, error: reason }));
  };
  const handle = async (socket: Socket): Promise<void> => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let index = 0;
    try {
      for await (const message of readMessages(socket, options.maxMessageBytes ?? MAX_MESSAGE_BYTES)) {
        const arrived = performance.now();
        const frame = toSourceFrame(message, rt.network, index++);
        if (frame instanceof MessageError) {
          reject(socket, frame.message, undefined);
          if (frame.fatal) break;
          continue;
        }
        let outputs: Record<string, Float32Array>;
        try {
          outputs = await rt.step(frame.inputs);
        } catch (err) {
          // A bad value (say NaN) is the client's problem; a failed runtime ends the serving.
          if (err instanceof Error && err.name === 'InputError') {
            reject(socket, err.message, frame.t);
            continue;
          }
          throw err;
        }
        const latency = performance.now() - arrived;
        histogram.record(Math.max(1, Math.round(latency * 1e6)));
        if (latency > period) misses++;
        ticks++;
        if (!socket.destroyed) socket.write(encodeMessage({ t: frame.t ?? null, tick: rt.tick, outputs }));
      }
    } finally {
      sockets.delete(socket);
      socket.end();
    }
  };
  const server: Server = createServer((socket) => void handle(socket).catch(() => socket.destroy()));
  server.listen(options.port, host);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    port,
    host,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    summary: () => ({
      ticks,
      rejected,
      deadlineMisses: misses,
      latencyUs: ticks === 0 ? { p50: 0, p99: 0, p999: 0, max: 0 } : { p50: histogram.percentile(50) / 1000, p99: histogram.percentile(99) / 1000, p999: histogram.percentile(99.9) / 1000, max: histogram.max / 1000 },
      cpuUsPerFrame: ticks === 0 ? 0 : Number(((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / ticks).toFixed(1)),
    }),
  };
}
