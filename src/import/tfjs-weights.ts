// TensorFlow.js weight files: the manifest's groups of shards, each a concatenation of the
// group's weights in manifest order, possibly quantised (uint8/uint16 affine, float16).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StreamrollError } from '../util/errors.js';

/** One entry of a weights manifest. */
export interface ManifestWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype: string; readonly min?: number; readonly scale?: number };
}

/** The `weightsManifest` of a model.json. */
export type WeightsManifest = readonly { readonly paths: readonly string[]; readonly weights: readonly ManifestWeight[] }[];

/** A decoded weight: its shape and float32 values (ints kept as floats). */
export interface Weight {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

function half(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Reads every weight of the manifest next to `modelPath`, dequantised to float32, by name. */
export async function readTfjsWeights(modelPath: string, manifest: WeightsManifest): Promise<Map<string, Weight>> {
  const out = new Map<string, Weight>();
  for (const group of manifest) {
    const shards = await Promise.all(group.paths.map((p) => readFile(join(dirname(modelPath), p))));
    const buf = Buffer.concat(shards);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      const values = new Float32Array(n);
      const bytes = q !== undefined ? (q.dtype === 'uint8' ? 1 : 2) : w.dtype === 'float32' || w.dtype === 'int32' ? 4 : w.dtype === 'bool' ? 1 : 4;
      if (at + n * bytes > buf.length) throw new StreamrollError('FILE_UNREADABLE', `weight "${w.name}" runs past the end of its shards (${buf.length} bytes)`);
      for (let i = 0; i < n; i++) {
        const p = at + i * bytes;
        if (q === undefined) values[i] = w.dtype === 'int32' ? view.getInt32(p, true) : w.dtype === 'bool' ? view.getUint8(p) : view.getFloat32(p, true);
        else if (q.dtype === 'float16') values[i] = half(view.getUint16(p, true));
        else values[i] = (q.dtype === 'uint8' ? view.getUint8(p) : view.getUint16(p, true)) * (q.scale ?? 1) + (q.min ?? 0);
      }
      at += n * bytes;
      out.set(w.name, { shape: w.shape, values });
    }
  }
  return out;
}
