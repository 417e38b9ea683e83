import { createHash } from 'node:crypto';
import { readBytes } from './read-file.js';
import { Packr } from 'msgpackr';
import { IssueList, SpecError, show } from '../graph/errors.js';
import { validateNetwork, type Network } from '../graph/network.js';
import type { Parameters } from '../graph/parameters.js';
import { resolveRollout, toPattern, type Rollout, type RolloutPattern } from '../rollout/pattern.js';
import { assertValidRollout, RolloutCycleError } from '../rollout/validity.js';
import { LimitError } from '../graph/limits.js';
import type { NetworkSpec } from '../graph/spec.js';
import { writeFileAtomic } from './atomic-write.js';

/** Marks a msgpack document as a streamroll model. */
export const MODEL_FORMAT = 'streamroll-model';
/**
 * Version written by this code; readers accept versions up to it. Version 2 added the
 * `sha256` checksum; version 1 files (no checksum) are still read.
 */
export const MODEL_VERSION = 2;

/** A network with its rollout and parameters: what a model file holds. */
export interface Model {
  readonly network: Network;
  readonly rollout: Rollout;
  readonly params: Parameters;
  /** Free-form facts about the model (how it was made, when). */
  readonly meta: Readonly<Record<string, unknown>>;
}

/** The msgpack document: spec and rollout as in their JSON files, tensors keyed by edge id / node name. */
interface ModelDocument {
  format: typeof MODEL_FORMAT;
  version: number;
  spec: NetworkSpec;
  rollout: RolloutPattern;
  weights: Record<string, Float32Array>;
  biases: Record<string, Float32Array>;
  meta: Record<string, unknown>;
  /** Last key of the map: hex SHA-256 of every file byte before the 64 hex digits. */
  sha256?: string;
}

/*
 * The checksum sits in a fixed-size trailer (the key "sha256" and a 64-character str8 value)
 * so the file stays one plain msgpack map any reader can open, while the digest covers every
 * byte before the digest itself: header, keys, tensors, and the trailer's own framing.
 */
const CHECKSUM_KEY = 'sha256';
const HEX_LENGTH = 64;
const TRAILER = Uint8Array.of(0xa0 | CHECKSUM_KEY.length, ...new TextEncoder().encode(CHECKSUM_KEY), 0xd9, HEX_LENGTH);
const TRAILER_BYTES = TRAILER.length + HEX_LENGTH;

function digestHex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The stored and computed digests when the file ends in a checksum trailer, else null. */
function trailerDigests(bytes: Uint8Array): { stored: string; computed: string } | null {
  if (bytes.length < TRAILER_BYTES) return null;
  const at = bytes.length - TRAILER_BYTES;
  for (let i = 0; i < TRAILER.length; i++) if (bytes[at + i] !== TRAILER[i]) return null;
  const covered = bytes.length - HEX_LENGTH;
  return { stored: new TextDecoder().decode(bytes.subarray(covered)), computed: digestHex(bytes.subarray(0, covered)) };
}

// moreTypes makes typed arrays round-trip as themselves instead of as plain byte buffers.
const packr = new Packr({ moreTypes: true, useRecords: false });

/** Encodes a model as msgpack bytes (weights in model-file layout, docs/spec-format.md). */
export function encodeModel(model: Model): Uint8Array {
  const { network: net, params } = model;
  const weights: Record<string, Float32Array> = {};
  for (const e of net.edges) {
    const w = params.weights[e.index];
    if (w !== null) weights[e.id] = w;
  }
  const biases: Record<string, Float32Array> = {};
  for (const n of net.nodes) if (!n.isInput) biases[n.name] = params.biases[n.index];
  const doc: ModelDocument = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    spec: net.spec,
    rollout: toPattern(net, model.rollout.delays),
    weights,
    biases,
    meta: { ...model.meta },
    sha256: '0'.repeat(HEX_LENGTH),
  };
  const bytes = packr.pack(doc);
  if (trailerDigests(bytes) === null) throw new Error('internal: model encoding did not end in the checksum trailer');
  const covered = bytes.length - HEX_LENGTH;
  bytes.set(new TextEncoder().encode(digestHex(bytes.subarray(0, covered))), covered);
  return bytes;
}

/**
 * Decodes and checks model bytes: the spec is validated, the rollout resolved and checked,
 * every tensor present with the right length and finite. Throws a SpecError naming each
 * problem (`weights["h1->h2"]: expected 100352 float32 values ([128,784]), found 100`).
 */
