// A tiny random CLIP whose token table covers the tiny BPE vocab, with CoCoOp/CoOp parameters and the
// official prompt ids, in two forms built from the same tensors: the product's typed weights and the plain
// Float64 reference (test/reference/). Shared by the TF.js and ONNX Runtime learner tests.
import type { AdapterMethod, AdapterParams } from '../../gpu-worker/cocoop/adapter.ts';
import { initMetaNet } from '../../gpu-worker/cocoop/adapter.ts';
import { classPrompts, ctxFromPhrase, type ClassPrompts } from '../../gpu-worker/cocoop/prompts.ts';
import { parseClipConfig, type ClipConfig } from '../../gpu-worker/clip/config.ts';
import { randomClipTensors } from '../../gpu-worker/clip/random-weights.ts';
import { buildTinyVocab } from '../../gpu-worker/clip/tiny-vocab.ts';
import { ClipTokenizer } from '../../gpu-worker/clip/tokenizer.ts';
import { clipWeightsFromTensors, type ClipWeights } from '../../gpu-worker/clip/weights.ts';
import { makePlainModel, type PlainModel } from '../reference/clip-plain.ts';
import { SeededRandom } from './random.ts';
import { tinyClipJson, toPlainTensors } from './tiny-clip.ts';

export { plainLearner } from './plain-learner.ts';

/** Multi-token names and "_" names (read as spaces, as the official code does). */
export const NAMES = ['cat', 'red_car', 'zebra_fish', 'hexagon'];
export const CTX_INIT = 'a photo of a';
/** Projection dim 64 → meta-net hidden width 4 (the tiny model's 16 would give a 1-unit ReLU). */
export const P = 64;

export const tokenizer = (() => {
  const v = buildTinyVocab();
  return new ClipTokenizer(v.vocab, v.merges);
})();

export interface LearnerFixture {
  config: ClipConfig;
  weights: ClipWeights;
  plain: PlainModel;
  prompts: ClassPrompts;
  /** Official prompt ids: tokenization of "a photo of a <name>." (the reference pads them to 77). */
  promptIds: number[][];
  params: AdapterParams;
}

export function learnerFixture(seed: number, method: AdapterMethod): LearnerFixture {
  const base = tinyClipJson();
  const json = { ...base, projection_dim: P, text_config: { ...(base.text_config as Record<string, unknown>), vocab_size: tokenizer.vocabSize } };
  const config = parseClipConfig(json, 'tiny/config.json');
  const tensors = randomClipTensors(config, seed);
  const weights = clipWeightsFromTensors(tensors, config, 'tiny/model.safetensors');
  const plain = makePlainModel(json, toPlainTensors(tensors), { eotId: tokenizer.eotId, sotId: tokenizer.sotId });
  const ctx = ctxFromPhrase(tokenizer, weights.text.tokenEmbedding, CTX_INIT);
  const prompts = classPrompts(tokenizer, weights.text.tokenEmbedding, NAMES, ctx.shape[0]);
  const promptIds = NAMES.map((n) => tokenizer.encode(`${CTX_INIT} ${n.replace(/_/g, ' ')}.`));
  const d = config.text.hiddenSize;
  const params: AdapterParams = { method, ctx, ctxInit: CTX_INIT, metaNet: method === 'cocoop' ? initMetaNet(new SeededRandom(seed + 100), P, d) : undefined };
  return { config, weights, plain, prompts, promptIds, params };
}
