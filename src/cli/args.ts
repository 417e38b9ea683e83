import { UsageError } from './command.js';

/**
 * A numeric option: `fallback` when absent, else the parsed value if `ok` accepts it, else
 * a UsageError saying what was expected (`--rate must be a rate in Hz, got "fast"`).
 */
export function numberOption(values: Record<string, string | boolean | undefined>, name: string, fallback: number, ok: (n: number) => boolean, what: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !ok(n)) throw new UsageError(`--${name} must be ${what}, got "${String(raw)}"`);
  return n;
}