export function decodeModel(bytes: Uint8Array, source?: string): Model {
  const issues = new IssueList();
  const digests = trailerDigests(bytes);
  if (digests !== null && digests.stored !== digests.computed) {
    issues.add('sha256', `checksum mismatch: the file is corrupt (its content hashes to ${digests.computed.slice(0, 12)}..., it records ${show(digests.stored.slice(0, 12))}...)`);
    issues.throwIfAny('model file', source);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    const text = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
    const hint = text.startsWith('{') ? 'it looks like JSON: a network spec is not a model file' : 'the file is corrupt or truncated';
    issues.add('$', `not a readable streamroll model (msgpack decoding failed: ${(err as Error).message}); ${hint}`);
    issues.throwIfAny('model file', source);
  }
  if (typeof raw !== 'object' || raw === null || (raw as { format?: unknown }).format !== MODEL_FORMAT) {
    issues.add('format', `not a streamroll model (expected format ${show(MODEL_FORMAT)})`);
    issues.throwIfAny('model file', source);
  }
  const doc = raw as Partial<ModelDocument>;
  if (typeof doc.version !== 'number' || doc.version > MODEL_VERSION) {
    issues.add('version', `unsupported version ${show(doc.version)} (this streamroll reads up to ${MODEL_VERSION})`);
    issues.throwIfAny('model file', source);
  }
  if (digests === null && (doc.version as number) >= 2) {
    issues.add('sha256', 'checksum missing or damaged: the file is corrupt (a version 2 model file ends in its SHA-256)');
    issues.throwIfAny('model file', source);
  }
  let network: Network;
  let rollout: Rollout;
  try {
    network = validateNetwork(doc.spec, source);
    rollout = resolveRollout(network, doc.rollout, source);
    assertValidRollout(network, rollout.delays);
  } catch (err) {
    // Only the errors made for bad input are the file's fault; anything else is a bug to surface.
    if (!(err instanceof SpecError || err instanceof LimitError || err instanceof RolloutCycleError)) throw err;
    throw new SpecError([{ path: 'spec/rollout', message: err.message }], 'model file', source);
  }
  const weights = checkTensors(
    issues,
    'weights',
    doc.weights,
    network.edges.map((e) => ({ key: e.id, size: e.weightShape === null ? null : e.weightSize, shape: e.weightShape })),
  );
  const biases = checkTensors(
    issues,
    'biases',
    doc.biases,
    network.nodes.map((n) => ({ key: n.name, size: n.isInput ? null : n.size, shape: n.shape })),
  );
  issues.throwIfAny('model file', source);
  return {
    network,
    rollout,
    params: { weights, biases: biases.map((b) => b ?? new Float32Array(0)) },
    meta: typeof doc.meta === 'object' && doc.meta !== null ? doc.meta : {},
  };
}

function checkTensors(issues: IssueList, field: string, table: unknown, wanted: { key: string; size: number | null; shape: readonly number[] | null }[]): (Float32Array | null)[] {
  if (typeof table !== 'object' || table === null) {
    issues.add(field, `missing (expected an object of Float32Array keyed by ${field === 'weights' ? 'edge id' : 'node name'})`);
    return wanted.map(() => null);
  }
  const record = table as Record<string, unknown>;
  const keys = new Set(wanted.map((w) => w.key));
  for (const key of Object.keys(record)) {
    if (!keys.has(key)) issues.add(`${field}[${JSON.stringify(key)}]`, `no such ${field === 'weights' ? 'edge with weights' : 'computed node'} in the network`);
  }
  return wanted.map(({ key, size, shape }) => {
    const path = `${field}[${JSON.stringify(key)}]`;
    const t = record[key];
    if (size === null) {
      if (t !== undefined) issues.add(path, `this ${field === 'weights' ? 'edge has no weights' : 'node is an input and has no bias'}`);
      return null;
    }
    if (!(t instanceof Float32Array)) {
      issues.add(path, t === undefined ? `missing (expected ${size} float32 values, shape [${shape?.join(',')}])` : `expected a Float32Array, found ${Object.prototype.toString.call(t)}`);
      return null;
    }
    if (t.length !== size) {
      issues.add(path, `expected ${size} float32 values ([${shape?.join(',')}]), found ${t.length}`);
      return null;
    }
    const bad = t.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) issues.add(path, `non-finite value ${t[bad]} at index ${bad}`);
    return t;
  });
}

/**
 * Writes a model file (msgpack with a SHA-256 trailer). The bytes go to a temporary file in
 * the same directory, are fsynced and then renamed over `path`, so a crash or a full disk
 * leaves either the old file or the new one, never a torn checkpoint.
 */
export async function saveModel(path: string, model: Model): Promise<void> {
  await writeFileAtomic(path, encodeModel(model));
}

/** Reads and checks a model file; errors name the file and what is wrong. */
export async function loadModel(path: string): Promise<Model> {
  return decodeModel(await readBytes(path, 'model file'), path);
}
