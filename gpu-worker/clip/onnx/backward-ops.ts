// Backward (vector-Jacobian product) rules of the CLIP encoder blocks as ONNX subgraphs of standard
// opset-17 ops, shared by the text-tower VJP graphs (text-vjp-graph.ts, text-prefix-vjp-graphs.ts) and the
// one-call training step (cocoop-step-graph.ts).
// CLIP is frozen: only gradients with respect to activations, never to weights.
//
// Rules (x̂ = (x − mean)·invstd):
//   LayerNorm     dx = invstd · (g − mean(g) − x̂ · mean(g · x̂)),  g = dy · γ   (means over the last axis)
//   quick_gelu    a = f · σ(1.702 f):  df = da · σ · (1 + 1.702 f (1 − σ))
//   gelu          a = ½ f (1 + erf(f/√2)):  df = da · (½ (1 + erf(f/√2)) + f · φ(f)),  φ = N(0, 1) density
//   softmax       ds = p · (dp − Σ_j dp · p)
//   attention     dp = dc · vᵀ, dv = pᵀ · dc, dq = ds · k, dk = dsᵀ · q   (q pre-scaled, as in the forward)
//   MatMul x·W    dx = dy · Wᵀ (Transpose of a constant weight: folded by ORT when the session loads; for 2-D
//                 rows Gemm(transB) instead, which reads the weight itself: matMulT2d)
import type { HiddenAct } from '../config.ts';
import type { EncoderLayerParams, EncoderLayerValues, GraphBuilder } from './graph-builder.ts';

/** dy·Wᵀ for a [in, out] weight initializer: y = x·W. dy: [..., out] → [..., in] */
export function matMulT(g: GraphBuilder, dy: string, weight: string): string {
  return g.op('MatMul', [dy, g.op('Transpose', [weight], { perm: [1, 0] })]);
}

/**
 * dy·Wᵀ for a [in, out] weight initializer and a 2-D dy, as Gemm(transB): the session reads the forward
 * weight itself (matMulT's Transpose is folded into a second, transposed copy of the weight when the
 * session loads). dy: [M, out] → [M, in]
 */
export function matMulT2d(g: GraphBuilder, dy: string, weight: string): string {
  return g.op('Gemm', [dy, weight], { transB: 1 });
}

/** LayerNorm backward over the last axis. x, dy: [..., D]; mean, invStd: [..., 1]; gamma: [D] → dx [..., D] */
export function layerNormBackward(g: GraphBuilder, dy: string, x: string, mean: string, invStd: string, gamma: string): string {
  const xhat = g.op('Mul', [g.op('Sub', [x, mean]), invStd]);
  const gy = g.op('Mul', [dy, gamma]);
  const meanG = g.op('ReduceMean', [gy], { axes: [-1], keepdims: 1 });
  const meanGX = g.op('ReduceMean', [g.op('Mul', [gy, xhat])], { axes: [-1], keepdims: 1 });
  return g.op('Mul', [invStd, g.op('Sub', [g.op('Sub', [gy, meanG]), g.op('Mul', [xhat, meanGX])])]);
}

/** d act(f) / df · da. da, f: [..., I] → [..., I] */
export function activationBackward(g: GraphBuilder, da: string, f: string, act: HiddenAct): string {
  if (act === 'quick_gelu') {
    const s = g.op('Sigmoid', [g.op('Mul', [f, g.scalar(1.702, 'quick_gelu_alpha')])]);
    const oneMinusS = g.op('Sub', [g.scalar(1, 'one'), s]);
    const inner = g.op('Add', [g.scalar(1, 'one'), g.op('Mul', [g.op('Mul', [f, g.scalar(1.702, 'quick_gelu_alpha')]), oneMinusS])]);
    return g.op('Mul', [da, g.op('Mul', [s, inner])]);
  }
  const cdf = g.op('Mul', [g.op('Add', [g.op('Erf', [g.op('Div', [f, g.scalar(Math.SQRT2, 'sqrt2')])]), g.scalar(1, 'one')]), g.scalar(0.5, 'half')]);
  const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [f, f]), g.scalar(-0.5, 'minus_half')])]), g.scalar(1 / Math.sqrt(2 * Math.PI), 'inv_sqrt_2pi')]);
  return g.op('Mul', [da, g.op('Add', [cdf, g.op('Mul', [f, pdf])])]);
}

/**
 * The MLP half of a layer, h2 = h1 + fc2(act(fc1(LN2(h1)))): the gradient at h1 from the gradient at h2.
 * dOut, v.mid: [..., D]; v.ln2Mean/ln2InvStd: [..., 1]; v.fc1Out: [..., I] → dMid [..., D]
 * (`matT`: matMulT2d for 2-D rows).
 */
export function mlpBackward(
  g: GraphBuilder,
  dOut: string,
  w: EncoderLayerParams,
  v: Pick<EncoderLayerValues, 'mid' | 'ln2Mean' | 'ln2InvStd' | 'fc1Out'>,
  matT: typeof matMulT = matMulT,
): string {
  const da = matT(g, dOut, w.fc2Weight); // [..., I]
  const df = activationBackward(g, da, v.fc1Out, w.act); // [..., I]
  const dy = matT(g, df, w.fc1Weight); // [..., D]
  return g.op('Add', [dOut, layerNormBackward(g, dy, v.mid, v.ln2Mean, v.ln2InvStd, w.ln2.weight)]);
}

