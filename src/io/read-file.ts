import { readFile } from 'node:fs/promises';
import { StreamrollError } from '../util/errors.js';

/** Why a file could not be read, in a few words: a missing file is the common case. */
function unreadable(what: string, path: string, err: unknown): StreamrollError {
  const code = (err as NodeJS.ErrnoException).code;
  return new StreamrollError('FILE_UNREADABLE', `cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message}`);
}

/** A file's bytes, or a FILE_UNREADABLE error naming `what` it was meant to be. */
export async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw unreadable(what, path, err);
  }
}

/** A file's text (UTF-8), or a FILE_UNREADABLE error naming `what` it was meant to be. */
export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw unreadable(what, path, err);
  }
}
