// The CLIP text tower split in two graphs so that a prefix shared by many prompts is computed once
// (docs/model.md, speed-up 3). For CoCoOp the prefix is [SOT][v_1+π(x)]…[v_M+π(x)] (P0 = 1+M rows,
// one per image) and the suffixes are the class tokens "<name>." + EOT (one per image × class).
//
// Prefix graph ('text-prefix'):
//   prefix_embeds [batch, prefix_len, D]                   float32  prompt embeddings of positions 0..P0-1
//   past_keys     [layers, batch, heads, prefix_len, hd]   float32  per-layer attention keys of those positions
//   past_values   [layers, batch, heads, prefix_len, hd]   float32  per-layer attention values
// Keys are those the full tower computes (k_proj of LN1(h), head-split), unscaled; the head_dim^-0.5
// scale is folded into the queries as in text-graph.ts. The last layer stops after its keys/values.
//
// Suffix graph ('text-suffix'):
//   suffix_embeds [rows, seq, D]                            float32  embeddings of positions P0..P0+seq-1
//   eot_index     [rows]                                    int64    EOT position relative to the suffix (< seq)
//   row_prefix    [rows]                                    int64    which prefix (batch index of past_*) each row continues
//   past_keys     [layers, batch, heads, prefix_len, hd]    float32  output of the prefix graph
//   past_values   [layers, batch, heads, prefix_len, hd]    float32
//   text_embeds   [rows, P]                                 float32  projected, un-normalised features
// Positions are P0..P0+seq-1 (position_embedding[P0 : P0+seq], P0 read from past_keys at run time,
// so prefix_len is a symbolic dim: one graph serves every context length). Suffix queries attend to
// [prefix keys ‖ suffix keys]: every prefix key is visible, suffix keys under the causal mask.
// In the last layer only the EOT row of each suffix goes through attention output and MLP (the only
// row the output reads). P0 + seq must not exceed max_position_embeddings (checked by the caller).
//
// The result equals the full text graph on the concatenated sequence [prefix ‖ suffix] with the
// EOT at P0 + eot_index (same ops in the same order per row; only matmul blocking differs).
import type { TextConfig } from '../config.ts';
import type { EncoderLayer, TextWeights } from '../weights.ts';
import { concatArrays, transpose2d } from '../host-math.ts';
import { causalMask, MASKED_FLOAT32_MIN } from '../causal-mask.ts';
import { activation, GraphBuilder, layerNorm, linear } from './graph-builder.ts';


interface LayerOpts {
  d: number;
  heads: number;
  eps: number;
  act: TextConfig['hiddenAct'];
}

/** q/k/v weights of one layer in [in, out] layout, q (weight and bias) pre-scaled by head_dim^-0.5. */
function qkvWeights(layer: EncoderLayer, d: number, heads: number) {
  const scale = (d / heads) ** -0.5;
  return {
    wq: transpose2d(layer.q.weight.data, d, d).map((v) => v * scale),
    bq: layer.q.bias.data.map((v) => v * scale),
    wk: transpose2d(layer.k.weight.data, d, d),
    bk: layer.k.bias.data,
    wv: transpose2d(layer.v.weight.data, d, d),
    bv: layer.v.bias.data,
  };
}

/** Column-concatenation of [d, d] matrices (row-major) → [d, k·d]. */
function concatColumns(mats: Float32Array[], d: number): Float32Array {
  const k = mats.length;
  const out = new Float32Array(d * k * d);
  for (let i = 0; i < d; i++) mats.forEach((m, j) => out.set(m.subarray(i * d, (i + 1) * d), i * k * d + j * d));
  return out;
}


/** [B, L, D] → [B, H, L, hd] */
function toHeads(g: GraphBuilder, t: string, o: LayerOpts): string {
  const shape = g.int64([0, 0, o.heads, o.d / o.heads], 'head_shape');
  return g.op('Transpose', [g.op('Reshape', [t, shape])], { perm: [0, 2, 1, 3] });
}

