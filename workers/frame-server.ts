// The TCP frame server's thread: accepts connections, decodes frames, drives the lent engine
// (computing the input worker's share itself) and answers each frame on its connection, so
// neither the main thread nor its event loop is between a client and its outputs. Each
// connection is a session with a stream of its own (or joins a named one); the frames that
// arrive together from different connections are computed in one engine frame.
import { createServer, type Socket } from 'node:net';
import { createHistogram } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { sharedNow } from '../src/engine/control.js';
import { InputError } from '../src/io/inputs.js';
import { attachEngine } from '../src/engine/lent-engine.js';
import { encodeMessage, MessageError, MessageFramer, toSourceFrame } from '../src/io/frame-stream.js';
import { SERVED, SERVER_MISSES, SERVER_REJECTED, type ServerMessage, type ServerStats, type ServerTask } from '../src/engine/frame-server-task.js';
import { StreamrollError } from '../src/util/errors.js';
import { latencySummary } from '../src/util/stats.js';

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
    latencyUs: latencySummary(histogram),
    cpuUsPerFrame: used === undefined || ticks === 0 ? 0 : Number(((used.user + used.system) / ticks).toFixed(1)),
  };
};
const sockets = new Set<Socket>();
let failed = false;
const computed = net.nodes.filter((n) => !n.isInput).map((n) => n.index);
/** Streams no session holds. */
const free = [...task.engine.free];
const capacity = free.length;

/** A frame waiting to be served, or a rejection waiting for its turn (replies keep message order). */
interface FrameJob {
  readonly conn: Conn;
  readonly arrays: readonly ArrayLike<number>[];
  readonly t: number | undefined;
  readonly arrived: number;
}
type Job = FrameJob | { readonly conn: Conn; readonly rejected: string; readonly t: unknown };

/** A stream's session: a connection's own, or a named one that connections join by a `session` field. */
interface Stream {
  readonly stream: number;
  readonly name: string | undefined;
  attached: Conn | undefined;
  idle: NodeJS.Timeout | undefined;
}

interface Conn {
  readonly socket: Socket;
  session: Stream | undefined;
  readonly jobs: Job[];
  readonly framer: MessageFramer;
  /** Reading stopped: its replies are not being read, it has frames enough waiting, or the memory budget is spent. */
  paused: boolean;
  closed: boolean;
}

/** Frames a connection may have waiting before the server stops reading it. */
const JOBS_PER_CONNECTION = 32;
/** Error replies a connection may have waiting; beyond them bad messages are only counted. */
const REJECTS_QUEUED = 256;
/** Error replies written per connection per round, so a flood of garbage cannot hold up others' frames. */
const REJECTS_PER_ROUND = 64;
/** Reply bytes a connection may leave unread before the server stops reading it. */
const UNREAD_REPLY_BYTES = 1 << 20;
/** Rejected messages logged per second (through the main thread); the rest are counted. */
const REJECTS_LOGGED_PER_SECOND = 10;
/** Bytes of messages in progress over all connections. */
let buffered = 0;
let rejectsThisSecond = 0;
let rejectsSuppressed = 0;

const named = new Map<string, Stream>();
const conns = new Set<Conn>();
let flushing = false;

const reject = (socket: Socket, reason: string, t: unknown): void => {
  Atomics.add(counters, SERVER_REJECTED, 1);
  // A flood of bad messages must not become a flood of log lines: a few per second, then a count.
  if (rejectsThisSecond < REJECTS_LOGGED_PER_SECOND) {
    rejectsThisSecond++;
    post({ type: 'rejected', reason });
  } else {
    rejectsSuppressed++;
  }
  // A client that does not read its replies gets no more of them (they would pile up here).
  if (!socket.destroyed && socket.writableLength < UNREAD_REPLY_BYTES) socket.write(encodeMessage({ t: typeof t === 'number' ? t : null, error: reason }));
};
const rejectLog = setInterval(() => {
  if (rejectsSuppressed > 0) post({ type: 'rejected', reason: `and ${rejectsSuppressed} more rejected messages in the last second` });
  rejectsThisSecond = 0;
  rejectsSuppressed = 0;
}, 1000);
rejectLog.unref();

/** Blocks until every node has finished engine frame k (frames here complete one batch at a time, so this rarely waits). */
function settled(k: number): void {
  if (driver.completed() < k && !driver.nodesDoneSync(computed, k, 0)) throw new Error('the engine stopped');
}

/** A fresh stream from the free ones (states zeroed), or undefined when all are taken. */
function takeStream(name: string | undefined): Stream | undefined {
  const stream = free.shift();
  if (stream === undefined) return undefined;
  driver.resetStream(stream);
  return { stream, name, attached: undefined, idle: undefined };
}

function giveBack(s: Stream): void {
  if (s.name !== undefined) named.delete(s.name);
  free.push(s.stream);
}

