// One CoCoOp / CoOp training step of the frozen text tower as ONE ONNX graph ('cocoop-step', standard
// opset-17 ops, no training or contrib ops): the forward pass of the shared prefixes and of the class
// suffixes, the loss head (normalisation, logits, cross-entropy) and the backward pass down to the
// prefix embeddings. It replaces the four calls prefix → suffix → (host loss) → suffix VJP → prefix VJP
// (text-prefix-graphs.ts, text-prefix-vjp-graphs.ts) by one, and reads each layer's weights once in the
// forward and once in the backward pass.
//
//   prefix_embeds      [N, P0, D]    float32  SOT + context rows of each prefix, before the position embeddings
//   suffix_embeds      [N·C, S, D]   float32  class tokens + EOT, image-major (row r continues prefix ⌊r/C⌋,
//                                              class r mod C); positions after each EOT are never read
//   eot_index          [N·C]         int64    EOT position relative to the suffix, in [0, S) (the caller's to
//                                              check: an index ≥ S would select a token of the next row)
//   image_features     [B, P]        float32  L2-normalised image features x̂ (not normalised here)
//   labels_onehot      [B, C]        float32  one-hot labels (any rows: loss = −Σ_c y·log softmax, exact gradient)
//   logit_scale        []            float32  the multiplier exp(logit_scale)
//   loss               []            float32  mean over the B images of the cross-entropy
//   logits             [B, C]        float32  scale · ⟨x̂_b, t_{n(b),c} / ‖t_{n(b),c}‖⟩
//   grad_prefix_embeds [N, P0, D]    float32  ∂loss/∂prefix_embeds
//
// Prefixes and images: B must be a multiple of N; image b uses prefix n(b) = ⌊b / (B/N)⌋. CoCoOp: N = B
// (one prefix per image). CoOp: N = 1 (one prompt set shared by the B images). C is read from
// labels_onehot; suffix_embeds must hold exactly N·C rows.
//
// Text features t (as text-graph.ts): positions 0..P0-1 are the prefix, P0..P0+S-1 the suffix (position
// embedding rows; P0 + S ≤ max_position_embeddings is the caller's to check: Slice clamps silently).
// Prefix queries see the prefix keys up to themselves; suffix queries see every key of their own prefix
// and the suffix keys up to themselves. t_{r} = projection(final LN(h_last[P0 + eot[r]])).
//
// Packing: the residual stream is ONE matrix h [T, D] of the T = N·P0 + K rows: the prefix rows, then
// the K = Σ_r (eot[r] + 1) suffix tokens up to each EOT (the padding after an EOT is dropped at the input,
// so it costs no MatMul and cannot affect anything: one call takes every class, no length buckets needed;
// S only sizes the attention). Each LayerNorm and the q|k|v, out_proj, fc1 and fc2
// MatMuls run once per layer over all tokens (backward: Gemm(transB) on the same weights); the rows split
// only for attention:
//   prefix rows  [N, H, P0, hd]: causal self-attention;
//   suffix rows  [R, H, S, hd]:  padded again (Gather; zero rows after each EOT) and attending to
//                                [own prefix's keys ‖ own keys], the prefix keys/values broadcast to the rows
//                                by Expand ([N, 1, …] → [N, C, …] → [R, …]); the outputs are unpadded.
// Pad and unpad are Gathers with two index vectors (valid = position ≤ eot): unpad = rows NonZero(valid) of
// [R·S, ·]; pad = rows CumSum(valid) − 1 of [K+1, ·] (row K: zeros) — each the other's backward.
// The last layer runs q|k|v on every row (the prefix and suffix keys/values), attention, out_proj and the
// MLP for the R EOT rows only.
//
// Loss head and its backward (R = N·C rows, k = B/N images per prefix):
//   t̂ = t / ‖t‖;  logits = scale · x̂ · t̂ᵀ per prefix ([N, k, P] × [N, P, C] → [B, C]);  lsm = log softmax
//   loss = mean_b (−Σ_c y·lsm);  dlogits = (softmax · Σ_c y − y) / B
//   dt̂ = scale · dlogitsᵀ · x̂ per prefix ([N, C, k] × [N, k, P]);  dt = (dt̂ − t̂ ⟨t̂, dt̂⟩) / ‖t‖
//   dpooled = final-LN backward of dt · projᵀ, at the EOT rows only.
// Backward through the layers (rules of backward-ops.ts) on the packed rows: the suffix attention's
// gradient on the broadcast prefix keys/values is summed back per prefix (Reshape [N, C, …] + ReduceSum)
// and joins the prefix rows' own key/value gradient at that layer. In the last layer the prefix rows get
// gradient only through their keys/values, the suffix rows only at the EOT (query, residual) and through
// their keys/values. Layer 0 computes the input gradient of the prefix rows only (the only output).
// The padded slots after an EOT hold zeros in the forward and get zero gradient in the backward (masked
// probabilities are exactly 0; unpad drops them). The position embeddings are an addition: the gradient
// passes through unchanged.
import type { TextConfig } from '../config.ts';
import { causalMask, MASKED_FLOAT32_MIN } from '../causal-mask.ts';
import type { TextWeights } from '../weights.ts';
import { type AttentionGrads, attentionBackward, layerNormBackward, matMulT2d, mlpBackward, qkvInputBackward } from './backward-ops.ts';
import { type EncoderLayerParams, encoderLayerParams, GraphBuilder } from './graph-builder.ts';
import { fromHeads, layerNormWithStats, mlpForward, shapes, toHeads } from './text-prefix-vjp-graphs.ts';

