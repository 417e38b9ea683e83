import type { ParseArgsConfig } from 'node:util';
import { StreamrollError } from '../util/errors.js';

/** A failure the user caused (bad arguments, bad file): printed without a stack trace. */
export class UsageError extends StreamrollError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

/** Where a command writes; tests pass buffers, the binary passes the process streams. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/** One `streamroll` subcommand. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** Returns the exit code. */
  run(positionals: string[], values: Record<string, string | boolean | undefined>, io: CliIo): Promise<number>;
}
