// The base CLIP model a GPU process serves and trains: its directory (MODEL_DIR, read here and nowhere else), and
// the model loaded once with its ONNX encoders, shared by the trainer and the inference server of a worker process.
import { basename, resolve } from 'node:path';
import { type ClipModel, loadClipModel } from '../clip/model.ts';
import { OrtClipEncoders, type OrtEncoderOptions } from '../clip/ort-encoders.ts';

export const DEFAULT_MODEL_DIR = 'models/toy-clip';

/** MODEL_DIR (default models/toy-clip), resolved against the working directory. */
export function modelDirFromEnv(env: Record<string, string | undefined>): string {
  return resolve(env.MODEL_DIR || DEFAULT_MODEL_DIR);
}

/** The model's name in requests and model records (base_model): its directory's basename. */
export function modelName(model: Pick<ClipModel, 'dir'>): string {
  return basename(resolve(model.dir));
}

export interface LoadedModel {
  model: ClipModel;
  /** The model's ONNX Runtime towers (sessions open on first use); release once nothing uses them. */
  encoders: OrtClipEncoders;
}

/**
 * Loads and validates the model directory and creates its encoders (their lines go to `ort.log`, default `log`);
 * logs "model <name> loaded from <dir> in X s".
 */
export function loadModel(dir: string, log: (line: string) => void, ort: OrtEncoderOptions = {}): LoadedModel {
  const t0 = performance.now();
  const model = loadClipModel(dir);
  const encoders = new OrtClipEncoders(model, { log, ...ort });
  log(`model ${modelName(model)} loaded from ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { model, encoders };
}
