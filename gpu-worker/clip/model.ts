// A CLIP model directory in Hugging Face layout: config.json, model.safetensors, vocab.json +
// merges.txt, optional preprocessor_config.json. Loaded eagerly and validated together.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadClipConfig, type ClipConfig } from './config.ts';
import { loadPreprocessConfig, type PreprocessConfig } from './preprocess.ts';
import { sha256File } from './safetensors.ts';
import { ClipTokenizer } from './tokenizer.ts';
import { loadClipWeights, WeightsError, type ClipWeights } from './weights.ts';

export interface ClipModel {
  dir: string;
  config: ClipConfig;
  weights: ClipWeights;
  tokenizer: ClipTokenizer;
  preprocess: PreprocessConfig;
  weightsPath: string;
  /** sha256 of model.safetensors (computed on first use). */
  weightsSha256(): string;
}

export function loadClipModel(dir: string): ClipModel {
  if (!existsSync(dir)) throw new Error(`${dir}: model directory does not exist`);
  const config = loadClipConfig(dir);
  const tokenizer = ClipTokenizer.fromDir(dir);
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(weightsPath)) throw new WeightsError(`${weightsPath}: missing (a CLIP model directory needs model.safetensors)`);
  const weights = loadClipWeights(weightsPath, config);
  const maxId = Math.max(tokenizer.sotId, tokenizer.eotId, tokenizer.vocabSize - 1);
  if (maxId >= config.text.vocabSize) {
    throw new WeightsError(
      `${join(dir, 'vocab.json')}: token ids go up to ${maxId} but the model's token table has ${config.text.vocabSize} rows`,
    );
  }
  const preprocess = loadPreprocessConfig(dir, config.vision.imageSize);
  let sha: string | undefined;
  return {
    dir,
    config,
    weights,
    tokenizer,
    preprocess,
    weightsPath,
    weightsSha256: () => (sha ??= sha256File(weightsPath)),
  };
}