/** The attention of one group of rows as its backward reads it. */
interface AttentionValues {
  qh: string; // [B, H, Lq, hd] (scaled queries)
  khT: string; // [B, H, hd, Lk]
  vh: string; // [B, H, Lk, hd]
  probs: string; // [B, H, Lq, Lk]
}

/** One packed layer's forward values. Rows: T = N·P0 + K (packed), or R (the last layer's EOT rows). */
interface PackedLayerValues {
  input: string; // h [T, D]
  ln1Mean: string; // [T, 1]
  ln1InvStd: string; // [T, 1]
  pre: AttentionValues; // prefix rows: [N, H, P0, hd], khT [N, H, hd, P0], probs [N, H, P0, P0] (absent q/probs in the last layer)
  suf: AttentionValues; // suffix rows: qh [R, H, S|1, hd], khT [R, H, hd, P0+S], vh [R, H, P0+S, hd], probs [R, H, S|1, P0+S]
  mid: string; // [T, D] | [R, D]
  ln2Mean: string; // [T, 1] | [R, 1]
  ln2InvStd: string;
  fc1Out: string; // [T, I] | [R, I]
  output: string; // [T, D] | [R, D]
}

export function buildCocoopStepGraph(weights: TextWeights, cfg: TextConfig): Uint8Array {
  const s = shapes(weights, cfg);
  const { d, heads, hd, nLayers } = s;
  const maxLen = cfg.maxPositionEmbeddings;
  const p = weights.projection.shape[0];
  const g = new GraphBuilder('clip_cocoop_step');

  const prefixEmbeds = g.input('prefix_embeds', 'float', ['prefixes', 'prefix_len', d]); // [N, P0, D]
  const suffixEmbeds = g.input('suffix_embeds', 'float', ['rows', 'seq', d]); // [R, S, D]
  const eot = g.input('eot_index', 'int64', ['rows']); // [R]
  const image = g.input('image_features', 'float', ['images', p]); // [B, P]
  const labels = g.input('labels_onehot', 'float', ['images', 'classes']); // [B, C]
  const scale = g.input('logit_scale', 'float', []); // []

  // ---- runtime sizes (int64 vectors of one element unless said) ----
  const dim = (t: string, i: number) => g.op('Slice', [g.op('Shape', [t]), g.int64([i]), g.int64([i + 1])]); // [1]
  const nVec = dim(prefixEmbeds, 0); // [1] = [N]
  const p0Vec = dim(prefixEmbeds, 1); // [1] = [P0]
  const rVec = dim(suffixEmbeds, 0); // [1] = [R]
  const sVec = dim(suffixEmbeds, 1); // [1] = [S]
  const bVec = dim(image, 0); // [1] = [B]
  const cVec = dim(labels, 1); // [1] = [C]
  const npVec = g.op('Mul', [nVec, p0Vec]); // [1] = [N·P0]
  const scalarOf = (v: string) => g.op('Squeeze', [v, g.int64([0], 'axis0')]); // [1] → []
  const zero = g.int64([0], 'zero', []);
  const one = g.int64([1], 'one_i', []);
  /** A shape vector from runtime [1]-vectors (value names) and constants (number arrays). */
  const dims = (...parts: (string | number[])[]) => g.op('Concat', parts.map((x) => (typeof x === 'string' ? x : g.int64(x, 'dim'))), { axis: 0 });
  const flatD = g.int64([-1, d], 'flat_shape'); // → [·, D]
  const flat3D = g.int64([-1, 3 * d], 'flat3_shape'); // → [·, 3D]
  const preModel = dims([-1], p0Vec, [d]); // [3] = [N, P0, D]
  const preQkv = dims([-1], p0Vec, [3 * d]); // [3] = [N, P0, 3D]
  const sufModel = dims([-1], sVec, [d]); // [3] = [R, S, D]
  const sufQkv = dims([-1], sVec, [3 * d]); // [3] = [R, S, 3D]
  const splitKeys = g.op('Concat', [p0Vec, sVec], { axis: 0 }); // [2] = [P0, S]
  const expandPast = dims(nVec, cVec, [heads], p0Vec, [hd]); // [5] = [N, C, H, P0, hd]
  const perPrefixPast = dims([-1], cVec, [heads], p0Vec, [hd]); // [5] = [N, C, H, P0, hd]
  const rowsPast = dims([-1, heads], p0Vec, [hd]); // [4] = [R, H, P0, hd]
  const swap = { perm: [0, 1, 3, 2] };

  /** Each prefix's keys/values for every row continuing it. [N, H, P0, hd] → [R, H, P0, hd] */
  const toRows = (t: string) => g.op('Reshape', [g.op('Expand', [g.op('Unsqueeze', [t, g.int64([1], 'axis1')]), expandPast]), rowsPast]);
  /** Σ over the C rows of each prefix. [R, H, P0, hd] → [N, H, P0, hd] */
  const perPrefix = (t: string) => g.op('ReduceSum', [g.op('Reshape', [t, perPrefixPast]), g.int64([1], 'axis1')], { keepdims: 0 });

  // ---- the suffix tokens up to each EOT: unpad [R·S, ·] → [K, ·] and pad back ----
  const positions = g.op('Range', [zero, scalarOf(sVec), one]); // [S]
  const validRS = g.op('LessOrEqual', [g.op('Unsqueeze', [positions, g.int64([0], 'axis0')]), g.op('Unsqueeze', [eot, g.int64([1], 'axis1')])]); // [R, S] bool
  const valid = g.op('Reshape', [validRS, g.int64([-1], 'flat1')]); // [R·S] bool
  const validIdx = g.op('Reshape', [g.op('NonZero', [valid]), g.int64([-1], 'flat1')]); // [K] int64: rows of [R·S, ·]
  const kVec = g.op('Shape', [validIdx]); // [1] = [K]
  const padIdx = g.op('Where', [valid, g.op('Sub', [g.op('CumSum', [g.op('Cast', [valid], { to: 7 }), zero]), one]), scalarOf(kVec)]); // [R·S] int64: rows of [K+1, ·]
  const zeroRow = g.floatInit('zero_row', new Float32Array(3 * d), [1, 3 * d]); // [1, 3D]
  const zeroRowD = g.floatInit('zero_row_d', new Float32Array(d), [1, d]); // [1, D]
  /** [K, w] → [R·S, w], zeros after each EOT (w = D or 3D). */
  const pad = (t: string, width: number) => g.op('Gather', [g.op('Concat', [t, width === d ? zeroRowD : zeroRow], { axis: 0 }), padIdx], { axis: 0 });
  /** [R·S, w] → [K, w] */
  const unpad = (t: string) => g.op('Gather', [t, validIdx], { axis: 0 });
  const splitRows = g.op('Concat', [npVec, kVec], { axis: 0 }); // [2] = [N·P0, K]

  // ---- embeddings: h = [prefix_embeds + pos[0:P0] ; (suffix_embeds + pos[P0:P0+S]) up to each EOT] ----
  const posTable = g.tensor(weights.positionEmbedding, 'position_embedding'); // [77, D]
  const posPre = g.op('Slice', [posTable, g.int64([0]), p0Vec, g.int64([0])]); // [P0, D]
  const posSuf = g.op('Slice', [posTable, p0Vec, g.op('Add', [p0Vec, sVec]), g.int64([0])]); // [S, D]
  const hPre = g.op('Reshape', [g.op('Add', [prefixEmbeds, posPre]), flatD]); // [N·P0, D]
  const hSuf = unpad(g.op('Reshape', [g.op('Add', [suffixEmbeds, posSuf]), flatD])); // [K, D]
  let h = g.op('Concat', [hPre, hSuf], { axis: 0 }); // [T, D]

  // ---- masks ----
  const maskTable = g.floatInit('causal_mask', causalMask(maxLen, MASKED_FLOAT32_MIN), [maxLen, maxLen]);
  const preMask = g.op('Slice', [maskTable, g.int64([0, 0]), g.op('Concat', [p0Vec, p0Vec], { axis: 0 }), g.int64([0, 1])]); // [P0, P0]
  const causal = g.op('Slice', [maskTable, g.int64([0, 0]), g.op('Concat', [sVec, sVec], { axis: 0 }), g.int64([0, 1])]); // [S, S]
  const open = g.op('ConstantOfShape', [g.op('Concat', [sVec, p0Vec], { axis: 0 })]); // [S, P0] zeros (float)
  const sufMask = g.op('Concat', [open, causal], { axis: 1 }); // [S, P0+S]

  // ---- EOT rows ----
  const eotSuf = g.op('Add', [g.op('Mul', [g.op('Range', [zero, scalarOf(rVec), one]), scalarOf(sVec)]), eot]); // [R]: r·S + eot[r] (rows of [R·S, ·])
  const eotPacked = g.op('Add', [g.op('Gather', [padIdx, eotSuf], { axis: 0 }), scalarOf(npVec)]); // [R]: rows of the packed [T, ·]
  const eotMask = g.op('Unsqueeze', [g.op('Gather', [sufMask, eot], { axis: 0 }), g.int64([1, 2], 'axes12')]); // [R, 1, 1, P0+S]
  const eotHit = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [positions, g.int64([0], 'axis0')]), g.op('Unsqueeze', [eot, g.int64([1], 'axis1')])])], { to: 1 }); // [R, S] float
  const eotHitRows = g.op('Unsqueeze', [eotHit, g.int64([2], 'axis2')]); // [R, S, 1]
  const eotHitHeads = g.op('Unsqueeze', [eotHit, g.int64([1, 3], 'axes13')]); // [R, 1, S, 1]
  const zerosPre = g.op('ConstantOfShape', [dims(npVec, [d])]); // [N·P0, D] zeros (float)

  // ---- forward, keeping what the backward reads ----
  const opts = { heads, eps: cfg.layerNormEps, act: cfg.hiddenAct };
  const layers = weights.layers.map((layer, i) => encoderLayerParams(g, layer, opts, `text.layer${i}`));

  const layerForward = (h: string, w: EncoderLayerParams, last: boolean): PackedLayerValues => {
    const [x, ln1Mean, ln1InvStd] = layerNormWithStats(g, h, w.ln1, w.eps); // [T, D], [T, 1] ×2
    const qkv = g.op('Add', [g.op('MatMul', [x, w.qkvWeight]), w.qkvBias]); // [T, 3D]
    const [qkvPre, qkvValid] = g.opMulti('Split', [qkv, splitRows], 2, { axis: 0 }); // [N·P0, 3D], [K, 3D]
    const qkvSuf = pad(qkvValid, 3 * d); // [R·S, 3D]
    const [qP, kP, vP] = g.opMulti('Split', [g.op('Reshape', [qkvPre, preQkv])], 3, { axis: -1 }); // 3 × [N, P0, D]
    const [qS, kS, vS] = g.opMulti('Split', [g.op('Reshape', [qkvSuf, sufQkv])], 3, { axis: -1 }); // 3 × [R, S, D]
    const khP = toHeads(g, kP, s); // [N, H, P0, hd]
    const vhP = toHeads(g, vP, s); // [N, H, P0, hd]
    const khTP = g.op('Transpose', [khP], swap); // [N, H, hd, P0]
    const khTS = g.op('Transpose', [g.op('Concat', [toRows(khP), toHeads(g, kS, s)], { axis: 2 })], swap); // [R, H, hd, P0+S]
    const vhS = g.op('Concat', [toRows(vhP), toHeads(g, vS, s)], { axis: 2 }); // [R, H, P0+S, hd]

    if (last) {
      // EOT rows only: query, attention, residual, MLP. The prefix rows gave their keys/values.
      const qEot = g.op('Gather', [g.op('Reshape', [qS, flatD]), eotSuf], { axis: 0 }); // [R, D]
      const qh = g.op('Reshape', [qEot, g.int64([0, heads, 1, hd], 'eot_head_shape')]); // [R, H, 1, hd]
      const probs = g.op('Softmax', [g.op('Add', [g.op('MatMul', [qh, khTS]), eotMask])], { axis: -1 }); // [R, H, 1, P0+S]
      const ctx = g.op('Reshape', [g.op('MatMul', [probs, vhS]), g.int64([0, d], 'eot_model_shape')]); // [R, D]
      const residual = g.op('Gather', [h, eotPacked], { axis: 0 }); // [R, D]
      const mid = g.op('Add', [residual, g.op('Add', [g.op('MatMul', [ctx, w.outWeight]), w.outBias])]); // [R, D]
      return { input: h, ln1Mean, ln1InvStd, pre: { qh: '', khT: khTP, vh: vhP, probs: '' }, suf: { qh, khT: khTS, vh: vhS, probs }, ...mlpForward(g, mid, w) };
    }

    const qhP = toHeads(g, qP, s); // [N, H, P0, hd]
    const probsP = g.op('Softmax', [g.op('Add', [g.op('MatMul', [qhP, khTP]), preMask])], { axis: -1 }); // [N, H, P0, P0]
    const ctxP = g.op('Reshape', [fromHeads(g, g.op('MatMul', [probsP, vhP]), s), flatD]); // [N·P0, D]
    const qhS = toHeads(g, qS, s); // [R, H, S, hd]
    const probsS = g.op('Softmax', [g.op('Add', [g.op('MatMul', [qhS, khTS]), sufMask])], { axis: -1 }); // [R, H, S, P0+S]
    const ctxS = unpad(g.op('Reshape', [fromHeads(g, g.op('MatMul', [probsS, vhS]), s), flatD])); // [K, D]
    const ctx = g.op('Concat', [ctxP, ctxS], { axis: 0 }); // [T, D]
    const mid = g.op('Add', [h, g.op('Add', [g.op('MatMul', [ctx, w.outWeight]), w.outBias])]); // [T, D]
    return {
      input: h,
      ln1Mean,
      ln1InvStd,
      pre: { qh: qhP, khT: khTP, vh: vhP, probs: probsP },
      suf: { qh: qhS, khT: khTS, vh: vhS, probs: probsS },
      ...mlpForward(g, mid, w),
    };
  };

  const values: PackedLayerValues[] = layers.map((w, i) => {
    const v = layerForward(h, w, i === nLayers - 1);
    h = v.output; // [T, D]; after the last layer: the pooled EOT rows [R, D]
    return v;
  });
  const pooled = h; // [R, D]
  const lnW = g.tensor(weights.finalLayerNorm.weight, 'text.final_ln.weight');
  const lnB = g.tensor(weights.finalLayerNorm.bias, 'text.final_ln.bias');
  const [normed, lnMean, lnInvStd] = g.opMulti('LayerNormalization', [pooled, lnW, lnB], 3, { axis: -1, epsilon: { float: cfg.layerNormEps } }); // [R, D], [R, 1] ×2
  const proj = g.linearWeight(weights.projection, 'text_projection'); // [D, P]
  const t = g.op('MatMul', [normed, proj]); // [R, P]

  // ---- loss head ----
  const lastAxis = g.int64([-1], 'last_axis');
  const norm = g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [t, t]), lastAxis], { keepdims: 1 })]); // [R, 1]
  const tn = g.op('Div', [t, norm]); // [R, P] t̂
  const tnSets = g.op('Reshape', [tn, dims([-1], cVec, [p])]); // [N, C, P]
  const xSets = g.op('Reshape', [image, dims(nVec, [-1, p])]); // [N, k, P]
  const cos = g.op('MatMul', [xSets, g.op('Transpose', [tnSets], { perm: [0, 2, 1] })]); // [N, k, C]
  const logits = g.op('Mul', [g.op('Reshape', [cos, dims([-1], cVec)]), scale]); // [B, C]
  g.output(logits, 'logits', 'float', ['images', 'classes']);
  const lsm = g.op('LogSoftmax', [logits], { axis: -1 }); // [B, C]
  const ce = g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [labels, lsm]), lastAxis], { keepdims: 0 })]); // [B]
  g.output(g.op('ReduceMean', [ce], { keepdims: 0 }), 'loss', 'float', []); // []

  // ---- backward: loss head ----
  const ySum = g.op('ReduceSum', [labels, lastAxis], { keepdims: 1 }); // [B, 1]
  const bFloat = g.op('Cast', [bVec], { to: 1 }); // [1] float
  const dlogits = g.op('Div', [g.op('Sub', [g.op('Mul', [g.op('Exp', [lsm]), ySum]), labels]), bFloat]); // [B, C]
  const dcos = g.op('Reshape', [g.op('Mul', [dlogits, scale]), dims(nVec, [-1], cVec)]); // [N, k, C]
  const dtn = g.op('Reshape', [g.op('MatMul', [g.op('Transpose', [dcos], { perm: [0, 2, 1] }), xSets]), g.int64([-1, p], 'feature_shape')]); // [R, P]
  const radial = g.op('ReduceSum', [g.op('Mul', [tn, dtn]), lastAxis], { keepdims: 1 }); // [R, 1] ⟨t̂, dt̂⟩
  const dt = g.op('Div', [g.op('Sub', [dtn, g.op('Mul', [tn, radial])]), norm]); // [R, P]
  const dPooled = layerNormBackward(g, matMulT2d(g, dt, proj), pooled, lnMean, lnInvStd, lnW); // [R, D]

  // ---- backward: layers ----
  /** The suffix attention's prefix-key/value gradients summed per prefix, and the suffix rows' own. */
  const splitPast = (att: AttentionGrads) => {
    const [dPastK, dkS] = g.opMulti('Split', [att.dk, splitKeys], 2, { axis: 2 }); // [R, H, P0, hd], [R, H, S, hd]
    const [dPastV, dvS] = g.opMulti('Split', [att.dv, splitKeys], 2, { axis: 2 });
    return { dkPast: perPrefix(dPastK), dvPast: perPrefix(dPastV), dkS, dvS }; // [N, H, P0, hd] ×2, [R, H, S, hd] ×2
  };
  /** [q | k | v] gradients in heads layout → model layout rows. 3 × [B, H, L, hd] → [B·L, 3D] */
  const mergeQkv = (dq: string, dk: string, dv: string) =>
    g.op('Reshape', [g.op('Concat', [fromHeads(g, dq, s), fromHeads(g, dk, s), fromHeads(g, dv, s)], { axis: -1 }), flat3D]);

  const layerBackward = (dOut: string, w: EncoderLayerParams, v: PackedLayerValues, last: boolean, first: boolean): string => {
    const dMid = mlpBackward(g, dOut, w, v, matMulT2d); // [T, D] | [R, D]
    const dMerged = matMulT2d(g, dMid, w.outWeight); // [T, D] | [R, D]
    if (last) {
      const dc = g.op('Reshape', [dMerged, g.int64([0, heads, 1, hd], 'eot_head_shape')]); // [R, H, 1, hd]
      const att = attentionBackward(g, dc, v.suf.qh, v.suf.khT, v.suf.vh, v.suf.probs); // dq [R, H, 1, hd]; dk, dv [R, H, P0+S, hd]
      const sp = splitPast(att);
      const flatPast = (t: string) => g.op('Reshape', [fromHeads(g, t, s), flatD]); // [N, H, P0, hd] → [N·P0, D]
      const dqkvPre = g.op('Concat', [zerosPre, flatPast(sp.dkPast), flatPast(sp.dvPast)], { axis: -1 }); // [N·P0, 3D]
      const dqS = g.op('Mul', [eotHitHeads, att.dq]); // [R, H, S, hd]: the query sat at eot[r]
      const dqkv = g.op('Concat', [dqkvPre, unpad(mergeQkv(dqS, sp.dkS, sp.dvS))], { axis: 0 }); // [T, 3D]
      const dResS = unpad(g.op('Reshape', [g.op('Mul', [eotHitRows, g.op('Unsqueeze', [dMid, g.int64([1], 'axis1')])]), flatD])); // [K, D]: residual at eot[r]
      const dResidual = g.op('Concat', [zerosPre, dResS], { axis: 0 }); // [T, D]
      return qkvInputBackward(g, dResidual, dqkv, w, v, matMulT2d); // [T, D]
    }
    const [dmP, dmS] = g.opMulti('Split', [dMerged, splitRows], 2, { axis: 0 }); // [N·P0, D], [K, D]
    const dcP = toHeads(g, g.op('Reshape', [dmP, preModel]), s); // [N, H, P0, hd]
    const dcS = toHeads(g, g.op('Reshape', [pad(dmS, d), sufModel]), s); // [R, H, S, hd]
    const attP = attentionBackward(g, dcP, v.pre.qh, v.pre.khT, v.pre.vh, v.pre.probs); // 3 × [N, H, P0, hd]
    const attS = attentionBackward(g, dcS, v.suf.qh, v.suf.khT, v.suf.vh, v.suf.probs); // dq [R, H, S, hd]; dk, dv [R, H, P0+S, hd]
    const sp = splitPast(attS);
    const dkP = g.op('Add', [attP.dk, sp.dkPast]); // [N, H, P0, hd]
    const dvP = g.op('Add', [attP.dv, sp.dvPast]); // [N, H, P0, hd]
    const dqkvPre = mergeQkv(attP.dq, dkP, dvP); // [N·P0, 3D]
    if (first) {
      // Only the prefix rows' input gradient is an output.
      const rowsPre = (t: string) => g.op('Slice', [t, g.int64([0]), npVec, g.int64([0])]); // [T, ·] → [N·P0, ·]
      const vPre = { input: rowsPre(v.input), ln1Mean: rowsPre(v.ln1Mean), ln1InvStd: rowsPre(v.ln1InvStd) };
      return qkvInputBackward(g, rowsPre(dMid), dqkvPre, w, vPre, matMulT2d); // [N·P0, D]
    }
    const dqkv = g.op('Concat', [dqkvPre, unpad(mergeQkv(attS.dq, sp.dkS, sp.dvS))], { axis: 0 }); // [T, 3D]
    return qkvInputBackward(g, dMid, dqkv, w, v, matMulT2d); // [T, D]
  };

  let dh = dPooled; // [R, D] at the last layer's output
  for (let i = nLayers - 1; i >= 0; i--) dh = layerBackward(dh, layers[i], values[i], i === nLayers - 1, i === 0); // [T, D]; layer 0: [N·P0, D]
  if (nLayers === 1) dh = g.op('Slice', [dh, g.int64([0]), npVec, g.int64([0])]); // [N·P0, D] (a one-layer tower: the last layer is also the first)
  g.output(g.op('Reshape', [dh, preModel]), 'grad_prefix_embeds', 'float', ['prefixes', 'prefix_len', d]); // [N, P0, D]
  return g.toBytes();
}
