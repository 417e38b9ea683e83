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

/**
 * `tcp://HOST:PORT` as host and port (an IPv6 literal in brackets, `tcp://[::1]:9000`, comes
 * back bare), or a UsageError saying what is wrong with it.
 */
export function tcpAddress(arg: string, option: string): { host: string; port: number } {
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d+)$/.exec(arg);
  if (m === null) throw new UsageError(`${option} ${arg}: expected tcp://HOST:PORT (an IPv6 address in brackets: tcp://[::1]:9000)`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`${option} ${arg}: port ${port} is not a TCP port (0 to 65535)`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}
