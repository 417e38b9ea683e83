// What the TCP frame server's thread (workers/frame-server.ts) and serveFrames share.
import type { DriverState } from './frame-driver.js';
import type { LentEngine } from './lent-engine.js';
import type { ErrorCode } from '../util/errors.js';

/** Counters the server's thread keeps in shared memory (Int32 words), readable at any time. */
export const SERVED = 0;
export const SERVER_REJECTED = 1;
export const SERVER_MISSES = 2;

export interface ServerTask {
  readonly engine: LentEngine;
  readonly host: string;
  readonly port: number;
  readonly maxMessageBytes: number;
  readonly rateHz?: number;
  readonly counters: Int32Array;
  /** How long a named session outlives its last connection (ms). */
  readonly sessionIdleMs: number;
  /** Connections served at once; more are closed as they come. */
  readonly maxConnections: number;
  /** A connection silent (or stalled mid-message) this long is closed (ms). */
  readonly idleMs: number;
  /** Bytes of incomplete messages held over all connections before reading pauses. */
  readonly bufferBudget: number;
  /** When set, every message must carry `token` equal to it. */
  readonly token?: string;
}

/** Latency percentiles and CPU per frame of the frames served so far. */
export interface ServerStats {
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number };
  readonly cpuUsPerFrame: number;
}

export type ServerMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'rejected'; readonly reason: string }
  | { readonly type: 'status'; readonly stats: ServerStats }
  | { readonly type: 'failed'; readonly code: ErrorCode; readonly message: string }
  | { readonly type: 'closed'; readonly stats: ServerStats; readonly state: DriverState };
