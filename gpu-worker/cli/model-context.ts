// What classify / eval / train share: the model, its ORT encoders, and an optional adapter validated
// against the model.
import { loadClipModel, type ClipModel } from '../clip/model.ts';
import { OrtClipEncoders } from '../clip/ort-encoders.ts';
import type { AdapterParams } from '../cocoop/adapter.ts';
import { readAdapter } from '../cocoop/artifact.ts';
import { classPrompts, zeroShotTexts } from '../cocoop/prompts.ts';

export interface ModelContext {
  model: ClipModel;
  encoders: OrtClipEncoders;
  adapter: AdapterParams | null;
}

export function openModel(dir: string, adapterPath?: string): ModelContext {
  const model = loadClipModel(dir);
  const adapter = adapterPath ? readAdapter(adapterPath, { config: model.config, sha256: model.weightsSha256() }).params : null;
  return { model, encoders: new OrtClipEncoders(model), adapter };
}

/** Fails fast (before any image work) when a label cannot be made into a prompt of ≤ 77 tokens. */
export function checkLabelsFit(ctx: ModelContext, labels: string[]): void {
  const { tokenizer, weights } = ctx.model;
  if (ctx.adapter) classPrompts(tokenizer, weights.text.tokenEmbedding, labels, ctx.adapter.ctx.shape[0]);
  else for (const text of zeroShotTexts(labels)) tokenizer.encode(text);
}
