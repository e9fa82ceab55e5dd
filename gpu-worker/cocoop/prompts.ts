// Prompt layout of CoOp / CoCoOp for a label set, on the host:
//   [SOT] [v_1 … v_M] [tokens of "<class name>."] [EOT]
// The SOT prefix and the class suffixes are frozen token embeddings; the M context rows are learned
// (CoOp) or learned + π(x) per image (CoCoOp). Zero-shot CLIP uses "a photo of a {c}." as ordinary text.
import type { HostTensor } from '../clip/safetensors.ts';
import { TokenizerError, type ClipTokenizer } from '../clip/tokenizer.ts';

export const CONTEXT_LENGTH = 77;

export interface ClassPrompts {
  classNames: string[];
  nCtx: number; // M
  width: number; // D
  prefix: Float32Array; // [D] embedding of SOT
  suffixIds: number[][]; // per class: ids of "<name>." then EOT
  suffixes: Float32Array[]; // per class: [S_c, D] embeddings of suffixIds
  eot: number[]; // per class: 1 + M + S_c - 1
  length: number; // L = max(eot) + 1
}

/** Official CoOp/CoCoOp: class names with "_" read as spaces. */
export function promptClassName(name: string): string {
  return name.replace(/_/g, ' ');
}

function rows(table: HostTensor, ids: number[]): Float32Array {
  const d = table.shape[1];
  const out = new Float32Array(ids.length * d);
  ids.forEach((id, i) => {
    if (!(id >= 0 && id < table.shape[0])) throw new Error(`token id ${id} is outside the embedding table`);
    out.set(table.data.subarray(id * d, (id + 1) * d), i * d);
  });
  return out;
}

/** Distinct, non-empty labels (after trimming); a clear error otherwise. */
export function validateLabels(classNames: string[]): void {
  if (classNames.length === 0) throw new Error('no labels given');
  const seen = new Set<string>();
  for (const name of classNames) {
    if (name.trim() === '') throw new Error('a label is empty');
    if (seen.has(name)) throw new Error(`duplicate label "${name}"`);
    seen.add(name);
  }
}

export function classPrompts(tokenizer: ClipTokenizer, tokenEmbedding: HostTensor, classNames: string[], nCtx: number): ClassPrompts {
  validateLabels(classNames);
  const suffixIds = classNames.map((name) => {
    const body = tokenizer.encodeBody(`${promptClassName(name)}.`);
    const total = 1 + nCtx + body.length + 1;
    if (total > CONTEXT_LENGTH) {
      throw new TokenizerError(
        `label "${name.length > 60 ? name.slice(0, 60) + '…' : name}" makes a ${total}-token prompt with ${nCtx} context tokens (CLIP's limit is ${CONTEXT_LENGTH})`,
      );
    }
    return [...body, tokenizer.eotId];
  });
  const eot = suffixIds.map((s) => nCtx + s.length); // 1 + M + S_c - 1
  return {
    classNames: [...classNames],
    nCtx,
    width: tokenEmbedding.shape[1],
    prefix: rows(tokenEmbedding, [tokenizer.sotId]),
    suffixIds,
    suffixes: suffixIds.map((ids) => rows(tokenEmbedding, ids)),
    eot,
    length: Math.max(...eot) + 1,
  };
}

/** Context vectors initialised from a phrase: M = its BPE token count, rows = their token embeddings. */
export function ctxFromPhrase(tokenizer: ClipTokenizer, tokenEmbedding: HostTensor, phrase: string): HostTensor {
  const ids = tokenizer.encodeBody(phrase);
  if (ids.length === 0) throw new Error(`--ctx-init "${phrase}" has no tokens`);
  return { shape: [ids.length, tokenEmbedding.shape[1]], data: rows(tokenEmbedding, ids) };
}

/** Zero-shot CLIP prompts: "a photo of a {c}." through the ordinary token path. */
export function zeroShotTexts(classNames: string[]): string[] {
  validateLabels(classNames);
  return classNames.map((c) => `a photo of a ${promptClassName(c)}.`);
}

/**
 * Full prompt embeddings on the host, for the reference / naive paths and ORT:
 * ctxRows [B, M, D] (one context per image; B = 1 for CoOp) → [B·C, L, D] with L = `padTo` ?? cp.length.
 * Rows after each EOT are left zero (never read by the EOT output under the causal mask).
 */
export function assemblePrompts(cp: ClassPrompts, ctxRows: Float32Array, b: number, padTo?: number): Float32Array {
  const { width: d, nCtx: m } = cp;
  const c = cp.classNames.length;
  const l = padTo ?? cp.length;
  if (ctxRows.length !== b * m * d) throw new Error(`assemblePrompts: ctx has ${ctxRows.length} values, expected ${b}×${m}×${d}`);
  const out = new Float32Array(b * c * l * d);
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < c; k++) {
      const base = (i * c + k) * l * d;
      out.set(cp.prefix, base);
      out.set(ctxRows.subarray(i * m * d, (i + 1) * m * d), base + d);
      out.set(cp.suffixes[k], base + (1 + m) * d);
    }
  }
  return out;
}
