// Command-line handling shared by the bench scripts: --help, and usage errors that name the
// problem and exit 2 instead of a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { numberOption } from '../src/cli/args.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed option values of a bench script. */
export type BenchValues = Record<string, string | boolean | undefined>;

/** Prints `message` and `usage` to stderr and exits 2 (a usage error). */
export function benchFail(message: string, usage: string): never {
  process.stderr.write(`error: ${message}\n\n${usage}\n`);
  process.exit(2);
}

/** Parses argv against `options` (plus --help, which prints `usage` and exits 0). */
export function benchArgs(usage: string, options: Options): BenchValues {
  let values: BenchValues;
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as BenchValues;
  } catch (err) {
    benchFail((err as Error).message, usage);
  }
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values;
}

/** `--rounds`: a whole number >= 1, or `fallback` when absent. */
export function benchRounds(values: BenchValues, fallback: number, usage: string): number {
  return benchNumber(values, 'rounds', fallback, (n) => Number.isInteger(n) && n >= 1, 'a whole number of rounds >= 1', usage);
}

/** A numeric option, or exit 2 with a message saying what was expected. */
export function benchNumber(values: BenchValues, name: string, fallback: number, ok: (n: number) => boolean, what: string, usage: string): number {
  try {
    return numberOption(values, name, fallback, ok, what);
  } catch (err) {
    benchFail((err as Error).message, usage);
  }
}