/** The session a message goes to: the one its `session` field names, else the connection's own. */
function sessionOf(conn: Conn, name: unknown): Stream | string {
  if (name !== undefined && typeof name !== 'string') return '"session" must be a string naming a session';
  if (conn.session !== undefined) {
    if (name === undefined || name === conn.session.name) return conn.session;
    return `this connection is in session ${conn.session.name === undefined ? 'of its own' : `"${conn.session.name}"`}; one connection, one session`;
  }
  let s: Stream | undefined;
  if (name !== undefined) {
    s = named.get(name);
    if (s?.attached !== undefined) return `session "${name}" is in use by another connection`;
    if (s !== undefined && s.idle !== undefined) clearTimeout(s.idle);
  }
  s ??= takeStream(name);
  if (s === undefined) return `all ${capacity} streams are busy: try again when a connection closes`;
  if (name !== undefined) named.set(name, s);
  s.attached = conn;
  conn.session = s;
  return s;
}

/** The connection is gone: its own session ends; a named one waits for the next connection for a while. */
function detach(conn: Conn): void {
  conns.delete(conn);
  const s = conn.session;
  if (s === undefined) return;
  s.attached = undefined;
  if (s.name === undefined) giveBack(s);
  else s.idle = setTimeout(() => giveBack(s), task.sessionIdleMs).unref();
}

/**
 * Serves every waiting frame: each batch takes the oldest frame of every connection that has
 * one (one engine frame for all of them), and answers each on its connection.
 */
function flush(): void {
  flushing = false;
  if (failed) return;
  let more = false;
  for (;;) {
    const batch: { job: FrameJob; stream: number; f: number }[] = [];
    let waiting = false;
    for (const conn of conns) {
      // Rejections ahead of the connection's next frame are answered first, in order, a few
      // per round: the rest wait for the next turn, after other connections were read.
      let answered = 0;
      while (conn.jobs.length > 0 && 'rejected' in conn.jobs[0] && answered < REJECTS_PER_ROUND) {
        const r = conn.jobs.shift() as { rejected: string; t: unknown };
        reject(conn.socket, r.rejected, r.t);
        answered++;
      }
      if (conn.jobs.length > 0 && 'rejected' in conn.jobs[0]) {
        more = true;
        continue;
      }
      const job = conn.jobs.shift();
      if (job === undefined || conn.session === undefined || 'rejected' in job) continue;
      waiting = true;
      const stream = conn.session.stream;
      const f = driver.frameOf(stream) + 1;
      settled(driver.streamRoom(stream));
      try {
        driver.writeInputs(job.arrays, stream, f);
      } catch (err) {
        // A bad value (say NaN) is the client's problem; the frame never happened.
        if (err instanceof InputError) {
          reject(conn.socket, err.message, job.t);
          continue;
        }
        throw err;
      }
      batch.push({ job, stream, f });
    }
    if (!waiting) {
      resumeReading();
      if (more) schedule();
      return;
    }
    if (batch.length === 0) continue;
    settled(driver.engineFrame + 1 - driver.queue);
    const k = engine.step(batch.map((b) => b.stream));
    if (k === 0 || !driver.nodesDoneSync(net.outputs, k, task.engine.outputSpinMs)) throw new Error('the engine stopped');
    const now = sharedNow();
    for (const { job, stream, f } of batch) {
      const latency = now - job.arrived;
      histogram.record(Math.max(1, Math.round(latency * 1e6)));
      if (latency > period) Atomics.add(counters, SERVER_MISSES, 1);
      Atomics.add(counters, SERVED, 1);
      const outputs: Record<string, Float32Array> = {};
      net.outputs.forEach((o, j) => (outputs[net.nodes[o].name] = driver.outputView(j, stream, f)));
      if (!job.conn.socket.destroyed) job.conn.socket.write(encodeMessage({ t: job.t ?? null, tick: driver.tickOf(stream, f), outputs }));
    }
  }
}

/** Serves what waits now; a stopped engine ends the server. */
function flushNow(): void {
  try {
    flush();
  } catch (err) {
    // The engine stopped (closed or failed): nothing more can be served.
    if (!failed) {
      failed = true;
      post({ type: 'failed', code: err instanceof StreamrollError ? err.code : 'RUNTIME_FAILED', message: err instanceof Error ? err.message : String(err) });
    }
  }
}

function schedule(): void {
  if (flushing) return;
  flushing = true;
  // After this turn's other connections have had their data read: they join the batch.
  setImmediate(flushNow);
}

/** Stops reading a connection while it has enough waiting, leaves replies unread, or the memory budget is spent. */
function throttle(conn: Conn): void {
  const over = conn.jobs.length >= JOBS_PER_CONNECTION || conn.socket.writableLength >= UNREAD_REPLY_BYTES || (buffered > task.bufferBudget && conn.framer.buffered > 0);
  if (over && !conn.paused) {
    conn.paused = true;
    conn.socket.pause();
  }
}

