import type * as TF from '@tensorflow/tfjs';
import { StreamrollError } from '../util/errors.js';

/** TensorFlow.js with the backend in use: `tensorflow` (tfjs-node, native) or `wasm`. */
export interface LoadedTf {
  readonly tf: typeof TF;
  readonly backend: string;
}

/** Training and eval need TensorFlow.js, which streamroll lists as optional peer dependencies. */
export class TfMissing extends StreamrollError {
  constructor() {
    super(
      'TF_MISSING',
      'training needs TensorFlow.js, which is not installed: npm install @tensorflow/tfjs-node (native, fastest; downloads libtensorflow) or npm install @tensorflow/tfjs @tensorflow/tfjs-backend-wasm (portable)',
    );
    this.name = 'TfMissing';
  }
}

let loaded: Promise<LoadedTf> | undefined;

/**
 * Loads TensorFlow.js once: tfjs-node when it is installed (an optional dependency; it
 * needs a download that offline installs skip), else @tensorflow/tfjs on the wasm backend
 * (SIMD; its cpu backend trains 15-150x slower). Says which backend runs.
 */
export function loadTf(): Promise<LoadedTf> {
  // A failed load is not kept: installing the package and retrying in the same process works.
  loaded ??= (async (): Promise<LoadedTf> => {
    try {
      const tf = (await import('@tensorflow/tfjs-node' as string)) as typeof TF;
      return { tf, backend: tf.getBackend() };
    } catch {
      let tf: typeof TF;
      try {
        tf = await import('@tensorflow/tfjs');
        await import('@tensorflow/tfjs-backend-wasm');
      } catch {
        throw new TfMissing();
      }
      tf.env().set('PROD', true);
      const ok = await tf.setBackend('wasm');
      // setBackend can resolve false while getBackend() still says wasm: check both.
      if (!ok || tf.getBackend() !== 'wasm') throw new StreamrollError('UNSUPPORTED_PLATFORM', 'TensorFlow.js: the wasm backend did not start, and tfjs-node is not installed');
      await tf.ready();
      return { tf, backend: 'wasm' };
    }
  })();
  loaded.catch(() => (loaded = undefined));
  return loaded;
}
