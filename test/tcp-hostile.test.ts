import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { Runtime } from '../src/engine/runtime.js';
import { encodeMessage, MessageError, MessageFramer, readMessages } from '../src/io/frame-stream.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { serveFrames } from '../src/engine/serve-frames.js';
import { cli } from './helpers/cli.js';

const example = (name: string): string => new URL(`../../examples/${name}.json`, import.meta.url).pathname;
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('message framing: any chunking of any messages gives the same messages, each byte copied once', () => {
  fc.assert(
    // (msgpack keeps -0 as 0: values are compared as they round-trip, not as typed in.)
    fc.property(
      fc.array(
        fc.oneof(
          fc.integer(),
          fc.string(),
          fc.array(
            fc.double({ noNaN: true }).map((d) => (d === 0 ? 0 : d)),
            { maxLength: 50 },
          ),
        ),
        { maxLength: 12 },
      ),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
      (values, cuts) => {
        const bytes = Buffer.concat(values.map((v) => encodeMessage({ v })));
        const framer = new MessageFramer(1 << 20);
        const got: unknown[] = [];
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length];
          got.push(...framer.push(bytes.subarray(at, at + n)));
          at += n;
        }
        assert.equal(framer.end(), undefined);
        assert.equal(framer.buffered, 0);
        assert.deepEqual(
          got.map((m) => (m as { v: unknown }).v),
          values,
        );
      },
    ),
    { numRuns: 200 },
  );
  // A truncated last message and an oversize length are errors; the oversize one ends the stream.
  const framer = new MessageFramer(100);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(101);
  const [over] = framer.push(Buffer.concat([header, Buffer.alloc(10)]));
  assert.ok(over instanceof MessageError && over.fatal && /101 bytes is over the limit of 100/.test(over.message));
  assert.deepEqual(framer.push(encodeMessage(1)), []);
  const half = new MessageFramer();
  half.push(encodeMessage({ a: 'long enough' }).subarray(0, 7));
  assert.match(String(half.end()?.message), /truncated \(stream ended after 7 of its bytes\)/);
});

/** A client that only writes (never reads its replies). */
function flooder(port: number, message: Buffer, until: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const burst = Buffer.concat(Array.from({ length: 256 }, () => message));
    const write = (): void => {
      while (performance.now() < until && !socket.destroyed) if (!socket.write(burst)) return void socket.once('drain', write);
      socket.destroy();
      resolve();
    };
    socket.on('connect', write);
    socket.on('close', () => resolve());
    // A server that stopped reading never drains: stop at the deadline all the same.
    setTimeout(() => socket.destroy(), Math.max(0, until - performance.now())).unref();
  });
}

/** A well-behaved client: a frame, wait for its answer, again; returns each answer's latency (ms). */
async function goodClient(port: number, until: number): Promise<number[]> {
  const socket = connect(port, '127.0.0.1');
  const replies = readMessages(socket)[Symbol.asyncIterator]();
  const latencies: number[] = [];
  for (let t = 0; performance.now() < until; t++) {
    const t0 = performance.now();
    socket.write(encodeMessage({ t, inputs: { image: new Float32Array(784).fill(0.5) } }));
    const reply = (await replies.next()).value as { t: number; error?: string };
    assert.equal(reply.error, undefined);
    assert.equal(reply.t, t);
    latencies.push(performance.now() - t0);
    await wait(5);
  }
  socket.destroy();
  return latencies;
}

test('TCP under a flood: clients sending garbage without reading replies neither starve a good client nor grow memory; rejects are counted, not logged one by one', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const rt = await Runtime.create(net, { workers: 1, streams: 4, calibrate: false });
  const logged: string[] = [];
  const server = await serveFrames(rt, { port: 0, onReject: (r) => logged.push(r) });
  try {
    const rss0 = process.memoryUsage().rss;
    const until = performance.now() + 2000;
    const zero = Buffer.alloc(4); // a zero-length message: not msgpack
    const [latencies] = await Promise.all([goodClient(server.port, until), flooder(server.port, zero, until), flooder(server.port, zero, until)]);
    const grown = (process.memoryUsage().rss - rss0) / 1048576;
    // Served all along (how fast is bench:soak's business, not a test's).
    assert.ok(latencies.length >= 20, `the good client got ${latencies.length} answers in 2 s`);
    assert.ok(grown < 150, `memory grew ${grown.toFixed(0)} MB`);
    const s = server.summary();
    assert.ok(s.rejected > 1000, `${s.rejected} rejected`);
    // At most 10 lines a second, and a count for the rest.
    assert.ok(logged.length <= 40, `${logged.length} reject lines logged`);
    assert.ok(logged.some((l) => /more rejected messages in the last second/.test(l)));
  } finally {
    await server.close();
    await rt.close();
  }
});

