import { CACHE_LINE } from './arena.js';

// Control words of the parallel engine, in the arena's control lines (Int32, Atomics-ready).
// Every field written by a different party sits on its own 64-byte line: false sharing made
// Atomics 7x slower in measurements here. Field indices are named in this one place.

const WORDS_PER_LINE = CACHE_LINE / 4;

/** Line 0, written by the main thread: the latest tick whose input frame is in the arena. */
export const PUBLISHED = 0;
/** Line 0: 0 while running, 1 when asked to stop, 2 when a worker failed. */
export const STOP = 1;
/** Line 0: engine frame that counts as tick 0 (runtime ticks restart at reset), for messages. */
export const TICK_BASE = 2;
/** Line 0: first engine frame whose outputs the main thread will read (row-major copies are made from it on). */
export const OUTPUTS_FROM = 3;
/**
 * Line 1: the main thread's wake-up request. It waits for node WAKE_NODE to reach frame
 * WAKE_AT by sleeping on MAIN_WAKE, which the worker of that node bumps (and notifies) only
 * when it gets there: one wake-up per wait, not one per frame of every node (a notify that
 * wakes a waiting thread costs the notifying worker ~25 µs here). The three words share a
 * line although main and workers both write it: each is written once per wait, not per frame.
 */
export const MAIN_WAKE = 1 * WORDS_PER_LINE;
export const WAKE_NODE = MAIN_WAKE + 1;
export const WAKE_AT = MAIN_WAKE + 2;
/** Line 2: workers that have bound their kernels and entered the loop. */
export const READY = 2 * WORDS_PER_LINE;

export const STOP_REQUESTED = 1;
export const STOP_FAILED = 2;

const FIXED_LINES = 3;

/** Index of node v's ready counter: the latest frame of v that is complete. */
export const nodeTick = (v: number): number => (FIXED_LINES + v) * WORDS_PER_LINE;

/**
 * Index of worker w's statistics line: word 0 frames done, then two Float64 slots at byte
 * offsets 8 and 16 (compute µs, wait µs), read by the main thread without locking.
 */
export const workerLine = (nodes: number, w: number): number => (FIXED_LINES + nodes + w) * WORDS_PER_LINE;

/** Control lines needed for a network of `nodes` nodes run by `workers` workers. */
export const controlLines = (nodes: number, workers: number): number => FIXED_LINES + nodes + workers;
