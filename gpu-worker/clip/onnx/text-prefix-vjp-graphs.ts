// The vector-Jacobian product of the prefix-shared text tower (text-prefix-graphs.ts), as two ONNX
// graphs of standard opset-17 ops (no training or contrib ops). For CoCoOp the prefix
// [SOT][v_1+π(x)]…[v_M+π(x)] is shared by every class of one image; its gradient is the sum over the
// classes' rows, and the class tokens are frozen, so only the prefix embeddings get a gradient:
//
//   grad_text_embeds ─▶ suffix VJP (once per batch of rows) ─▶ grad_past_keys/values ─▶ prefix VJP (once per prefix batch) ─▶ grad_prefix_embeds
//
// Suffix VJP graph ('text-suffix-vjp'):
//   suffix_embeds    [rows, seq, D]                         float32  embeddings of positions P0..P0+seq-1
//   eot_index        [rows]                                 int64    EOT position relative to the suffix (< seq)
//   row_prefix       [rows]                                 int64    which prefix (batch index of past_*) each row continues
//   past_keys        [layers, batch, heads, prefix_len, hd] float32  output of the prefix graph
//   past_values      [layers, batch, heads, prefix_len, hd] float32
//   grad_text_embeds [rows, P]                              float32  upstream gradient on the features
//   text_embeds      [rows, P]                              float32  the forward features (= the suffix graph's)
//   grad_past_keys   [layers, batch, heads, prefix_len, hd] float32  ∂(Σ grad_text_embeds · text_embeds)/∂past_keys,
//   grad_past_values [layers, batch, heads, prefix_len, hd] float32  summed over the rows continuing each prefix
// The forward is the suffix graph's (positions P0.., prefix keys always visible, suffix keys causal;
// last layer: out_proj and MLP for the EOT row only) keeping what the backward reads. The gradient flows
// back through the suffix rows' residual stream across layers; at each layer the part on the prefix
// keys/values is split off, and the rows' parts are summed per prefix by a one-hot [batch, rows] MatMul
// (a prefix with no rows gets exactly zero). No gradient w.r.t. suffix_embeds (frozen class tokens).
//
// Prefix VJP graph ('text-prefix-vjp'):
//   prefix_embeds      [batch, prefix_len, D]                 float32  embeddings of positions 0..P0-1
//   grad_past_keys     [layers, batch, heads, prefix_len, hd] float32  upstream gradient on the prefix graph's outputs
//   grad_past_values   [layers, batch, heads, prefix_len, hd] float32
//   grad_prefix_embeds [batch, prefix_len, D]                 float32  Σ grad_past · ∂past/∂prefix_embeds
// Forward through the prefix layers (causal attention among positions 0..P0-1) keeping activations,
// then backward with grad_past_keys[l]/values[l] added at layer l's keys/values. Keys are unscaled (the
// head_dim^-0.5 scale is folded into q), so grad_past_keys is the gradient at k = LN1(h)·W_k + b_k
// head-split. The last layer contributes only its keys/values (its output feeds nothing).
//
// Chained, the two equal the full VJP (text-vjp-graph.ts) on [prefix ‖ suffix] at positions 0..P0-1,
// summed over each prefix's rows. The backward rules are backward-ops.ts's.
import type { TextConfig } from '../config.ts';
import { causalMask, MASKED_FLOAT32_MIN } from '../causal-mask.ts';
import { transpose2d } from '../host-math.ts';
import type { EncoderLayer, TextWeights } from '../weights.ts';
import { attentionBackward, encoderLayerBackward, layerNormBackward, matMulT, mlpBackward, qkvBackward } from './backward-ops.ts';
import { activation, type EncoderLayerParams, type EncoderLayerValues, encoderLayerForward, encoderLayerParams, GraphBuilder } from './graph-builder.ts';

export interface Shapes {
  d: number;
  heads: number;
  hd: number;
  nLayers: number;
}

