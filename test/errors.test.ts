import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamrollError, isStreamrollError, type ErrorCode } from '../src/util/errors.js';
import { validateNetwork } from '../src/graph/network.js';
import { resolveRollout } from '../src/rollout/pattern.js';
import { assertValidRollout } from '../src/rollout/validity.js';
import { ReferenceExecutor } from '../src/engine/reference-executor.js';
import { initParameters } from '../src/graph/parameters.js';
import { getBackend } from '../src/kernels/registry.js';
import { loadNetworkFile } from '../src/io/spec-file.js';
import { PushSource } from '../src/io/push-source.js';
import { cli } from './helpers/cli.js';

const tiny = {
  name: 't',
  nodes: [
    { name: 'x', shape: [2] },
    { name: 'y', shape: [2] },
  ],
  edges: [
    { from: 'x', to: 'y', op: { type: 'dense' } },
    { from: 'y', to: 'y', op: { type: 'dense' } },
  ],
  outputs: ['y'],
};

async function codeOf(f: () => unknown): Promise<ErrorCode> {
  try {
    await f();
  } catch (err) {
    assert.ok(isStreamrollError(err), `${String(err)} is a StreamrollError`);
    assert.ok(err instanceof StreamrollError && err instanceof Error);
    return err.code;
  }
  assert.fail('did not throw');
}

test('every error streamroll throws on purpose is a StreamrollError with a stable code', async () => {
  const net = validateNetwork(tiny);
  assert.equal(await codeOf(() => validateNetwork({ ...tiny, nodes: [] })), 'SPEC_INVALID');
  assert.equal(await codeOf(() => validateNetwork({ ...tiny, nodes: [{ name: 'x', shape: [1e300] }, tiny.nodes[1]] })), 'SPEC_INVALID');
  assert.equal(await codeOf(() => resolveRollout(net, { default: 1e9 })), 'SPEC_INVALID');
  assert.equal(await codeOf(() => assertValidRollout(net, [0, 0])), 'ROLLOUT_CYCLE');
  assert.equal(await codeOf(() => resolveRollout(net, 'pipelined')), 'ROLLOUT_INVALID');
  const ex = new ReferenceExecutor(net, 'streaming', initParameters(net));
  assert.equal(await codeOf(() => ex.step([1, null as unknown as number])), 'INPUT_INVALID');
  assert.equal(await codeOf(() => net.node('nope')), 'OPTION_INVALID');
  assert.equal(await codeOf(() => getBackend('gpu')), 'OPTION_INVALID');
  assert.equal(await codeOf(() => loadNetworkFile('/no/such/file.json')), 'FILE_UNREADABLE');
  // Every file the CLI reads says what it was meant to be and why it could not be read.
  for (const [args, message] of [
    [['import', '/no/such/model.onnx'], /^streamroll import: cannot read ONNX model \/no\/such\/model\.onnx: no such file\n$/],
    [['analyze', '/tmp'], /^streamroll analyze: cannot read network spec \/tmp: it is a directory\n$/],
  ] as const) {
    const r = await cli(...args);
    assert.equal(r.code, 1);
    assert.match(r.err, message);
  }
  const push = new PushSource();
  push.end();
  assert.equal(await codeOf(() => push.push({ inputs: [1, 2] })), 'STREAM_ENDED');
  // The CLI's --json error document carries the code.
  const r = await cli('analyze', '/no/such/net.json', '--json');
  assert.equal(r.code, 1);
  assert.equal((JSON.parse(r.out) as { error: { code: string } }).error.code, 'FILE_UNREADABLE');
});
