import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { pack } from 'msgpackr';
import { NetworkBuilder, dense } from '../src/graph/builder.js';
import { Runtime } from '../src/engine/runtime.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { initParameters } from '../src/graph/parameters.js';
import { decodeMessage, encodeMessage, readMessages } from '../src/io/frame-stream.js';
import { serveFrames } from '../src/engine/serve-frames.js';

// docs/wire-format.md's worked example, byte for byte.
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const request = hex('00 00 00 18  82 a1 74 01 a6 69 6e 70 75 74 73 81 a1 78 c4 08 00 00 00 3f 00 00 80 bf');
const reply = hex('00 00 00 1f  de 00 03 a1 74 01 a4 74 69 63 6b 01 a7 6f 75 74 70 75 74 73 de 00 01 a1 79 c4 04 00 00 80 3e');

test('the documented example: the request decodes to its frame, the reply is what streamroll writes', () => {
  assert.equal(request.readUInt32BE(0), request.length - 4);
  const frame = decodeMessage(request.subarray(4), 0) as { t: number; inputs: { x: Float32Array } };
  assert.equal(frame.t, 1);
  assert.deepEqual([...frame.inputs.x], [0.5, -1]);
  assert.ok(encodeMessage({ t: 1, tick: 1, outputs: { y: Float32Array.of(0.25) } }).equals(reply));
});

test("a client packing with msgpackr's default pack() (Float32Array as bin) or plain number arrays is served, and gets bin tensors back", { timeout: 30_000 }, async () => {
  const net = new NetworkBuilder('tiny').node('x', [2]).node('y', [1]).edge('x', 'y', dense()).output('y').validate();
  const params = initParameters(net, { seed: 4 });
  const rt = await Runtime.create(net, { params, workers: 1, rollout: 'streaming', streams: 2 });
  const server = await serveFrames(rt, { port: 0 });
  try {
    const socket = connect(server.port, '127.0.0.1');
    const replies = readMessages(socket)[Symbol.asyncIterator]();
    const frame = (body: Uint8Array): Buffer => {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      return Buffer.concat([head, body]);
    };
    socket.write(frame(pack({ t: 1, inputs: { x: Float32Array.of(0.5, -1) } })));
    socket.write(frame(pack({ t: 2, inputs: { x: [0.25, 2] } })));
    socket.write(frame(pack({ t: 3, inputs: { x: [0.25, null] } })));
    const got = [(await replies.next()).value, (await replies.next()).value, (await replies.next()).value] as Record<string, unknown>[];
    const ex = new ReferenceExecutor(net, 'streaming', params);
    const want = [ex.step(Float32Array.of(0.5, -1)).y, ex.step(Float32Array.of(0.25, 2)).y];
    assert.deepEqual(
      got.map((m) => m.t),
      [1, 2, 3],
    );
    for (const i of [0, 1]) assert.deepEqual([...(got[i].outputs as { y: Float32Array }).y], [...want[i]]);
    assert.match(String(got[2].error), /input "x"/);
    socket.destroy();
  } finally {
    await server.close();
    await rt.close();
  }
});