export function shapes(weights: TextWeights, cfg: TextConfig): Shapes {
  const d = cfg.hiddenSize;
  const heads = cfg.numAttentionHeads;
  if (d % heads !== 0) throw new Error('text tower: hidden size is not a multiple of the heads');
  if (weights.layers.length === 0) throw new Error('text tower: no layers');
  return { d, heads, hd: d / heads, nLayers: weights.layers.length };
}

/** [B, L, D] → [B, H, L, hd] */
export function toHeads(g: GraphBuilder, t: string, s: Shapes): string {
  return g.op('Transpose', [g.op('Reshape', [t, g.int64([0, 0, s.heads, s.hd], 'head_shape')])], { perm: [0, 2, 1, 3] });
}

/** [B, H, L, hd] → [B, L, D] */
export function fromHeads(g: GraphBuilder, t: string, s: Shapes): string {
  return g.op('Reshape', [g.op('Transpose', [t], { perm: [0, 2, 1, 3] }), g.int64([0, 0, s.d], 'model_shape')]);
}

/** LN1 with its statistics. h: [..., D] → x [..., D], mean [..., 1], invStd [..., 1] */
export function layerNormWithStats(g: GraphBuilder, h: string, ln: { weight: string; bias: string }, eps: number): [string, string, string] {
  const [x, mean, invStd] = g.opMulti('LayerNormalization', [h, ln.weight, ln.bias], 3, { axis: -1, epsilon: { float: eps } });
  return [x, mean, invStd];
}

/** h2 = mid + fc2(act(fc1(LN2(mid)))), keeping LN2's statistics and fc1's output. mid: [..., D] */
export function mlpForward(g: GraphBuilder, mid: string, w: EncoderLayerParams): Pick<EncoderLayerValues, 'mid' | 'ln2Mean' | 'ln2InvStd' | 'fc1Out' | 'output'> {
  const [y, ln2Mean, ln2InvStd] = layerNormWithStats(g, mid, w.ln2, w.eps); // [..., D], [..., 1] ×2
  const fc1Out = g.op('Add', [g.op('MatMul', [y, w.fc1Weight]), w.fc1Bias]); // [..., I]
  const hidden = activation(g, fc1Out, w.act); // [..., I]
  const output = g.op('Add', [mid, g.op('Add', [g.op('MatMul', [hidden, w.fc2Weight]), w.fc2Bias])]); // [..., D]
  return { mid, ln2Mean, ln2InvStd, fc1Out, output };
}

/** What the suffix graph's EOT-only last layer needs: the flat EOT row indices and the EOT rows' mask. */
interface EotRows {
  flatRows: string; // [R] int64: r·S + eot[r] (rows of a [R·S, D] view)
  mask: string; // [R, 1, 1, P0+S]
}

/**
 * One suffix layer: queries of the suffix rows (all rows, or with `eot` the EOT row of each suffix only)
 * attend to [prefix keys ‖ suffix keys]. Returns EncoderLayerValues where khT/vh/probs span the P0+S keys:
 *   input [R, S, D], ln1Mean/ln1InvStd [R, S, 1], khT [R, H, hd, P0+S], vh [R, H, P0+S, hd],
 *   qh [R, H, Lq, hd], probs [R, H, Lq, P0+S], mid/output [R, S, D] (Lq = S) or [R, D] (eot: Lq = 1).
 */
