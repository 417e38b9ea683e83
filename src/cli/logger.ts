import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { UsageError } from './command.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The CLI's logger on stderr: pretty lines on a terminal, JSON lines otherwise (for log
 * collectors). Written synchronously so nothing is lost when the process exits.
 */
export function cliLogger(level: string | undefined): Logger {
  const chosen = (level ?? 'info') as LevelWithSilent;
  if (!LEVELS.includes(chosen)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, got "${level}"`);
  if (process.stderr.isTTY) return pino({ level: chosen }, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname' }));
  return pino({ level: chosen, base: undefined }, pino.destination({ dest: 2, sync: true }));
}
