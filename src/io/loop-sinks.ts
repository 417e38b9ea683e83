// Sinks as the real-time loop's thread sees them: every tick's outputs (or a recording of the
// inputs) written from that thread, never through the main thread. Files and stdout are
// written synchronously (a few microseconds a frame); a TCP connection is written from the
// thread's own event loop, which the loop lets turn between frames.
import { once } from 'node:events';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { StreamrollError } from '../util/errors.js';

/** What a loop sink describes to the loop's thread (structured-clonable). */
export type LoopSinkSpec = { readonly kind: 'stdout' } | { readonly kind: 'file'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** A sink in the loop's thread. */
export interface LoopSink {
  write(message: Buffer): void;
  /** True when writes only leave while this thread's event loop turns. */
  readonly needsTurns: boolean;
  close(): Promise<void>;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `data` to a file descriptor, riding out partial writes and a full pipe (EAGAIN). */
function writeAll(fd: number, data: Buffer): void {
  for (let at = 0; at < data.length; ) {
    try {
      at += writeSync(fd, data, at, data.length - at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** Opens a described sink in this thread; a TCP sink connects first (and fails clearly if it cannot). */
export async function openLoopSink(spec: LoopSinkSpec): Promise<LoopSink> {
  if (spec.kind === 'stdout') return { needsTurns: false, write: (m) => writeAll(1, m), close: async () => undefined };
  if (spec.kind === 'file') {
    const fd = openSync(spec.path, 'w');
    return {
      needsTurns: false,
      write: (m) => writeAll(fd, m),
      async close() {
        fsyncSync(fd);
        closeSync(fd);
      },
    };
  }
  const socket: Socket = connect(spec.port, spec.host);
  try {
    await once(socket, 'connect');
  } catch (err) {
    throw new StreamrollError('CONNECT_FAILED', `cannot connect to tcp://${spec.host}:${spec.port}: ${(err as Error).message}`);
  }
  let failure: Error | undefined;
  socket.on('error', (err) => (failure ??= err));
  return {
    needsTurns: true,
    write(m) {
      if (failure !== undefined) throw new StreamrollError('CONNECT_FAILED', `output connection tcp://${spec.host}:${spec.port} failed: ${failure.message}`);
      socket.write(m);
    },
    async close() {
      await new Promise<void>((resolve) => socket.end(resolve));
    },
  };
}
