#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SpecError } from '../graph/errors.js';
import { StreamrollError } from '../util/errors.js';
import { analyzeCommand } from './analyze.js';
import { benchCommand } from './bench.js';
import { runCommand } from './run.js';
import { evalCommand, trainCommand } from './train.js';
import { importCommand } from './import.js';
import { UsageError, type CliIo, type Command } from './command.js';

const COMMANDS: readonly Command[] = [analyzeCommand, runCommand, benchCommand, importCommand, trainCommand, evalCommand];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: streamroll <command> [options]

Executes deep networks in the streaming rollout: every layer on its own worker, all
computing each frame tick from the previous frame's states.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     show help (also: streamroll <command> --help)
  -v, --version  print the version
`;
}

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit code. Usage and
 * input errors go to `io.err` as one clear message; with --json, stdout still gets exactly
 * one JSON document (`{"error": ...}`).
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(mainHelp());
    return name === undefined ? 1 : 0;
  }
  if (name === '-v' || name === '--version') {
    io.out(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`streamroll: unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(', ')}; see streamroll --help)\n`);
    return 1;
  }
  const json = rest.includes('--json');
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({ args: [...rest], options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
      } catch (err) {
        throw new UsageError(`${(err as Error).message}\n(see streamroll ${command.name} --help)`);
      }
    })();
    if (values.help === true) {
      io.out(command.help + '\n');
      return 0;
    }
    return await command.run(positionals, values as Record<string, string | boolean | undefined>, io);
  } catch (err) {
    io.err(`streamroll ${command.name}: ${describeError(err)}\n`);
    if (json) {
      const issues = err instanceof SpecError ? err.issues : undefined;
      const code = err instanceof StreamrollError ? err.code : undefined;
      io.out(JSON.stringify({ error: { message: err instanceof Error ? err.message : String(err), ...(code === undefined ? {} : { code }), ...(issues === undefined ? {} : { issues }) } }) + '\n');
    }
    return 1;
  }
}

/**
 * One line (or a spec's list of issues) for an error, never a stack trace: errors the user
 * can act on say what is wrong; system errors (a refused connection, a bad port, a missing
 * file) are named by their code; anything else is a bug, reported with its message and how
 * to see its stack (STREAMROLL_DEBUG=1).
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (process.env.STREAMROLL_DEBUG === '1') return err.stack ?? err.message;
  // streamroll's own errors say what to do; a RangeError is an option out of its range.
  if (err instanceof StreamrollError || err instanceof RangeError) return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string') return err.message.startsWith(code) ? err.message : `${err.message} (${code})`;
  return `${err.message} (an internal error: STREAMROLL_DEBUG=1 shows where)`;
}

function isEntryPoint(): boolean {
  // realpath on both sides: npm's bin entry is a symlink to this file, and under --preserve-symlinks so is this module.
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const io: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`streamroll: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
