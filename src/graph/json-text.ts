import { SpecError } from './errors.js';

/**
 * Parses JSON text, turning a syntax error into a {@link SpecError} that says where
 * (line and column) instead of V8's character offset.
 */
export function parseJsonText(text: string, what: string, source?: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(message);
    let where = '$';
    if (pos !== null) {
      const offset = Number(pos[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      where = `line ${line} column ${column}`;
    }
    throw new SpecError([{ path: where, message: `malformed JSON: ${message}` }], what, source);
  }
}