/** [B, H, L, hd] → [B, L, D] */
function fromHeads(g: GraphBuilder, t: string, o: LayerOpts): string {
  return g.op('Reshape', [g.op('Transpose', [t], { perm: [0, 2, 1, 3] }), g.int64([0, 0, o.d], 'model_shape')]);
}

/** Fused q|k|v projection of LN1(h). h: [B, L, D] → heads [B, H, L, hd] ×3 */
function qkvHeads(g: GraphBuilder, x: string, layer: EncoderLayer, o: LayerOpts, hint: string): [string, string, string] {
  const w = qkvWeights(layer, o.d, o.heads);
  const W = g.floatInit(`${hint}.qkv.weight`, concatColumns([w.wq, w.wk, w.wv], o.d), [o.d, 3 * o.d]);
  const B = g.floatInit(`${hint}.qkv.bias`, concatArrays([w.bq, w.bk, w.bv]), [3 * o.d]);
  const [q, k, v] = g.opMulti('Split', [g.op('Add', [g.op('MatMul', [x, W]), B])], 3, { axis: -1 });
  return [toHeads(g, q, o), toHeads(g, k, o), toHeads(g, v, o)];
}

/** k|v projection only (the prefix graph's last layer). x: [B, L, D] → heads [B, H, L, hd] ×2 */
function kvHeads(g: GraphBuilder, x: string, layer: EncoderLayer, o: LayerOpts, hint: string): [string, string] {
  const w = qkvWeights(layer, o.d, o.heads);
  const W = g.floatInit(`${hint}.kv.weight`, concatColumns([w.wk, w.wv], o.d), [o.d, 2 * o.d]);
  const B = g.floatInit(`${hint}.kv.bias`, concatArrays([w.bk, w.bv]), [2 * o.d]);
  const [k, v] = g.opMulti('Split', [g.op('Add', [g.op('MatMul', [x, W]), B])], 2, { axis: -1 });
  return [toHeads(g, k, o), toHeads(g, v, o)];
}

/** softmax(q·kᵀ + mask)·v. q: [B, H, Lq, hd], k/v: [B, H, Lk, hd], mask broadcastable to [B, H, Lq, Lk] → [B, H, Lq, hd] */
function attend(g: GraphBuilder, q: string, k: string, v: string, mask: string): string {
  const scores = g.op('Add', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), mask]);
  return g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
}

/** h + out_proj(ctx), then + fc2(act(fc1(LN2(·)))). h, ctx: [..., D] */
function residualAndMlp(g: GraphBuilder, h: string, ctx: string, layer: EncoderLayer, o: LayerOpts, hint: string): string {
  h = g.op('Add', [h, linear(g, ctx, layer.out, `${hint}.out_proj`)]);
  const y = layerNorm(g, h, layer.layerNorm2, o.eps, `${hint}.ln2`);
  const hidden = activation(g, linear(g, y, layer.fc1, `${hint}.fc1`), o.act);
  return g.op('Add', [h, linear(g, hidden, layer.fc2, `${hint}.fc2`)]);
}

function layerOpts(cfg: TextConfig): LayerOpts {
  if (cfg.hiddenSize % cfg.numAttentionHeads !== 0) throw new Error('text tower: hidden size is not a multiple of the heads');
  return { d: cfg.hiddenSize, heads: cfg.numAttentionHeads, eps: cfg.layerNormEps, act: cfg.hiddenAct };
}

/** Stacks per-layer [B, H, L, hd] tensors into [layers, B, H, L, hd]. */
function stackLayers(g: GraphBuilder, parts: string[]): string {
  const axis0 = g.int64([0], 'axis0');
  return g.op('Concat', parts.map((p) => g.op('Unsqueeze', [p, axis0])), { axis: 0 });
}