test('TCP: stalled large messages are held within a memory budget and closed when idle; the connection limit holds', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const rt = await Runtime.create(net, { workers: 1, streams: 2, calibrate: false });
  const server = await serveFrames(rt, { port: 0, idleMs: 1000, bufferBudget: 32 * 1024 * 1024, maxConnections: 40 });
  try {
    const rss0 = process.memoryUsage().rss;
    // 30 clients each send most of a 16 MiB message, then stall.
    const header = Buffer.alloc(4);
    header.writeUInt32BE(16 * 1024 * 1024 - 64);
    const body = Buffer.alloc(15 * 1024 * 1024, 7);
    const stalled: Socket[] = [];
    let closedByServer = 0;
    for (let i = 0; i < 30; i++) {
      const s = connect(server.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closedByServer++);
      s.resume();
      s.write(header);
      s.write(body);
      stalled.push(s);
    }
    await wait(700);
    const grown = (process.memoryUsage().rss - rss0) / 1048576;
    // The budget (32 MiB) plus what the sockets' own buffers hold; not 30 x 15 MiB.
    assert.ok(grown < 300, `memory grew ${grown.toFixed(0)} MB with 30 stalled 15 MiB messages`);
    // A good client is still served meanwhile.
    const latencies = await goodClient(server.port, performance.now() + 300);
    assert.ok(latencies.length >= 3, `the good client got ${latencies.length} answers`);
    // Idle: the stalled connections are closed (those read again as others close stall again, and go too).
    for (let i = 0; i < 150 && closedByServer < 30; i++) await wait(100);
    assert.equal(closedByServer, 30, 'stalled connections closed');
    // Beyond maxConnections a connection is closed as it comes.
    let closed = 0;
    const many = Array.from({ length: 45 }, () => {
      const s = connect(server.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closed++);
      s.resume();
      return s;
    });
    await wait(300);
    assert.ok(closed >= 5, `${closed} of 45 connections closed at a limit of 40`);
    for (const s of [...stalled, ...many]) s.destroy();
  } finally {
    await server.close();
    await rt.close();
  }
});

test('TCP: other hosts only when asked for, IPv6 literals, a shared token', async () => {
  const net = await loadNetworkFile(example('mnist-sr'));
  const rt = await Runtime.create(net, { workers: 1, streams: 2, calibrate: false });
  try {
    await assert.rejects(serveFrames(rt, { host: '0.0.0.0', port: 0 }), /0\.0\.0\.0 is reachable from other machines: pass public: true/);
    const r = await cli('run', '--source', 'tcp://0.0.0.0:0', '--duration', '0.1', '--log-level', 'silent');
    assert.equal(r.code, 1);
    assert.match(r.err, /--listen-public/);
    assert.doesNotMatch(r.err, /\n\s+at /);
    for (const bad of ['tcp://127.0.0.1:99999', 'tcp://127.0.0.1', 'tcp://[::1:9']) {
      const b = await cli('run', '--source', bad, '--duration', '0.1', '--log-level', 'silent');
      assert.equal(b.code, 1);
      assert.match(b.err, /expected tcp:\/\/HOST:PORT|not a TCP port/);
    }
    const refused = await cli('run', '--sink', 'tcp://127.0.0.1:1', '--duration', '0.1', '--log-level', 'silent');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^streamroll run: cannot connect to tcp:\/\/127.0.0.1:1: .*ECONNREFUSED[^\n]*\n$/);
    assert.doesNotMatch(refused.err, /\n\s+at /);

    const server = await serveFrames(rt, { port: 0, token: 's3cret' });
    try {
      const ok = connect(server.port, '127.0.0.1');
      ok.write(encodeMessage({ t: 1, token: 's3cret', inputs: { image: new Float32Array(784) } }));
      assert.equal(((await readMessages(ok)[Symbol.asyncIterator]().next()).value as { tick: number }).tick, 1);
      ok.destroy();
      const intruder = connect(server.port, '127.0.0.1');
      intruder.write(encodeMessage({ t: 2, inputs: { image: new Float32Array(784) } }));
      const replies = readMessages(intruder)[Symbol.asyncIterator]();
      assert.match(String(((await replies.next()).value as { error: string }).error), /unauthorized/);
      assert.equal((await replies.next()).done, true);
    } finally {
      await server.close();
    }
    // [::1], where this machine has IPv6 loopback.
    const v6 = await serveFrames(rt, { host: '[::1]', port: 0 }).catch((err: Error) => err);
    if (!(v6 instanceof Error)) {
      try {
        const s = connect(v6.port, '::1');
        s.write(encodeMessage({ t: 3, inputs: { image: new Float32Array(784) } }));
        assert.equal(((await readMessages(s)[Symbol.asyncIterator]().next()).value as { t: number }).t, 3);
        s.destroy();
      } finally {
        await v6.close();
      }
    } else {
      assert.match(v6.message, /cannot listen on ::1/);
    }
  } finally {
    await rt.close();
  }
});
