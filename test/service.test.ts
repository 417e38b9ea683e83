import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { startService } from '../examples/service/server.js';
import { encodeMessage, readMessages } from '../src/io/frame-stream.js';

const model = new URL('../../examples/mnist-sr.json', import.meta.url).pathname;

async function call(port: number, method: string, path: string, body?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('the example service answers JSON steps and streams msgpack frames both ways over loopback', async () => {
  const service = await startService(model);
  try {
    const health = await call(service.port, 'GET', '/health');
    assert.equal(health.json.network, 'mnist-sr');
    const step = await call(service.port, 'POST', '/step', JSON.stringify({ inputs: { image: new Array<number>(784).fill(0.5) } }));
    assert.equal(step.status, 200);
    assert.equal((step.json.outputs as { prediction: number[] }).prediction.length, 10);
    const bad = await call(service.port, 'POST', '/step', JSON.stringify({ inputs: { image: [1, 2] } }));
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /has 2 values, expected 784/);

    // Streaming: frames written one at a time on an open request, answers read as they come.
    const req = request({ host: '127.0.0.1', port: service.port, method: 'POST', path: '/stream', headers: { 'content-type': 'application/x-streamroll-msgpack' } });
    const response = new Promise<import('node:http').IncomingMessage>((resolve) => req.on('response', resolve));
    req.write(encodeMessage({ t: 10, inputs: { image: new Float32Array(784) } }));
    const replies = readMessages(await response)[Symbol.asyncIterator]();
    const first = (await replies.next()).value as { t: number; tick: number; outputs: { prediction: Float32Array } };
    assert.equal(first.t, 10);
    assert.equal(first.tick, 2);
    req.write(encodeMessage({ t: 11, inputs: { image: [0, 1] } }));
    assert.match(String(((await replies.next()).value as { error: string }).error), /has 2 values/);
    req.end(encodeMessage({ t: 12, inputs: { image: new Float32Array(784).fill(1) } }));
    const last = (await replies.next()).value as { t: number; tick: number };
    assert.deepEqual([last.t, last.tick], [12, 3]);
    assert.equal((await replies.next()).done, true);
    assert.equal((await call(service.port, 'GET', '/stats')).json.ticks, 3);
  } finally {
    await service.close();
  }
});
