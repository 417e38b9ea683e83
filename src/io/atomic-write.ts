import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `bytes` so that readers (and a restart after a crash) see either the
 * old content or the new, never a truncated mix: the bytes go to a temporary file beside the
 * target, are fsynced, renamed over it, and the directory entry is fsynced where the platform
 * allows. On failure the temporary file is removed and the target is untouched.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes a rename durable; directories cannot be opened for fsync on every platform (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: import('node:fs/promises').FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // The rename itself has happened; only its durability across a power loss is best effort here.
  } finally {
    await handle?.close();
  }
}