export function buildTextPrefixGraph(weights: TextWeights, cfg: TextConfig): Uint8Array {
  const o = layerOpts(cfg);
  const { d, heads } = o;
  const hd = d / heads;
  const maxLen = cfg.maxPositionEmbeddings;
  const nLayers = weights.layers.length;
  const g = new GraphBuilder('clip_text_prefix');

  const embeds = g.input('prefix_embeds', 'float', ['batch', 'prefix_len', d]); // [B, P0, D]
  const shape = g.op('Shape', [embeds]);
  const lenVec = g.op('Slice', [shape, g.int64([1]), g.int64([2])]); // [1] = [P0]

  const posTable = g.tensor(weights.positionEmbedding, 'position_embedding'); // [77, D]
  let h = g.op('Add', [embeds, g.op('Slice', [posTable, g.int64([0]), lenVec, g.int64([0])])]); // [B, P0, D]

  const maskTable = g.floatInit('causal_mask', causalMask(maxLen, MASKED_FLOAT32_MIN), [maxLen, maxLen]);
  const mask = g.op('Slice', [maskTable, g.int64([0, 0]), g.op('Concat', [lenVec, lenVec], { axis: 0 }), g.int64([0, 1])]); // [P0, P0]

  const keys: string[] = [];
  const values: string[] = [];
  weights.layers.forEach((layer, i) => {
    const hint = `text.layer${i}`;
    const x = layerNorm(g, h, layer.layerNorm1, o.eps, `${hint}.ln1`);
    if (i === nLayers - 1) {
      const [k, v] = kvHeads(g, x, layer, o, hint);
      keys.push(k);
      values.push(v);
      return;
    }
    const [q, k, v] = qkvHeads(g, x, layer, o, hint);
    keys.push(k);
    values.push(v);
    h = residualAndMlp(g, h, fromHeads(g, attend(g, q, k, v, mask), o), layer, o, hint);
  });

  const dims = [nLayers, 'batch', heads, 'prefix_len', hd];
  g.output(stackLayers(g, keys), 'past_keys', 'float', dims);
  g.output(stackLayers(g, values), 'past_values', 'float', dims);
  return g.toBytes();
}

/** Rows `idx` [R] of a [N, ...] tensor. */
function gatherRows(g: GraphBuilder, t: string, idx: string): string {
  return g.op('Gather', [t, idx], { axis: 0 });
}