function suffixLayerForward(g: GraphBuilder, h: string, w: EncoderLayerParams, pk: string, pv: string, mask: string, s: Shapes, eot?: EotRows): EncoderLayerValues {
  const [x, ln1Mean, ln1InvStd] = layerNormWithStats(g, h, w.ln1, w.eps); // [R, S, D]
  const qkv = g.op('Add', [g.op('MatMul', [x, w.qkvWeight]), w.qkvBias]); // [R, S, 3D]
  const [q, k, v] = g.opMulti('Split', [qkv], 3, { axis: -1 }); // 3 × [R, S, D]
  const keys = g.op('Concat', [pk, toHeads(g, k, s)], { axis: 2 }); // [R, H, P0+S, hd]
  const khT = g.op('Transpose', [keys], { perm: [0, 1, 3, 2] }); // [R, H, hd, P0+S]
  const vh = g.op('Concat', [pv, toHeads(g, v, s)], { axis: 2 }); // [R, H, P0+S, hd]
  const flat = g.int64([-1, s.d], 'flat_shape');
  let qh: string;
  let residual: string;
  let m: string;
  if (eot) {
    const qEot = g.op('Gather', [g.op('Reshape', [q, flat]), eot.flatRows], { axis: 0 }); // [R, D]
    qh = g.op('Reshape', [qEot, g.int64([0, s.heads, 1, s.hd], 'eot_head_shape')]); // [R, H, 1, hd]
    residual = g.op('Gather', [g.op('Reshape', [h, flat]), eot.flatRows], { axis: 0 }); // [R, D]
    m = eot.mask; // [R, 1, 1, P0+S]
  } else {
    qh = toHeads(g, q, s); // [R, H, S, hd]
    residual = h; // [R, S, D]
    m = mask; // [S, P0+S]
  }
  const probs = g.op('Softmax', [g.op('Add', [g.op('MatMul', [qh, khT]), m])], { axis: -1 }); // [R, H, Lq, P0+S]
  const ctx = g.op('MatMul', [probs, vh]); // [R, H, Lq, hd]
  const merged = eot ? g.op('Reshape', [ctx, g.int64([0, s.d], 'eot_model_shape')]) : fromHeads(g, ctx, s); // [R, D] | [R, S, D]
  const mid = g.op('Add', [residual, g.op('Add', [g.op('MatMul', [merged, w.outWeight]), w.outBias])]); // [R, D] | [R, S, D]
  return { input: h, ln1Mean, ln1InvStd, qh, khT, vh, probs, ...mlpForward(g, mid, w) };
}

/** One-hot of the EOT positions in the shapes the EOT-only last layer's backward scatters with. */
interface EotScatter {
  rows: string; // [R, S, 1] float
  heads: string; // [R, 1, S, 1] float
}

/**
 * Backward of suffixLayerForward from dOut (= ∂/∂output: [R, S, D], or [R, D] for the EOT-only layer).
 * Returns the gradient at the prefix keys/values of each row ([R, H, P0, hd]) and, when `needInput`,
 * at the layer's input h ([R, S, D]).
 */
function suffixLayerBackward(
  g: GraphBuilder,
  dOut: string,
  w: EncoderLayerParams,
  v: EncoderLayerValues,
  splitSizes: string,
  s: Shapes,
  needInput: boolean,
  eot?: EotScatter,
): { dPastK: string; dPastV: string; dInput?: string } {
  const dMid = mlpBackward(g, dOut, w, v); // [R, S, D] | [R, D]
  const dMerged = matMulT(g, dMid, w.outWeight); // [R, S, D] | [R, D]
  const dc = eot ? g.op('Reshape', [dMerged, g.int64([0, s.heads, 1, s.hd], 'eot_head_shape')]) : toHeads(g, dMerged, s); // [R, H, Lq, hd]
  const att = attentionBackward(g, dc, v.qh, v.khT, v.vh, v.probs); // dq [R, H, Lq, hd]; dk, dv [R, H, P0+S, hd]
  const [dPastK, dk] = g.opMulti('Split', [att.dk, splitSizes], 2, { axis: 2 }); // [R, H, P0, hd], [R, H, S, hd]
  const [dPastV, dv] = g.opMulti('Split', [att.dv, splitSizes], 2, { axis: 2 });
  if (!needInput) return { dPastK, dPastV };
  // The EOT-only layer: its query and residual rows sit at eot[r]; every other row's gradient there is 0.
  const dq = eot ? g.op('Mul', [eot.heads, att.dq]) : att.dq; // [R, H, S, hd]
  const dResidual = eot ? g.op('Mul', [eot.rows, g.op('Unsqueeze', [dMid, g.int64([1], 'axis1')])]) : dMid; // [R, S, D]
  return { dPastK, dPastV, dInput: qkvBackward(g, dResidual, { dq, dk, dv }, w, v) };
}

