// The TCP frame server's thread: accepts connections, decodes frames, drives the lent engine
// (computing the input worker's share itself) and answers each frame on its connection, so
// neither the main thread nor its event loop is between a client and its outputs. Frames from
// all connections are served one at a time, in arrival order.
import { createServer, type Socket } from 'node:net';
import { createHistogram } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { sharedNow } from '../src/engine/control.js';
import { InputError } from '../src/engine/inputs.js';
import { attachEngine } from '../src/engine/lent-engine.js';
import { encodeMessage, MessageError, readMessages, toSourceFrame } from '../src/io/frame-stream.js';
import { SERVED, SERVER_MISSES, SERVER_REJECTED, type ServerMessage, type ServerStats, type ServerTask } from '../src/io/frame-server-task.js';

const task = workerData as ServerTask;
const post = (m: ServerMessage): void => parentPort?.postMessage(m);
const engine = await attachEngine(task.engine);
const { net, driver } = engine;
const counters = task.counters;
const period = task.rateHz === undefined ? Infinity : 1000 / task.rateHz;
const histogram = createHistogram();
let cpu0: NodeJS.CpuUsage | undefined;
const stats = (): ServerStats => {
  const ticks = Atomics.load(counters, SERVED);
  const used = cpu0 === undefined ? undefined : process.cpuUsage(cpu0);
  return {
    latencyUs: ticks === 0 ? { p50: 0, p99: 0, p999: 0, max: 0 } : { p50: histogram.percentile(50) / 1000, p99: histogram.percentile(99) / 1000, p999: histogram.percentile(99.9) / 1000, max: histogram.max / 1000 },
    cpuUsPerFrame: used === undefined || ticks === 0 ? 0 : Number(((used.user + used.system) / ticks).toFixed(1)),
  };
};
const sockets = new Set<Socket>();
let queue: Promise<void> = Promise.resolve();
let failed = false;

const reject = (socket: Socket, reason: string, t: unknown): void => {
  Atomics.add(counters, SERVER_REJECTED, 1);
  post({ type: 'rejected', reason });
  if (!socket.destroyed) socket.write(encodeMessage({ t: typeof t === 'number' ? t : null, error: reason }));
};

/** One frame: into the arena, computed, answered. Runs alone (see `queue`). */
function serve(socket: Socket, arrays: readonly ArrayLike<number>[], t: number | undefined, arrived: number): void {
  const k = driver.engineFrame + 1;
  // Frames are served one at a time, so the input slot is free unless a node lags behind.
  if (driver.completed() < k - driver.queue && !driver.nodesDoneSync(net.nodes.filter((n) => !n.isInput).map((n) => n.index), k - driver.queue, 0)) throw new Error('the engine stopped');
  try {
    driver.writeInputs(arrays, k);
  } catch (err) {
    // A bad value (say NaN) is the client's problem; the frame never happened.
    if (err instanceof InputError) return reject(socket, err.message, t);
    throw err;
  }
  if (!engine.step(k) || !driver.nodesDoneSync(net.outputs, k, task.engine.outputSpinMs)) throw new Error('the engine stopped');
  const latency = sharedNow() - arrived;
  histogram.record(Math.max(1, Math.round(latency * 1e6)));
  if (latency > period) Atomics.add(counters, SERVER_MISSES, 1);
  Atomics.add(counters, SERVED, 1);
  const outputs: Record<string, Float32Array> = {};
  net.outputs.forEach((o, j) => (outputs[net.nodes[o].name] = driver.outputView(j, k)));
  if (!socket.destroyed) socket.write(encodeMessage({ t: t ?? null, tick: driver.tickOf(k), outputs }));
}

async function handle(socket: Socket): Promise<void> {
  sockets.add(socket);
  socket.on('error', () => undefined);
  let index = 0;
  try {
    for await (const message of readMessages(socket, task.maxMessageBytes)) {
      const arrived = sharedNow();
      const frame = toSourceFrame(message, net, index++);
      if (frame instanceof MessageError) {
        const t = typeof message === 'object' && message !== null ? (message as { t?: unknown }).t : undefined;
        reject(socket, frame.message, t);
        if (frame.fatal) break;
        continue;
      }
      const inputs = frame.inputs as Record<string, ArrayLike<number>>;
      const arrays = net.inputs.map((v) => inputs[net.nodes[v].name]);
      queue = queue.then(() => {
        if (!failed) serve(socket, arrays, frame.t, arrived);
      });
      await queue;
    }
  } catch (err) {
    // The engine stopped (closed or failed): nothing more can be served.
    if (!failed) {
      failed = true;
      post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    }
  } finally {
    sockets.delete(socket);
    socket.end();
  }
}

const server = createServer((socket) => void handle(socket));
let statusTimer: NodeJS.Timeout | undefined;
const close = async (): Promise<void> => {
  clearInterval(statusTimer);
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await queue.catch(() => undefined);
  engine.release();
  post({ type: 'closed', stats: stats() });
  parentPort?.close();
};
parentPort?.on('message', (m: unknown) => {
  if (m === 'close') void close();
});
server.once('error', (err) => {
  engine.release();
  post({ type: 'failed', message: `cannot listen on ${task.host}:${task.port}: ${err.message}` });
  parentPort?.close();
});
server.listen(task.port, task.host, () => {
  const address = server.address();
  cpu0 = process.cpuUsage();
  statusTimer = setInterval(() => post({ type: 'status', stats: stats() }), 250);
  post({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : task.port });
});
