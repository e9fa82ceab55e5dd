// The CoOp/CoCoOp prompt layout, checked against the ordinary token path: with the context
// initialised from "a photo of a", [SOT][ctx][class "."][EOT] must be exactly the embedding rows of
// the tokenised text "a photo of a <class>." (that is how the official code builds it).
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { embedTokenIds } from '../../../gpu-worker/clip/prompt-embeddings.ts';
import { randomClipTensors } from '../../../gpu-worker/clip/random-weights.ts';
import { presetConfig } from '../../../gpu-worker/clip/presets.ts';
import { ClipTokenizer, TokenizerError } from '../../../gpu-worker/clip/tokenizer.ts';
import { assemblePrompts, classPrompts, ctxFromPhrase, zeroShotTexts } from '../../../gpu-worker/cocoop/prompts.ts';

const tokenizer = ClipTokenizer.fromDir(resolve(process.cwd(), 'models/clip-vocab'));
const table = randomClipTensors(presetConfig('tiny', 49408), 3).get('text_model.embeddings.token_embedding.weight')!;
const LABELS = ['cat', 'golden_retriever', 'Red Panda', 'x'];

describe('CoOp/CoCoOp prompts', () => {
  it('[SOT][ctx init][class.][EOT] equals the token embeddings of "a photo of a <class>."', () => {
    const ctx = ctxFromPhrase(tokenizer, table, 'a photo of a');
    expect(ctx.shape).toEqual([4, 32]); // "a photo of a" is 4 BPE tokens
    const cp = classPrompts(tokenizer, table, LABELS, 4);
    const assembled = assemblePrompts(cp, ctx.data, 1);
    const ids = LABELS.map((c) => tokenizer.encode(`a photo of a ${c.replace(/_/g, ' ')}.`));
    const direct = embedTokenIds(table, ids, tokenizer.eotId);
    expect(cp.eot).toEqual(direct.eot);
    expect(cp.length).toBe(direct.length);
    // Positions up to each EOT are identical; the rest are padding on both sides.
    const d = 32;
    for (let c = 0; c < LABELS.length; c++) {
      for (let l = 0; l <= cp.eot[c]; l++) {
        const a = assembled.subarray((c * cp.length + l) * d, (c * cp.length + l + 1) * d);
        const b = direct.embeds.subarray((c * cp.length + l) * d, (c * cp.length + l + 1) * d);
        expect(Array.from(a)).toEqual(Array.from(b));
      }
    }
  });

  it('puts each image its own context rows (CoCoOp: ctx + π(x) differs per image)', () => {
    const cp = classPrompts(tokenizer, table, ['cat', 'dog'], 2);
    const ctx = Float32Array.from({ length: 2 * 2 * 32 }, (_, i) => i); // [B=2, M=2, D=32]
    const out = assemblePrompts(cp, ctx, 2);
    const row = (b: number, c: number, l: number) => Array.from(out.subarray(((b * 2 + c) * cp.length + l) * 32, ((b * 2 + c) * cp.length + l + 1) * 32));
    expect(row(1, 0, 1)).toEqual(Array.from(ctx.subarray(64, 96)));
    expect(row(1, 1, 2)).toEqual(Array.from(ctx.subarray(96, 128)));
    expect(row(0, 1, 1)).toEqual(Array.from(ctx.subarray(0, 32)));
  });

  it('refuses duplicate or empty labels, and labels that do not fit in 77 tokens', () => {
    expect(() => classPrompts(tokenizer, table, ['cat', 'cat'], 4)).toThrow(/duplicate label "cat"/);
    expect(() => classPrompts(tokenizer, table, ['cat', ' '], 4)).toThrow(/empty/);
    const long = Array.from({ length: 72 }, (_, i) => `w${i}`).join(' ');
    expect(() => classPrompts(tokenizer, table, ['cat', long], 4)).toThrow(TokenizerError);
    expect(() => classPrompts(tokenizer, table, ['cat', long], 4)).toThrow(/77/);
  });

  it('zero-shot uses "a photo of a {c}." with underscores read as spaces', () => {
    expect(zeroShotTexts(['golden_retriever'])).toEqual(['a photo of a golden retriever.']);
  });
});
