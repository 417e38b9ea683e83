import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Runtime } from '../src/engine/runtime.js';
import { encodeMessage, readMessages } from '../src/io/frame-stream.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { serveFrames } from '../src/engine/serve-frames.js';

test('TCP source (served from its own thread): each malformed message class is rejected with a reply, good frames on the same connection get answers', async () => {
  const net = await loadNetworkFile(new URL('../../examples/mnist-sr.json', import.meta.url).pathname);
  const rt = await Runtime.create(net, { workers: 1, streams: 2 });
  const reasons: string[] = [];
  const server = await serveFrames(rt, { port: 0, onReject: (r) => reasons.push(r), maxMessageBytes: 64 * 1024 });
  try {
    assert.equal(server.host, '127.0.0.1');
    const socket = connect(server.port, '127.0.0.1');
    const replies = readMessages(socket)[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, unknown>> => (await replies.next()).value as Record<string, unknown>;
    const good = (t: number): Buffer => encodeMessage({ t, inputs: { image: new Float32Array(784).fill(t / 10) } });
    const nan = new Float32Array(784);
    nan[7] = NaN;
    socket.write(good(1));
    socket.write(Buffer.from([0, 0, 0, 2, 0xc1, 0xc1])); // garbled msgpack
    socket.write(encodeMessage({ t: 3, inputs: { image: new Float32Array(10) } })); // wrong shape
    socket.write(encodeMessage({ t: 4, inputs: { image: nan } })); // non-finite
    socket.write(encodeMessage('hello')); // not an object
    socket.write(good(6));
    const answers = [await next(), await next(), await next(), await next(), await next(), await next()];
    assert.deepEqual(
      answers.map((a) => (a.error === undefined ? `ok ${String(a.t)}` : 'error')),
      ['ok 1', 'error', 'error', 'error', 'error', 'ok 6'],
    );
    assert.equal((answers[5].outputs as Record<string, Float32Array>).prediction.length, 10);
    assert.equal(answers[5].tick, 2);
    assert.match(String(answers[1].error), /not valid msgpack/);
    assert.match(String(answers[2].error), /has 10 values, expected 784/);
    assert.match(String(answers[3].error), /non-finite value \(NaN\) at index 7/);
    // Oversize: rejected and the connection closed; the server keeps serving others.
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1 << 20);
    socket.write(header);
    assert.match(String((await next()).error), /over the limit/);
    assert.equal((await replies.next()).done, true);
    const other = connect(server.port, '127.0.0.1');
    other.write(good(9));
    const again = (await readMessages(other)[Symbol.asyncIterator]().next()).value as { t: number; tick: number };
    // A new connection is a new session: its first frame is tick 1.
    assert.deepEqual([again.t, again.tick], [9, 1]);
    other.destroy();
    const s = server.summary();
    assert.equal(s.ticks, 3);
    assert.equal(s.rejected, 5);
    // Reasons reach this thread as messages from the server's thread.
    for (let i = 0; i < 100 && reasons.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(reasons.length, 5);
    // The runtime is handed back on close; its own stream was not touched by the connections.
    await server.close();
    await rt.step(new Float32Array(784));
    assert.equal(rt.tick, 1);
  } finally {
    await server.close();
    await rt.close();
  }
});
