/** The index of the largest value (the first one on ties): a classifier's predicted class. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Percentile p (0..100) by nearest rank; `values` need not be sorted. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Latency percentiles in µs, as the run and server summaries report them. */
export interface LatencySummary {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** The summary of a histogram of nanoseconds (node:perf_hooks), zeros when it holds nothing. */
export function latencySummary(histogram: { readonly count: number; readonly max: number; percentile(p: number): number }): LatencySummary {
  if (histogram.count === 0) return { p50: 0, p99: 0, p999: 0, max: 0 };
  return { p50: histogram.percentile(50) / 1000, p99: histogram.percentile(99) / 1000, p999: histogram.percentile(99.9) / 1000, max: histogram.max / 1000 };
}