export interface AttentionGrads {
  dq: string; // [B, H, Lq, dh] (gradient at the scaled queries)
  dk: string; // [B, H, Lk, dh]
  dv: string; // [B, H, Lk, dh]
}

/**
 * Backward of ctx = softmax(q·kᵀ + mask)·v from dc = ∂/∂ctx.
 * dc, qh: [B, H, Lq, dh]; khT: [B, H, dh, Lk]; vh: [B, H, Lk, dh]; probs: [B, H, Lq, Lk] (masked entries exactly 0).
 */
export function attentionBackward(g: GraphBuilder, dc: string, qh: string, khT: string, vh: string, probs: string): AttentionGrads {
  const swap = { perm: [0, 1, 3, 2] };
  const dp = g.op('MatMul', [dc, g.op('Transpose', [vh], swap)]); // [B, H, Lq, Lk]
  const dv = g.op('MatMul', [g.op('Transpose', [probs], swap), dc]); // [B, H, Lk, dh]
  const rowDot = g.op('ReduceSum', [g.op('Mul', [dp, probs]), g.int64([-1], 'last_axis')], { keepdims: 1 }); // [B, H, Lq, 1]
  const ds = g.op('Mul', [probs, g.op('Sub', [dp, rowDot])]); // [B, H, Lq, Lk]
  const dq = g.op('MatMul', [ds, g.op('Transpose', [khT], swap)]); // [B, H, Lq, dh]
  const dk = g.op('MatMul', [g.op('Transpose', [ds], swap), qh]); // [B, H, Lk, dh]
  return { dq, dk, dv };
}

/**
 * From the head-layout gradients at q (scaled), k, v of x = LN1(h), the gradient at the layer input h:
 * dMid (the residual branch) + LN1 backward of [dq | dk | dv]·W_qkvᵀ.
 * dMid, v.input: [B, L, D]; dq/dk/dv: [B, H, L, dh] → [B, L, D]
 */
export function qkvBackward(
  g: GraphBuilder,
  dMid: string,
  grads: AttentionGrads,
  w: EncoderLayerParams,
  v: Pick<EncoderLayerValues, 'input' | 'ln1Mean' | 'ln1InvStd'>,
): string {
  const modelShape = g.int64([0, 0, w.d], 'model_shape');
  const merge = (t: string) => g.op('Reshape', [g.op('Transpose', [t], { perm: [0, 2, 1, 3] }), modelShape]); // [B, L, D]
  const dqkv = g.op('Concat', [merge(grads.dq), merge(grads.dk), merge(grads.dv)], { axis: -1 }); // [B, L, 3D]
  return qkvInputBackward(g, dMid, dqkv, w, v);
}

/**
 * The gradient at a layer's input h from the gradient at the fused projection [q | k | v] of x = LN1(h)
 * (model layout, q scaled as in the forward) and the residual branch dMid:
 *   dh = dMid + LN1ᵀ(dqkv · W_qkvᵀ)
 * dMid, v.input: [..., D]; dqkv: [..., 3D]; v.ln1Mean/ln1InvStd: [..., 1] → [..., D]  (`matT`: matMulT2d for 2-D rows)
 */
export function qkvInputBackward(
  g: GraphBuilder,
  dMid: string,
  dqkv: string,
  w: EncoderLayerParams,
  v: Pick<EncoderLayerValues, 'input' | 'ln1Mean' | 'ln1InvStd'>,
  matT: typeof matMulT = matMulT,
): string {
  const dx = matT(g, dqkv, w.qkvWeight); // [..., D]
  return g.op('Add', [dMid, layerNormBackward(g, dx, v.input, v.ln1Mean, v.ln1InvStd, w.ln1.weight)]);
}

/**
 * The gradient at a layer's input from the gradient at its output (values from encoderLayerForward with
 * stats). `kvGrad` adds upstream gradients on the layer's keys/values ([B, H, L, dh], keys unscaled),
 * for layers whose keys/values are also read elsewhere (a prefix's past keys/values).
 * dOut: [B, L, D] → [B, L, D]
 */
export function encoderLayerBackward(g: GraphBuilder, dOut: string, w: EncoderLayerParams, v: EncoderLayerValues, kvGrad?: { keys: string; values: string }): string {
  const { d, heads } = w;
  const dh = d / heads;
  // --- MLP: h2 = h1 + fc2(act(fc1(LN2(h1)))) ---
  const dMid = mlpBackward(g, dOut, w, v); // [B, L, D]

  // --- attention: h1 = h + out_proj(merge(softmax(q·kᵀ + mask) · v)) ---
  const dMerged = matMulT(g, dMid, w.outWeight); // [B, L, D]
  const headShape = g.int64([0, 0, heads, dh], 'head_shape');
  const dc = g.op('Transpose', [g.op('Reshape', [dMerged, headShape])], { perm: [0, 2, 1, 3] }); // [B, H, L, dh]
  const grads = attentionBackward(g, dc, v.qh, v.khT, v.vh, v.probs);
  if (kvGrad) {
    grads.dk = g.op('Add', [grads.dk, kvGrad.keys]); // [B, H, L, dh]
    grads.dv = g.op('Add', [grads.dv, kvGrad.values]);
  }
  return qkvBackward(g, dMid, grads, w, v);
}
