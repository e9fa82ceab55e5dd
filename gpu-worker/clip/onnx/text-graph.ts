// CLIP text tower as an ONNX graph (HF CLIPTextModel + text_projection = get_text_features).
//
//   inputs_embeds [batch, seq, D] float32   token (or prompt) embeddings, seq ≤ maxPositionEmbeddings
//   eot_index     [batch]         int64     position of the end-of-text token of each row (< seq)
//   text_embeds   [batch, P]      float32   projected, un-normalised features
//
// The causal mask makes positions after the EOT irrelevant to the output, so callers may run any
// seq ≥ max(eot)+1 (docs/model.md, speed-up 2).
import type { TextConfig } from '../config.ts';
import type { TextWeights } from '../weights.ts';
import { causalMask, MASKED_FLOAT32_MIN } from '../causal-mask.ts';
import { encoderLayer, GraphBuilder, layerNorm } from './graph-builder.ts';


export function buildTextGraph(weights: TextWeights, cfg: TextConfig): Uint8Array {
  const d = cfg.hiddenSize;
  const maxLen = cfg.maxPositionEmbeddings;
  const p = weights.projection.shape[0];
  const g = new GraphBuilder('clip_text');

  const embeds = g.input('inputs_embeds', 'float', ['batch', 'seq', d]); // [B, L, D]
  const eot = g.input('eot_index', 'int64', ['batch']); // [B]

  // Runtime sizes: shape(embeds) = [B, L, D]
  const shape = g.op('Shape', [embeds]);
  const seqVec = g.op('Slice', [shape, g.int64([1]), g.int64([2])]); // [1] = [L]
  const seq = g.op('Gather', [shape, g.int64([1], 'idx', [])], { axis: 0 }); // scalar L
  const batch = g.op('Gather', [shape, g.int64([0], 'idx', [])], { axis: 0 }); // scalar B

  // h = E + position_embedding[0:L]
  const posTable = g.tensor(weights.positionEmbedding, 'position_embedding'); // [77, D]
  const pos = g.op('Slice', [posTable, g.int64([0]), seqVec, g.int64([0])]); // [L, D]
  let h = g.op('Add', [embeds, pos]); // [B, L, D]

  // Causal mask [L, L], sliced from a precomputed [77, 77] one.
  const maskTable = g.floatInit('causal_mask', causalMask(maxLen, MASKED_FLOAT32_MIN), [maxLen, maxLen]);
  const maskEnds = g.op('Concat', [seqVec, seqVec], { axis: 0 }); // [2] = [L, L]
  const mask = g.op('Slice', [maskTable, g.int64([0, 0]), maskEnds, g.int64([0, 1])]); // [L, L]

  const opts = { heads: cfg.numAttentionHeads, eps: cfg.layerNormEps, act: cfg.hiddenAct, mask };
  weights.layers.forEach((layer, i) => {
    h = encoderLayer(g, h, layer, opts, `text.layer${i}`);
  });

  // pooled = h[b, eot[b]]: gather rows b·L + eot[b] of h viewed as [B·L, D]. The final layer norm
  // is row-wise, so applying it to the pooled rows only is the same as applying it everywhere.
  const flat = g.op('Reshape', [h, g.int64([-1, d])]); // [B·L, D]
  const rowStart = g.op('Mul', [g.op('Range', [g.int64([0], 'zero', []), batch, g.int64([1], 'one', [])]), seq]); // [B]
  const rows = g.op('Add', [rowStart, eot]); // [B]
  const pooled = g.op('Gather', [flat, rows], { axis: 0 }); // [B, D]
  const normed = layerNorm(g, pooled, weights.finalLayerNorm, cfg.layerNormEps, 'text.final_ln');

  const proj = g.linearWeight(weights.projection, 'text_projection'); // [D, P]
  const out = g.op('MatMul', [normed, proj]); // [B, P]
  g.output(out, 'text_embeds', 'float', ['batch', p]);
  return g.toBytes();
}
