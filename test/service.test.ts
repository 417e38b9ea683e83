import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { startService } from '../examples/service/server.js';
import { encodeMessage, readMessages } from '../src/io/frame-stream.js';

const model = new URL('../../examples/mnist-sr.json', import.meta.url).pathname;

async function call(port: number, method: string, path: string, body?: string, session?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(session === undefined ? {} : { 'x-session': session }) };
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('the example service gives each client a session: JSON steps and msgpack streams both ways over loopback', async () => {
  const service = await startService(model, 0, 4);
  try {
    const health = await call(service.port, 'GET', '/health');
    assert.equal(health.json.network, 'mnist-sr');
    const image = JSON.stringify({ inputs: { image: new Array<number>(784).fill(0.5) } });
    // Named sessions: each client's ticks and states are its own.
    const a1 = await call(service.port, 'POST', '/step', image, 'client-a');
    const a2 = await call(service.port, 'POST', '/step', image, 'client-a');
    const b1 = await call(service.port, 'POST', '/step', image, 'client-b');
    assert.deepEqual([a1.status, a1.json.tick, a2.json.tick, b1.json.tick], [200, 1, 2, 1]);
    assert.equal((a1.json.outputs as { prediction: number[] }).prediction.length, 10);
    // The same input from the same (fresh) state gives the same answer, whoever asks.
    assert.deepEqual(b1.json.outputs, a1.json.outputs);
    const bad = await call(service.port, 'POST', '/step', JSON.stringify({ inputs: { image: [1, 2] } }), 'client-a');
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /has 2 values, expected 784/);

    // Streaming: frames written one at a time on an open request, answers read as they come.
    const req = request({ host: '127.0.0.1', port: service.port, method: 'POST', path: '/stream', headers: { 'content-type': 'application/x-streamroll-msgpack' } });
    const response = new Promise<import('node:http').IncomingMessage>((resolve) => req.on('response', resolve));
    req.write(encodeMessage({ t: 10, inputs: { image: new Float32Array(784) } }));
    const replies = readMessages(await response)[Symbol.asyncIterator]();
    const first = (await replies.next()).value as { t: number; tick: number; outputs: { prediction: Float32Array } };
    assert.equal(first.t, 10);
    // A stream is a session of its own: it starts at tick 1.
    assert.equal(first.tick, 1);
    req.write(encodeMessage({ t: 11, inputs: { image: [0, 1] } }));
    assert.match(String(((await replies.next()).value as { error: string }).error), /has 2 values/);
    req.end(encodeMessage({ t: 12, inputs: { image: new Float32Array(784).fill(1) } }));
    const last = (await replies.next()).value as { t: number; tick: number };
    assert.deepEqual([last.t, last.tick], [12, 2]);
    assert.equal((await replies.next()).done, true);
    // The stream's session is gone with it; the two named ones remain.
    const stats = (await call(service.port, 'GET', '/stats')).json as { streams: { capacity: number; open: number } };
    assert.deepEqual([stats.streams.capacity, stats.streams.open], [4, 2]);
  } finally {
    await service.close();
  }
});
