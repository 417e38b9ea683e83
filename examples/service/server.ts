// An embedding example: a small HTTP service that holds one streamroll runtime and gives
// every client a session of its own (its own recurrent states, starting from zeros).
//
//   npm run build && node dist/examples/service/server.js [MODEL.srm|NET.json] [--port 8080] [--streams 16]
//
//   GET  /health   {network, rollout, workers, sessions}
//   GET  /stats    the runtime's counters (latency percentiles, placement, per-worker time, streams)
//   POST /step     JSON {"inputs": {"image": [784 numbers]}} -> JSON {"tick", "outputs"}; one
//                  session per HTTP connection (keep-alive: consecutive steps of a client), or
//                  the session a header `x-session: NAME` names (kept 60 s after its last step)
//   POST /stream   a body of length-prefixed msgpack frames {t, inputs}; the response streams
//                  {t, tick, outputs} back as each frame is computed (HTTP streaming both ways);
//                  each stream is a session of its own
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Runtime, type Session } from 'streamroll';
import { encodeMessage, MessageError, readMessages, toSourceFrame } from 'streamroll/io';

/** A running service: its port, its runtime, and how to stop both. */
export interface Service {
  readonly port: number;
  readonly runtime: Runtime;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function readBody(req: IncomingMessage, limit = 8 * 1024 * 1024): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the service on 127.0.0.1 (port 0: any free port) with room for `streams` sessions at once. */
export async function startService(model: string, port = 0, streams = 16): Promise<Service> {
  const rt = await Runtime.create(model, { seed: 1, streams });
  // A client's session: its connection's, or the one it names; named ones end when idle.
  const byConnection = new WeakMap<Socket, Promise<Session>>();
  const named = new Map<string, Promise<Session>>();
  const sessionFor = async (req: IncomingMessage): Promise<Session> => {
    const name = req.headers['x-session'];
    if (typeof name === 'string' && name !== '') {
      const open = named.get(name);
      const session = open === undefined ? undefined : await open;
      if (session !== undefined && !session.closed) return session;
      const opened = rt.open({ idleTimeoutMs: 60_000 });
      named.set(name, opened);
      opened.catch(() => named.delete(name));
      return opened;
    }
    const socket = req.socket;
    let opened = byConnection.get(socket);
    if (opened === undefined) {
      opened = rt.open();
      byConnection.set(socket, opened);
      socket.once(
        'close',
        () =>
          void opened?.then(
            (s) => s.close(),
            () => undefined,
          ),
      );
    }
    return opened;
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/health') {
        json(res, 200, { network: rt.network.name, rollout: rt.rollout.kind, workers: rt.placement.workers, sessions: rt.stats().streams, weights: rt.weights });
      } else if (req.method === 'GET' && req.url === '/stats') {
        json(res, 200, rt.stats());
      } else if (req.method === 'POST' && req.url === '/step') {
        let body: { inputs?: Record<string, number[]> };
        try {
          body = JSON.parse(await readBody(req)) as { inputs?: Record<string, number[]> };
        } catch (err) {
          json(res, 400, { error: `request body is not JSON: ${(err as Error).message}` });
          return;
        }
        try {
          const session = await sessionFor(req);
          const outputs = await session.step(body.inputs ?? {});
          json(res, 200, { tick: session.tick, outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, [...v]])) });
        } catch (err) {
          const name = (err as Error).name;
          json(res, name === 'InputError' ? 400 : name === 'RuntimeError' && /streams are open/.test((err as Error).message) ? 503 : 500, { error: (err as Error).message });
        }
      } else if (req.method === 'POST' && req.url === '/stream') {
        let session: Session;
        try {
          session = await rt.open();
        } catch (err) {
          json(res, 503, { error: (err as Error).message });
          return;
        }
        try {
          res.writeHead(200, { 'content-type': 'application/x-streamroll-msgpack' });
          let index = 0;
          for await (const message of readMessages(req)) {
            const frame = toSourceFrame(message, rt.network, index++);
            const t = typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'number' ? (message as { t: number }).t : null;
            if (frame instanceof MessageError) {
              res.write(encodeMessage({ t, error: frame.message }));
              if (frame.fatal) break;
              continue;
            }
            try {
              const outputs = await session.step(frame.inputs);
              res.write(encodeMessage({ t: frame.t ?? null, tick: session.tick, outputs }));
            } catch (err) {
              res.write(encodeMessage({ t: frame.t ?? null, error: (err as Error).message }));
            }
          }
          // The session is given back before the client sees the end.
          await session.close();
          res.end();
        } finally {
          await session.close();
        }
      } else {
        json(res, 404, { error: `no route ${req.method ?? ''} ${req.url ?? ''} (try GET /health, GET /stats, POST /step, POST /stream)` });
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(err) });
      else res.destroy();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    runtime: rt,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rt.close();
    },
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ options: { port: { type: 'string' }, streams: { type: 'string' } }, allowPositionals: true });
  const model = positionals[0] ?? fileURLToPath(new URL('../../../examples/mnist-sr.json', import.meta.url));
  const service = await startService(model, values.port === undefined ? 8080 : Number(values.port), values.streams === undefined ? 16 : Number(values.streams));
  process.stderr.write(`streamroll service on http://127.0.0.1:${service.port} (model ${model}); Ctrl-C stops\n`);
  const stop = (): void => void service.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