/** Reads again from connections that were stopped, once what stopped them is gone. */
function resumeReading(): void {
  for (const conn of conns) {
    if (!conn.paused || conn.closed) continue;
    if (conn.jobs.length < JOBS_PER_CONNECTION / 2 && conn.socket.writableLength < UNREAD_REPLY_BYTES / 2 && (buffered <= task.bufferBudget || conn.framer.buffered === 0)) {
      conn.paused = false;
      conn.socket.resume();
    }
  }
}

/** Queues an error reply behind the connection's frames; past a few hundred waiting, the message is only counted. */
function queueReject(conn: Conn, reason: string, t: unknown): void {
  if (conn.jobs.length < REJECTS_QUEUED) conn.jobs.push({ conn, rejected: reason, t });
  else {
    Atomics.add(counters, SERVER_REJECTED, 1);
    rejectsSuppressed++;
  }
}

/** One decoded message of a connection: a frame queued for the next batch, or a rejection queued behind its frames. */
function accept(conn: Conn, message: unknown, index: number): boolean {
  const arrived = sharedNow();
  const socket = conn.socket;
  const t = typeof message === 'object' && message !== null ? (message as { t?: unknown }).t : undefined;
  if (task.token !== undefined && !(message instanceof MessageError) && (message as { token?: unknown } | null)?.token !== task.token) {
    flushNow();
    reject(socket, 'unauthorized: messages to this server must carry its "token"', t);
    return false;
  }
  const frame = toSourceFrame(message, net, index);
  if (frame instanceof MessageError) {
    if (frame.fatal) {
      // Its bytes cannot be trusted: answer what came before, then this, and close.
      flushNow();
      reject(socket, frame.message, t);
      return false;
    }
    queueReject(conn, frame.message, t);
    return true;
  }
  const session = sessionOf(conn, (message as { session?: unknown }).session);
  if (typeof session === 'string') {
    if (conn.session === undefined && session.startsWith('all ')) {
      reject(socket, session, t);
      return false;
    }
    queueReject(conn, session, t);
    return true;
  }
  const inputs = frame.inputs as Record<string, ArrayLike<number>>;
  conn.jobs.push({ conn, arrays: net.inputs.map((v) => inputs[net.nodes[v].name]), t: frame.t, arrived });
  return true;
}

function handle(socket: Socket): void {
  sockets.add(socket);
  const conn: Conn = { socket, session: undefined, jobs: [], framer: new MessageFramer(task.maxMessageBytes), paused: false, closed: false };
  conns.add(conn);
  const end = (): void => {
    if (conn.closed) return;
    conn.closed = true;
    buffered -= conn.framer.buffered;
    sockets.delete(socket);
    // Its frames are all answered or dropped: a batch completes before the next turn.
    conn.jobs.length = 0;
    detach(conn);
    resumeReading();
  };
  socket.on('error', () => undefined);
  socket.on('close', end);
  socket.on('drain', resumeReading);
  // A connection that sends nothing (or stalls mid-message) for this long is closed.
  socket.setTimeout(task.idleMs, () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    if (conn.closed) return;
    const before = conn.framer.buffered;
    const first = conn.framer.index;
    const messages = conn.framer.push(chunk);
    buffered += conn.framer.buffered - before;
    for (const [i, message] of messages.entries()) {
      if (!accept(conn, message, first + i)) {
        end();
        socket.end();
        return;
      }
    }
    if (messages.length > 0) schedule();
    throttle(conn);
  });
  socket.on('end', () => {
    const truncated = conn.framer.end();
    if (truncated !== undefined) reject(socket, truncated.message, undefined);
    flushNow();
    socket.end();
  });
}

const server = createServer(handle);
server.maxConnections = task.maxConnections;
let statusTimer: NodeJS.Timeout | undefined;
const close = async (): Promise<void> => {
  clearInterval(statusTimer);
  clearInterval(rejectLog);
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const s of named.values()) if (s.idle !== undefined) clearTimeout(s.idle);
  engine.release();
  post({ type: 'closed', stats: stats(), state: driver.state });
  parentPort?.close();
};
parentPort?.on('message', (m: unknown) => {
  if (m === 'close') void close();
});
server.once('error', (err) => {
  engine.release();
  post({ type: 'failed', code: 'CONNECT_FAILED', message: `cannot listen on ${task.host}:${task.port}: ${err.message}` });
  parentPort?.close();
});
server.listen(task.port, task.host, () => {
  const address = server.address();
  cpu0 = process.cpuUsage();
  statusTimer = setInterval(() => post({ type: 'status', stats: stats() }), 250);
  post({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : task.port });
});
