// An embedding example: a small HTTP service that holds one streamroll runtime.
//
//   npm run build && node dist/examples/service/server.js [MODEL.srm|NET.json] [--port 8080]
//
//   GET  /health   {network, rollout, workers, ticks}
//   GET  /stats    the runtime's counters (latency percentiles, placement, per-worker time)
//   POST /step     JSON {"inputs": {"image": [784 numbers]}} -> JSON {"tick", "outputs"}
//   POST /stream   a body of length-prefixed msgpack frames {t, inputs}; the response streams
//                  {t, tick, outputs} back as each frame is computed (HTTP streaming both ways)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Runtime } from '../../src/engine/runtime.js';
import { encodeMessage, MessageError, readMessages, toSourceFrame } from '../../src/io/frame-stream.js';

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

/** Starts the service on 127.0.0.1 (port 0: any free port). */
export async function startService(model: string, port = 0): Promise<Service> {
  const rt = await Runtime.create(model, { seed: 1 });
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/health') {
        json(res, 200, { network: rt.network.name, rollout: rt.rollout.kind, workers: rt.placement.workers, ticks: rt.tick, weights: rt.weights });
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
          const outputs = await rt.step(body.inputs ?? {});
          json(res, 200, { tick: rt.tick, outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, [...v]])) });
        } catch (err) {
          json(res, (err as Error).name === 'InputError' ? 400 : 500, { error: (err as Error).message });
        }
      } else if (req.method === 'POST' && req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'application/x-streamroll-msgpack' });
        let index = 0;
        for await (const message of readMessages(req)) {
          const frame = toSourceFrame(message, rt.network, index++);
          if (frame instanceof MessageError) {
            res.write(encodeMessage({ t: null, error: frame.message }));
            if (frame.fatal) break;
            continue;
          }
          try {
            const outputs = await rt.step(frame.inputs);
            res.write(encodeMessage({ t: frame.t ?? null, tick: rt.tick, outputs }));
          } catch (err) {
            res.write(encodeMessage({ t: frame.t ?? null, error: (err as Error).message }));
          }
        }
        res.end();
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
  const { values, positionals } = parseArgs({ options: { port: { type: 'string' } }, allowPositionals: true });
  const model = positionals[0] ?? fileURLToPath(new URL('../../../examples/mnist-sr.json', import.meta.url));
  const service = await startService(model, values.port === undefined ? 8080 : Number(values.port));
  process.stderr.write(`streamroll service on http://127.0.0.1:${service.port} (model ${model}); Ctrl-C stops\n`);
  const stop = (): void => void service.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