export function buildTextSuffixVjpGraph(weights: TextWeights, cfg: TextConfig): Uint8Array {
  const s = shapes(weights, cfg);
  const { d, heads, hd, nLayers } = s;
  const maxLen = cfg.maxPositionEmbeddings;
  const p = weights.projection.shape[0];
  const g = new GraphBuilder('clip_text_suffix_vjp');

  const embeds = g.input('suffix_embeds', 'float', ['rows', 'seq', d]); // [R, S, D]
  const eot = g.input('eot_index', 'int64', ['rows']); // [R]
  const rowPrefix = g.input('row_prefix', 'int64', ['rows']); // [R]
  const pastDims = [nLayers, 'batch', heads, 'prefix_len', hd];
  const pastK = g.input('past_keys', 'float', pastDims); // [layers, B, H, P0, hd]
  const pastV = g.input('past_values', 'float', pastDims);
  const gradOut = g.input('grad_text_embeds', 'float', ['rows', p]); // [R, P]

  // Runtime sizes.
  const shape = g.op('Shape', [embeds]); // [3] = [R, S, D]
  const seqVec = g.op('Slice', [shape, g.int64([1]), g.int64([2])]); // [1] = [S]
  const seq = g.op('Gather', [shape, g.int64([1], 'idx', [])], { axis: 0 }); // scalar S
  const rowsN = g.op('Gather', [shape, g.int64([0], 'idx', [])], { axis: 0 }); // scalar R
  const pastShape = g.op('Shape', [pastK]); // [5]
  const p0Vec = g.op('Slice', [pastShape, g.int64([3]), g.int64([4])]); // [1] = [P0]
  const batchN = g.op('Gather', [pastShape, g.int64([1], 'idx', [])], { axis: 0 }); // scalar B
  const splitSizes = g.op('Concat', [p0Vec, seqVec], { axis: 0 }); // [2] = [P0, S]
  const zero = g.int64([0], 'zero', []);
  const one = g.int64([1], 'one_i', []);

  // h = E + position_embedding[P0 : P0+S]
  const posTable = g.tensor(weights.positionEmbedding, 'position_embedding'); // [77, D]
  const pos = g.op('Slice', [posTable, p0Vec, g.op('Add', [p0Vec, seqVec]), g.int64([0])]); // [S, D]
  let h = g.op('Add', [embeds, pos]); // [R, S, D]

  // Mask [S, P0+S]: prefix keys always visible, causal over the suffix keys.
  const maskTable = g.floatInit('causal_mask', causalMask(maxLen, MASKED_FLOAT32_MIN), [maxLen, maxLen]);
  const causal = g.op('Slice', [maskTable, g.int64([0, 0]), g.op('Concat', [seqVec, seqVec], { axis: 0 }), g.int64([0, 1])]); // [S, S]
  const open = g.op('ConstantOfShape', [g.op('Concat', [seqVec, p0Vec], { axis: 0 })]); // [S, P0] zeros (float)
  const mask = g.op('Concat', [open, causal], { axis: 1 }); // [S, P0+S]

  // EOT rows: flat indices r·S + eot[r] of a [R·S, D] view, their mask rows, and the one-hot [R, S].
  const eotRows: EotRows = {
    flatRows: g.op('Add', [g.op('Mul', [g.op('Range', [zero, rowsN, one]), seq]), eot]), // [R]
    mask: g.op('Unsqueeze', [g.op('Gather', [mask, eot], { axis: 0 }), g.int64([1, 2], 'axes12')]), // [R, 1, 1, P0+S]
  };
  const positions = g.op('Range', [zero, seq, one]); // [S]
  const eotHit = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [positions, g.int64([0], 'axis0')]), g.op('Unsqueeze', [eot, g.int64([1], 'axis1')])])], { to: 1 }); // [R, S] float
  const eotScatter: EotScatter = {
    rows: g.op('Unsqueeze', [eotHit, g.int64([2], 'axis2')]), // [R, S, 1]
    heads: g.op('Unsqueeze', [eotHit, g.int64([1, 3], 'axes13')]), // [R, 1, S, 1]
  };
  // rowsOf[b, r] = 1 where row r continues prefix b: sums the rows' gradients per prefix.
  const rowsOf = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [g.op('Range', [zero, batchN, one]), g.int64([1], 'axis1')]), g.op('Unsqueeze', [rowPrefix, g.int64([0], 'axis0')])])], { to: 1 }); // [B, R] float

  // ---- forward, keeping what the backward pass reads ----
  const opts = { heads, eps: cfg.layerNormEps, act: cfg.hiddenAct };
  const layers = weights.layers.map((layer, i) => encoderLayerParams(g, layer, opts, `text.layer${i}`));
  const values: EncoderLayerValues[] = layers.map((w, i) => {
    const li = g.int64([i], 'layer_idx', []);
    const pk = g.op('Gather', [g.op('Gather', [pastK, li], { axis: 0 }), rowPrefix], { axis: 0 }); // [R, H, P0, hd]
    const pv = g.op('Gather', [g.op('Gather', [pastV, li], { axis: 0 }), rowPrefix], { axis: 0 });
    const v = suffixLayerForward(g, h, w, pk, pv, mask, s, i === nLayers - 1 ? eotRows : undefined);
    h = v.output; // [R, S, D]; after the last layer: the pooled EOT rows [R, D]
    return v;
  });
  const pooled = h; // [R, D]
  // final_layer_norm is row-wise: applying it to the pooled rows only is exact.
  const lnW = g.tensor(weights.finalLayerNorm.weight, 'text.final_ln.weight');
  const lnB = g.tensor(weights.finalLayerNorm.bias, 'text.final_ln.bias');
  const [normed, lnMean, lnInvStd] = g.opMulti('LayerNormalization', [pooled, lnW, lnB], 3, { axis: -1, epsilon: { float: cfg.layerNormEps } }); // [R, D], [R, 1] ×2
  const proj = g.linearWeight(weights.projection, 'text_projection'); // [D, P]
  g.output(g.op('MatMul', [normed, proj]), 'text_embeds', 'float', ['rows', p]); // [R, P]

  // ---- backward ----
  let dh = layerNormBackward(g, matMulT(g, gradOut, proj), pooled, lnMean, lnInvStd, lnW); // [R, D]
  const dPastK: string[] = new Array(nLayers);
  const dPastV: string[] = new Array(nLayers);
  for (let i = nLayers - 1; i >= 0; i--) {
    const last = i === nLayers - 1;
    const r = suffixLayerBackward(g, dh, layers[i], values[i], splitSizes, s, i > 0, last ? eotScatter : undefined);
    dPastK[i] = r.dPastK; // [R, H, P0, hd]
    dPastV[i] = r.dPastV;
    if (r.dInput) dh = r.dInput; // [R, S, D]
  }

  // Σ over the rows of each prefix: [R, layers, H, P0, hd] → [R, layers·H·P0·hd] → rowsOf · → [B, …] → [layers, B, H, P0, hd].
  const perPrefix = (parts: string[]): string => {
    const stacked = g.op('Concat', parts.map((t) => g.op('Unsqueeze', [t, g.int64([1], 'axis1')])), { axis: 1 }); // [R, layers, H, P0, hd]
    const summed = g.op('MatMul', [rowsOf, g.op('Reshape', [stacked, g.int64([0, -1], 'rows_flat')])]); // [B, layers·H·P0·hd]
    const unflat = g.op('Reshape', [summed, g.int64([0, nLayers, heads, -1, hd], 'past_grad_shape')]); // [B, layers, H, P0, hd]
    return g.op('Transpose', [unflat], { perm: [1, 0, 2, 3, 4] }); // [layers, B, H, P0, hd]
  };
  g.output(perPrefix(dPastK), 'grad_past_keys', 'float', pastDims);
  g.output(perPrefix(dPastV), 'grad_past_values', 'float', pastDims);
  return g.toBytes();
}

