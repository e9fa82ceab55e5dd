// Token ids → prompt embeddings on the host: the input the text tower takes ([N, L, D] + EOT index),
// with L = max(eot) + 1 (the causal mask makes positions after the EOT irrelevant to its output).
import type { HostTensor } from './safetensors.ts';

export interface PromptBatch {
  embeds: Float32Array; // [N, L, D]
  eot: number[]; // [N] position of the first EOT token in each prompt
  n: number;
  length: number; // L
  width: number; // D
}

export function eotPosition(ids: number[], eotId: number): number {
  const pos = ids.indexOf(eotId);
  if (pos < 0) throw new Error(`prompt has no end-of-text token (id ${eotId})`);
  return pos;
}

/**
 * Looks up token embeddings for each prompt, truncated to L = max(eot)+1 (or padded to
 * `padTo` for the naive full-length path). Padding rows are zeros: never read by the EOT output.
 */
export function embedTokenIds(tokenEmbedding: HostTensor, ids: number[][], eotId: number, padTo?: number): PromptBatch {
  const [vocab, d] = tokenEmbedding.shape;
  const eot = ids.map((p) => eotPosition(p, eotId));
  const length = padTo ?? Math.max(...eot) + 1;
  const embeds = new Float32Array(ids.length * length * d);
  ids.forEach((prompt, n) => {
    const upto = Math.min(prompt.length, length);
    for (let l = 0; l < upto; l++) {
      const id = prompt[l];
      if (!(id >= 0 && id < vocab)) throw new Error(`token id ${id} is outside the embedding table (${vocab} rows)`);
      embeds.set(tokenEmbedding.data.subarray(id * d, (id + 1) * d), (n * length + l) * d);
    }
  });
  return { embeds, eot, n: ids.length, length, width: d };
}
