// Timing for benchmarks: contenders run interleaved in rounds, so machine noise (this VM
// varies ±30% between runs) hits all of them alike, and medians over rounds are compared.

/** One contender: a call to time, sync or async. */
export interface Contender {
  readonly name: string;
  call(): void | Promise<void>;
}

/** Median of a list of numbers. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export { percentile } from '../src/util/stats.js';

async function batch(c: Contender, calls: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const r = c.call();
    if (r !== undefined) await r;
  }
  return ((performance.now() - t0) * 1000) / calls;
}

/**
 * Median microseconds per call of each contender. Each is warmed up first; then `rounds`
 * rounds each time a batch of calls of every contender in turn, the batch sized so one
 * batch of the slowest lasts about `batchMs`.
 */
export async function timeInterleaved(contenders: readonly Contender[], options: { rounds?: number; batchMs?: number; warmupCalls?: number } = {}): Promise<Map<string, number>> {
  const rounds = options.rounds ?? 15;
  const batchMs = options.batchMs ?? 20;
  const calls = new Map<string, number>();
  for (const c of contenders) {
    await batch(c, options.warmupCalls ?? 30);
    const us = await batch(c, 20);
    calls.set(c.name, Math.max(3, Math.round((batchMs * 1000) / Math.max(us, 0.01))));
  }
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) (samples.get(c.name) as number[]).push(await batch(c, calls.get(c.name) as number));
  }
  return new Map([...samples].map(([name, s]) => [name, median(s)]));
}
