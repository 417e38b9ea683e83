import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopControl, type LoopControlState } from '../src/engine/loop-control.js';
import { runRealtime, type LoopDetail, type RealtimeSummary } from '../src/engine/realtime.js';
import { Runtime } from '../src/engine/runtime.js';
import { digitsNet } from './helpers/digits-net.js';
import { isStreamrollError } from '../src/util/errors.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const mnistDense = (): Promise<Runtime> => Runtime.create(digitsNet(), { workers: 1 });

test('a LoopControl pauses the clock, takes exactly one frame per step, changes the rate and resumes without counting the pause', async () => {
  const rt = await mnistDense();
  try {
    const control = new LoopControl();
    // A getter read afresh each time (assertions would otherwise narrow its type).
    const state = (): LoopControlState => control.state;
    assert.deepEqual(state(), { attached: false, paused: false, rateHz: null });
    let last: { summary: RealtimeSummary; detail: LoopDetail } | undefined;
    const stop = new AbortController();
    const run = runRealtime(rt, { camera: { seed: 3 } }, { rateHz: 100, control, statusMs: 20, signal: stop.signal, onStatus: (summary, _r, detail) => (last = { summary, detail }) });
    await sleep(300);
    assert.deepEqual(state(), { attached: true, paused: false, rateHz: 100 });
    await assert.rejects(runRealtime(rt, { camera: {} }, { rateHz: 10, control }), /already steers a running loop/);

    control.pause();
    await sleep(100);
    const pausedAt = last?.summary.ticks ?? -1;
    await sleep(300);
    assert.equal(last?.detail.paused, true);
    assert.equal(last?.summary.ticks, pausedAt, 'no frame is computed while paused');
    for (let i = 0; i < 3; i++) {
      control.step();
      await sleep(80);
    }
    assert.equal(last?.summary.ticks, pausedAt + 3, 'one frame per step');
    assert.throws(
      () => control.setRate(0),
      (e: unknown) => isStreamrollError(e) && e.code === 'OPTION_INVALID',
    );
    control.setRate(400);
    assert.equal(state().rateHz, 400);
    const missesBefore = last?.summary.deadlineMisses ?? 0;
    const dropsBefore = last?.summary.drops ?? 0;
    control.resume();
    await sleep(60);
    const resumedAt = last?.summary.ticks ?? 0;
    const t0 = performance.now();
    await sleep(600);
    const rate = ((last?.summary.ticks ?? 0) - resumedAt) / ((performance.now() - t0) / 1000);
    assert.ok(rate > 250 && rate < 480, `frames/s after setRate(400): ${rate.toFixed(0)}`);
    assert.equal(last?.detail.rateHz, 400);
    assert.equal(last?.summary.rateHz, 400);
    // 0.7 s of pause would be 70 frames late or dropped if it were counted.
    assert.ok((last?.summary.drops ?? 0) - dropsBefore <= 5, 'the pause is not counted as drops');
    assert.ok((last?.summary.deadlineMisses ?? 0) - missesBefore <= 5, 'the pause is not counted as misses');

    // A paused loop stops at once when asked to.
    control.pause();
    await sleep(50);
    const t1 = performance.now();
    stop.abort();
    const summary = await run;
    assert.ok(performance.now() - t1 < 200, 'a paused loop ends promptly on abort');
    assert.equal(
      last?.detail.latencyBuckets.reduce((a, b) => a + b, 0),
      summary.ticks,
      'the latency histogram counts every tick',
    );
    assert.equal(state().attached, false, 'the control is free once the loop ended');
    // Still paused: a loop started under it waits for resume() (or steps).
    const second = new AbortController();
    let ticks = -1;
    const again = runRealtime(rt, { camera: {} }, { rateHz: 100, control, statusMs: 20, signal: second.signal, onStatus: (s) => (ticks = s.ticks) });
    await sleep(200);
    assert.equal(ticks, 0);
    control.step();
    await sleep(100);
    assert.equal(ticks, 1);
    second.abort();
    assert.equal((await again).ticks, 1);
  } finally {
    await rt.close();
  }
});
