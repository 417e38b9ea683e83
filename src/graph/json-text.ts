import { SpecError } from './errors.js';
import { LIMITS } from './limits.js';

/** Offset of the first bracket that opens level `depth + 1` (outside strings), or -1. */
function nestingBeyond(text: string, depth: number): number {
  let level = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++level > depth) return i;
    } else if (c === 125 || c === 93) level--;
  }
  return -1;
}

/**
 * Parses JSON text, turning a syntax error into a {@link SpecError} that says where
 * (line and column) and what was found, since V8's messages often give neither.
 */
export function parseJsonText(text: string, what: string, source?: string): unknown {
  // Deeper nesting than any spec needs is refused before parsing (and before the recursive
  // error locator below could run out of stack on it).
  const deep = nestingBeyond(text, LIMITS.jsonDepth);
  if (deep >= 0) {
    const before = text.slice(0, deep);
    throw new SpecError([{ path: `line ${before.split('\n').length} column ${deep - before.lastIndexOf('\n')}`, message: `JSON nested deeper than ${LIMITS.jsonDepth} levels` }], what, source);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
    const offset = syntaxErrorOffset(text);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    const found = offset >= text.length ? 'the end of the text' : JSON.stringify(text[offset]);
    throw new SpecError([{ path: `line ${line} column ${column}`, message: `malformed JSON at ${found}: ${message}` }], what, source);
  }
}

/** Offset of the first JSON syntax error in `text` (text.length when it ends too early). */
export function syntaxErrorOffset(text: string): number {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  class Stop extends Error {}
  const fail = (): never => {
    throw new Stop();
  };
  const literal = (word: string): void => {
    for (const ch of word) if (text[i++] !== ch) i--, fail();
  };
  const string = (): void => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) (i += k), fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (m === null || m[0].length === 0) fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else number();
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (err) {
    if (err instanceof Stop) return Math.min(i, text.length);
    throw err;
  }
}
