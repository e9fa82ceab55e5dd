// The vector-Jacobian product of CLIP's text tower with respect to its input embeddings, as one ONNX
// graph of standard opset-17 ops (no training ops): the forward pass keeps what the backward pass reads,
// then the gradient flows back through every layer. CLIP is frozen, so there are no weight gradients.
//
//   inputs_embeds      [batch, seq, D]  float32  prompt embeddings (before the position embeddings)
//   eot_index          [batch]          int64    end-of-text position of each row (< seq)
//   grad_text_embeds   [batch, P]       float32  upstream gradient on the projected features
//   text_embeds        [batch, P]       float32  the forward output (as text-graph.ts)
//   grad_inputs_embeds [batch, seq, D]  float32  Σ_p grad_text_embeds[b, p] · ∂text_embeds[b, p] / ∂inputs_embeds[b, ·, ·]
//
// Backward rules (per layer, in reverse; x̂ = (x − mean)·invstd):
//   LayerNorm     dx = invstd · (g − mean(g) − x̂ · mean(g · x̂)),  g = dy · γ   (means over the last axis)
//   quick_gelu    a = f · σ(1.702 f):  df = da · σ · (1 + 1.702 f (1 − σ))
//   gelu          a = ½ f (1 + erf(f/√2)):  df = da · (½ (1 + erf(f/√2)) + f · φ(f)),  φ = N(0, 1) density
//   softmax       ds = p · (dp − Σ_j dp · p)
//   attention     dp = dc · vᵀ, dv = pᵀ · dc, dq = ds · k, dk = dsᵀ · q   (q pre-scaled, as in the forward)
//   MatMul x·W    dx = dy · Wᵀ (Transpose of a constant weight: folded by ORT when the session loads)
//   EOT pooling   the pooled row's gradient lands at eot[b]; every other row starts at zero
// Positions after the EOT get zero gradient (the causal mask keeps them out of the EOT row).
// The rules are implemented in backward-ops.ts (shared with the prefix-shared VJP, text-prefix-vjp-graphs.ts).
import type { TextConfig } from '../config.ts';
import { causalMask, MASKED_FLOAT32_MIN } from '../causal-mask.ts';
import type { TextWeights } from '../weights.ts';
import { encoderLayerBackward, layerNormBackward, matMulT } from './backward-ops.ts';
import { type EncoderLayerValues, encoderLayerForward, encoderLayerParams, GraphBuilder } from './graph-builder.ts';

export function buildTextVjpGraph(weights: TextWeights, cfg: TextConfig): Uint8Array {
  const d = cfg.hiddenSize;
  const maxLen = cfg.maxPositionEmbeddings;
  const p = weights.projection.shape[0];
  const g = new GraphBuilder('clip_text_vjp');

  const embeds = g.input('inputs_embeds', 'float', ['batch', 'seq', d]); // [B, L, D]
  const eot = g.input('eot_index', 'int64', ['batch']); // [B]
  const gradOut = g.input('grad_text_embeds', 'float', ['batch', p]); // [B, P]

  const shape = g.op('Shape', [embeds]);
  const batch = g.op('Gather', [shape, g.int64([0], 'idx0', [])], { axis: 0 }); // scalar B
  const seq = g.op('Gather', [shape, g.int64([1], 'idx1', [])], { axis: 0 }); // scalar L
  const seqVec = g.op('Unsqueeze', [seq, g.int64([0], 'axis0')]); // [1]

  // ---- forward, keeping what the backward pass reads ----
  const posTable = g.tensor(weights.positionEmbedding, 'position_embedding'); // [77, D]
  let h = g.op('Add', [embeds, g.op('Slice', [posTable, g.int64([0]), seqVec, g.int64([0])])]); // [B, L, D]
  const maskTable = g.floatInit('causal_mask', causalMask(maxLen, MASKED_FLOAT32_MIN), [maxLen, maxLen]);
  const mask = g.op('Slice', [maskTable, g.int64([0, 0]), g.op('Concat', [seqVec, seqVec], { axis: 0 }), g.int64([0, 1])]); // [L, L]

  const opts = { heads: cfg.numAttentionHeads, eps: cfg.layerNormEps, act: cfg.hiddenAct };
  const layers = weights.layers.map((layer, i) => encoderLayerParams(g, layer, opts, `text.layer${i}`));
  const values: EncoderLayerValues[] = [];
  for (const w of layers) {
    const v = encoderLayerForward(g, h, w, mask, true);
    values.push(v);
    h = v.output;
  }

  // pooled = h[b, eot[b]] (rows b·L + eot[b] of h as [B·L, D]); final LayerNorm; projection.
  const rowStart = g.op('Mul', [g.op('Range', [g.int64([0], 'zero', []), batch, g.int64([1], 'one_i', [])]), seq]); // [B]
  const pooled = g.op('Gather', [g.op('Reshape', [h, g.int64([-1, d])]), g.op('Add', [rowStart, eot])], { axis: 0 }); // [B, D]
  const lnW = g.tensor(weights.finalLayerNorm.weight, 'text.final_ln.weight');
  const lnB = g.tensor(weights.finalLayerNorm.bias, 'text.final_ln.bias');
  const [normed, lnMean, lnInvStd] = g.opMulti('LayerNormalization', [pooled, lnW, lnB], 3, { axis: -1, epsilon: { float: cfg.layerNormEps } });
  const proj = g.linearWeight(weights.projection, 'text_projection'); // [D, P]
  g.output(g.op('MatMul', [normed, proj]), 'text_embeds', 'float', ['batch', p]);

  // ---- backward ----
  const dPooled = layerNormBackward(g, matMulT(g, gradOut, proj), pooled, lnMean, lnInvStd, lnW); // [B, D]
  // Scatter into [B, L, D]: one-hot of eot over the positions, times the pooled row's gradient.
  const positions = g.op('Range', [g.int64([0], 'zero', []), seq, g.int64([1], 'one_i', [])]); // [L]
  const hit = g.op('Equal', [g.op('Unsqueeze', [positions, g.int64([0], 'axis0')]), g.op('Unsqueeze', [eot, g.int64([1], 'axis1')])]); // [B, L]
  const oneHot = g.op('Unsqueeze', [g.op('Cast', [hit], { to: 1 }), g.int64([2], 'axis2')]); // [B, L, 1] float
  let dh = g.op('Mul', [oneHot, g.op('Unsqueeze', [dPooled, g.int64([1], 'axis1')])]); // [B, L, D]
  for (let i = layers.length - 1; i >= 0; i--) dh = encoderLayerBackward(g, dh, layers[i], values[i]);
  // The position embedding is an addition: the gradient passes through unchanged.
  g.output(dh, 'grad_inputs_embeds', 'float', ['batch', 'seq', d]);
  return g.toBytes();
}