export function buildTextSuffixGraph(weights: TextWeights, cfg: TextConfig): Uint8Array {
  const o = layerOpts(cfg);
  const { d, heads } = o;
  const hd = d / heads;
  const maxLen = cfg.maxPositionEmbeddings;
  const nLayers = weights.layers.length;
  const p = weights.projection.shape[0];
  const g = new GraphBuilder('clip_text_suffix');

  const embeds = g.input('suffix_embeds', 'float', ['rows', 'seq', d]); // [R, S, D]
  const eot = g.input('eot_index', 'int64', ['rows']); // [R]
  const rowPrefix = g.input('row_prefix', 'int64', ['rows']); // [R]
  const pastDims = [nLayers, 'batch', heads, 'prefix_len', hd];
  const pastK = g.input('past_keys', 'float', pastDims);
  const pastV = g.input('past_values', 'float', pastDims);

  // Runtime sizes.
  const shape = g.op('Shape', [embeds]); // [R, S, D]
  const seqVec = g.op('Slice', [shape, g.int64([1]), g.int64([2])]); // [1] = [S]
  const seq = g.op('Gather', [shape, g.int64([1], 'idx', [])], { axis: 0 }); // scalar S
  const rowsN = g.op('Gather', [shape, g.int64([0], 'idx', [])], { axis: 0 }); // scalar R
  const p0Vec = g.op('Slice', [g.op('Shape', [pastK]), g.int64([3]), g.int64([4])]); // [1] = [P0]

  // h = E + position_embedding[P0 : P0+S]
  const posTable = g.tensor(weights.positionEmbedding, 'position_embedding'); // [77, D]
  const pos = g.op('Slice', [posTable, p0Vec, g.op('Add', [p0Vec, seqVec]), g.int64([0])]); // [S, D]
  let h = g.op('Add', [embeds, pos]); // [R, S, D]

  // Mask [S, P0+S]: prefix keys always visible, causal over the suffix keys.
  const maskTable = g.floatInit('causal_mask', causalMask(maxLen, MASKED_FLOAT32_MIN), [maxLen, maxLen]);
  const causal = g.op('Slice', [maskTable, g.int64([0, 0]), g.op('Concat', [seqVec, seqVec], { axis: 0 }), g.int64([0, 1])]); // [S, S]
  const open = g.op('ConstantOfShape', [g.op('Concat', [seqVec, p0Vec], { axis: 0 })]); // [S, P0] zeros (float)
  const mask = g.op('Concat', [open, causal], { axis: 1 }); // [S, P0+S]

  // Flat row index of each EOT in [R·S, D].
  const eotRows = g.op('Add', [g.op('Mul', [g.op('Range', [g.int64([0], 'zero', []), rowsN, g.int64([1], 'one', [])]), seq]), eot]); // [R]
  const flatShape = g.int64([-1, d], 'flat_shape');

  let pooled = '';
  weights.layers.forEach((layer, i) => {
    const hint = `text.layer${i}`;
    const li = g.int64([i], 'layer_idx', []);
    // This layer's prefix keys/values for each row: [batch, H, P0, hd] → [R, H, P0, hd]
    const pk = gatherRows(g, g.op('Gather', [pastK, li], { axis: 0 }), rowPrefix);
    const pv = gatherRows(g, g.op('Gather', [pastV, li], { axis: 0 }), rowPrefix);
    const x = layerNorm(g, h, layer.layerNorm1, o.eps, `${hint}.ln1`); // [R, S, D]

    if (i < nLayers - 1) {
      const [q, k, v] = qkvHeads(g, x, layer, o, hint);
      const keys = g.op('Concat', [pk, k], { axis: 2 }); // [R, H, P0+S, hd]
      const vals = g.op('Concat', [pv, v], { axis: 2 });
      h = residualAndMlp(g, h, fromHeads(g, attend(g, q, keys, vals, mask), o), layer, o, hint);
      return;
    }

    // Last layer: keys/values of every suffix row, everything else for the EOT row only.
    const [k, v] = kvHeads(g, x, layer, o, hint);
    const keys = g.op('Concat', [pk, k], { axis: 2 }); // [R, H, P0+S, hd]
    const vals = g.op('Concat', [pv, v], { axis: 2 });
    const xEot = gatherRows(g, g.op('Reshape', [x, flatShape]), eotRows); // [R, D]
    const hEot = gatherRows(g, g.op('Reshape', [h, flatShape]), eotRows); // [R, D]
    const w = qkvWeights(layer, d, heads);
    const qW = g.floatInit(`${hint}.q.weight`, w.wq, [d, d]);
    const qB = g.floatInit(`${hint}.q.bias`, w.bq, [d]);
    const q = g.op('Add', [g.op('MatMul', [xEot, qW]), qB]); // [R, D]
    const qh = g.op('Reshape', [q, g.int64([0, heads, 1, hd], 'eot_head_shape')]); // [R, H, 1, hd]
    const maskEot = g.op('Unsqueeze', [gatherRows(g, mask, eot), g.int64([1, 2], 'axes12')]); // [R, 1, 1, P0+S]
    const ctx = g.op('Reshape', [attend(g, qh, keys, vals, maskEot), g.int64([0, d], 'eot_model_shape')]); // [R, D]
    pooled = residualAndMlp(g, hEot, ctx, layer, o, hint); // [R, D]
  });

  // final_layer_norm is row-wise: applying it to the pooled rows only is exact.
  const normed = layerNorm(g, pooled, weights.finalLayerNorm, cfg.layerNormEps, 'text.final_ln');
  const out = g.op('MatMul', [normed, g.linearWeight(weights.projection, 'text_projection')]); // [R, P]
  g.output(out, 'text_embeds', 'float', ['rows', p]);
  return g.toBytes();
}