/** The last prefix layer's LN1 and k|v projection only ([D, 2D] in [in, out] layout, unscaled). */
function kvParams(g: GraphBuilder, layer: EncoderLayer, d: number, hint: string) {
  const wk = transpose2d(layer.k.weight.data, d, d);
  const wv = transpose2d(layer.v.weight.data, d, d);
  const wkv = new Float32Array(d * 2 * d); // row i = [k_i | v_i]
  for (let i = 0; i < d; i++) {
    wkv.set(wk.subarray(i * d, (i + 1) * d), i * 2 * d);
    wkv.set(wv.subarray(i * d, (i + 1) * d), i * 2 * d + d);
  }
  return {
    ln1: { weight: g.tensor(layer.layerNorm1.weight, `${hint}.ln1.weight`), bias: g.tensor(layer.layerNorm1.bias, `${hint}.ln1.bias`) },
    kvWeight: g.floatInit(`${hint}.kv.weight`, wkv, [d, 2 * d]),
  };
}

export function buildTextPrefixVjpGraph(weights: TextWeights, cfg: TextConfig): Uint8Array {
  const s = shapes(weights, cfg);
  const { d, heads, hd, nLayers } = s;
  const maxLen = cfg.maxPositionEmbeddings;
  const g = new GraphBuilder('clip_text_prefix_vjp');

  const embeds = g.input('prefix_embeds', 'float', ['batch', 'prefix_len', d]); // [B, P0, D]
  const pastDims = [nLayers, 'batch', heads, 'prefix_len', hd];
  const gradK = g.input('grad_past_keys', 'float', pastDims); // [layers, B, H, P0, hd]
  const gradV = g.input('grad_past_values', 'float', pastDims);

  const lenVec = g.op('Slice', [g.op('Shape', [embeds]), g.int64([1]), g.int64([2])]); // [1] = [P0]
  const posTable = g.tensor(weights.positionEmbedding, 'position_embedding'); // [77, D]
  let h = g.op('Add', [embeds, g.op('Slice', [posTable, g.int64([0]), lenVec, g.int64([0])])]); // [B, P0, D]
  const maskTable = g.floatInit('causal_mask', causalMask(maxLen, MASKED_FLOAT32_MIN), [maxLen, maxLen]);
  const mask = g.op('Slice', [maskTable, g.int64([0, 0]), g.op('Concat', [lenVec, lenVec], { axis: 0 }), g.int64([0, 1])]); // [P0, P0]

  // ---- forward, keeping activations: every layer but the last in full, the last up to LN1 ----
  const opts = { heads, eps: cfg.layerNormEps, act: cfg.hiddenAct };
  const layers = weights.layers.slice(0, -1).map((layer, i) => encoderLayerParams(g, layer, opts, `text.layer${i}`));
  const values: EncoderLayerValues[] = [];
  for (const w of layers) {
    const v = encoderLayerForward(g, h, w, mask, true); // h [B, P0, D] → v.output [B, P0, D]
    values.push(v);
    h = v.output;
  }
  const lastW = kvParams(g, weights.layers[nLayers - 1], d, `text.layer${nLayers - 1}`);
  const [, lastMean, lastInvStd] = layerNormWithStats(g, h, lastW.ln1, cfg.layerNormEps); // [B, P0, 1] ×2

  // ---- backward ----
  const layerGrad = (t: string, i: number) => g.op('Gather', [t, g.int64([i], 'layer_idx', [])], { axis: 0 }); // [B, H, P0, hd]
  // Last layer: only its keys/values are read: dx = [dk | dv]·W_kvᵀ, then LN1 backward.
  const dkv = g.op('Concat', [fromHeads(g, layerGrad(gradK, nLayers - 1), s), fromHeads(g, layerGrad(gradV, nLayers - 1), s)], { axis: -1 }); // [B, P0, 2D]
  let dh = layerNormBackward(g, matMulT(g, dkv, lastW.kvWeight), h, lastMean, lastInvStd, lastW.ln1.weight); // [B, P0, D]
  for (let i = nLayers - 2; i >= 0; i--) {
    dh = encoderLayerBackward(g, dh, layers[i], values[i], { keys: layerGrad(gradK, i), values: layerGrad(gradV, i) }); // [B, P0, D]
  }
  // The position embedding is an addition: the gradient passes through unchanged.
  g.output(dh, 'grad_prefix_embeds', 'float', ['batch', 'prefix_len', d]);
  return g.toBytes();
}
