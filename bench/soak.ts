// npm run bench:soak [-- --json] [-- --seconds S]
// The TCP frame server under a bounded abusive load on loopback: how fast a well-behaved
// client is answered meanwhile, how much memory the process grows by, and what was rejected.
// Phases: a flood of garbage from clients that never read their replies; clients that send
// most of a 16 MiB message and stall; a crowd of idle connections.
import { connect, type Socket } from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import { benchArgs, benchFail } from './args.js';
import { Runtime } from '../src/engine/runtime.js';
import { encodeMessage, readMessages } from '../src/io/frame-stream.js';
import { serveFrames, type FrameServer } from '../src/engine/serve-frames.js';
import { percentile } from './timing.js';

const USAGE = `usage: npm run bench:soak [-- --json] [-- --seconds S]

The TCP frame server (mnist-sr, 8 streams) under abuse on loopback, phase by phase: a good
client's reply latency (p50, p99), the process's memory growth, rejected messages.
  --json         print {"phases": [{"name", "goodAnswers", "goodP50Ms", "goodP99Ms",
                 "rssGrowthMb", "rejected", ...}], ...}
  --seconds S    length of each phase (default 5)`;

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** Frame after frame, each after the last one's answer, 5 ms apart; latencies in ms. */
async function goodClient(port: number, until: number): Promise<number[]> {
  const socket = connect(port, '127.0.0.1');
  const replies = readMessages(socket)[Symbol.asyncIterator]();
  const latencies: number[] = [];
  const image = new Float32Array(784).fill(0.5);
  for (let t = 0; performance.now() < until; t++) {
    const t0 = performance.now();
    socket.write(encodeMessage({ t, inputs: { image } }));
    const reply = await replies.next();
    if (reply.done === true) break;
    latencies.push(performance.now() - t0);
    await wait(5);
  }
  socket.destroy();
  return latencies;
}

/** Writes `burst` as fast as the server takes it, never reading, until `until`. */
function flooder(port: number, burst: Buffer, until: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const write = (): void => {
      while (performance.now() < until && !socket.destroyed) if (!socket.write(burst)) return void socket.once('drain', write);
      socket.destroy();
    };
    socket.on('connect', write);
    socket.on('close', () => resolve());
    setTimeout(() => socket.destroy(), Math.max(0, until - performance.now())).unref();
  });
}

interface Phase {
  readonly name: string;
  readonly goodAnswers: number;
  readonly goodP50Ms: number;
  readonly goodP99Ms: number;
  readonly rssGrowthMb: number;
  readonly rejected: number;
  readonly detail: Record<string, number>;
}

async function phase(name: string, server: FrameServer, seconds: number, abuse: (until: number) => Promise<Record<string, number>>): Promise<Phase> {
  log(`${name} (${seconds} s)`);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const rejected0 = server.summary().rejected;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const until = performance.now() + seconds * 1000;
  const [latencies, detail] = await Promise.all([goodClient(server.port, until), abuse(until)]);
  clearInterval(sampler);
  await wait(200);
  return {
    name,
    goodAnswers: latencies.length,
    goodP50Ms: Number(percentile(latencies, 50).toFixed(2)),
    goodP99Ms: Number(percentile(latencies, 99).toFixed(2)),
    rssGrowthMb: Math.round((peak - rss0) / 2 ** 20),
    rejected: server.summary().rejected - rejected0,
    detail,
  };
}

async function main(): Promise<void> {
  const values = benchArgs(USAGE, { json: { type: 'boolean' }, seconds: { type: 'string' } });
  const seconds = values.seconds === undefined ? 5 : Number(values.seconds);
  if (!(seconds > 0 && seconds <= 600)) benchFail('--seconds must be a number of seconds from 0 to 600', USAGE);
  const rt = await Runtime.create(new URL('../../examples/mnist-sr.json', import.meta.url).pathname, { streams: 8 });
  const server = await serveFrames(rt, { port: 0, idleMs: Math.max(1000, (seconds * 1000) / 3) });
  const phases: Phase[] = [];
  try {
    phases.push(await phase('quiet (the good client alone)', server, Math.min(seconds, 2), async () => ({})));
    phases.push(
      await phase('flood: 2 clients send zero-length messages and never read', server, seconds, async (until) => {
        const burst = Buffer.alloc(4 * 1024);
        await Promise.all([flooder(server.port, burst, until), flooder(server.port, burst, until)]);
        return {};
      }),
    );
    phases.push(
      await phase('stall: 50 clients send 15 MiB of a 16 MiB message and stop', server, seconds, async (until) => {
        const header = Buffer.alloc(4);
        header.writeUInt32BE(16 * 1024 * 1024 - 64);
        const body = Buffer.alloc(15 * 1024 * 1024, 1);
        let closedByServer = 0;
        const sockets: Socket[] = [];
        for (let i = 0; i < 50; i++) {
          const s = connect(server.port, '127.0.0.1');
          s.on('error', () => undefined);
          s.on('close', () => closedByServer++);
          s.resume();
          s.write(header);
          s.write(body);
          sockets.push(s);
        }
        await wait(Math.max(0, until - performance.now()));
        const closed = closedByServer;
        for (const s of sockets) s.destroy();
        return { stalledClients: 50, closedAsIdle: closed };
      }),
    );
    phases.push(
      await phase('crowd: 1,300 idle connections', server, seconds, async (until) => {
        let closedByServer = 0;
        const sockets = Array.from({ length: 1300 }, () => {
          const s = connect(server.port, '127.0.0.1');
          s.on('error', () => undefined);
          s.on('close', () => closedByServer++);
          s.resume();
          return s;
        });
        await wait(Math.max(0, until - performance.now()));
        const closed = closedByServer;
        for (const s of sockets) s.destroy();
        return { connections: 1300, closedByServer: closed };
      }),
    );
  } finally {
    await server.close();
    await rt.close();
  }
  const doc = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), seconds, phases };
  if (values.json === true) {
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${doc.node} on ${doc.cpu}, ${doc.cores} cores; the TCP server under abuse, ${seconds} s per phase\n\n`);
  for (const p of phases) {
    const extra = Object.entries(p.detail)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stdout.write(
      `${p.name}\n  good client: ${p.goodAnswers} answers, p50 ${p.goodP50Ms} ms, p99 ${p.goodP99Ms} ms; memory +${p.rssGrowthMb} MB; ${p.rejected} rejected${extra === '' ? '' : `; ${extra}`}\n`,
    );
  }
}

await main();
