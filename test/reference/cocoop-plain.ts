// An independent, plain, slow CoCoOp / CoOp forward in Float64, as the official trainer
// (KaiyangZhou/CoOp trainers/cocoop.py, coop.py) computes it: for every image, C prompts of the FULL
// context length 77, built from the 0-padded tokenization of "<ctx words> <class name>." —
//   prompt = [embedding at position 0 (SOT)] [ctx + π(x)] [embeddings at positions 1+M … 76]
// (the M context-word tokens are replaced; positions after the EOT hold the embedding of id 0, as
// the official 0-padded tokenization gives), pooled at the EOT = argmax of the ids (the official rule).
// Built only on test/reference/clip-plain.ts and straight loops; shares no code with the product.
import { plainLogitScale, plainTextFeaturesFromEmbeds, type PlainModel } from './clip-plain.ts';

export interface PlainMetaNet {
  w1: ArrayLike<number>; // [H, P] (PyTorch [out, in])
  b1: ArrayLike<number>; // [H]
  w2: ArrayLike<number>; // [D, H]
  b2: ArrayLike<number>; // [D]
}

export interface PlainLearner {
  nCtx: number; // M
  ctx: ArrayLike<number>; // [M, D] flat
  metaNet?: PlainMetaNet; // CoCoOp; absent for CoOp (π = 0)
}

function l2Normalize(v: ArrayLike<number>): Float64Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const inv = 1 / Math.sqrt(s);
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

/** π(x̂) = W2 · relu(W1 · x̂ + b1) + b2, in Float64. */
export function plainMetaNet(net: PlainMetaNet, xhat: ArrayLike<number>, d: number): Float64Array {
  const p = xhat.length;
  const h = net.b1.length;
  if (net.w1.length !== h * p) throw new Error(`meta-net linear1: ${net.w1.length} weights, expected ${h}×${p}`);
  if (net.w2.length !== d * h || net.b2.length !== d) throw new Error(`meta-net linear2: bad sizes for ${d}×${h}`);
  const hid = new Float64Array(h);
  for (let o = 0; o < h; o++) {
    let s = net.b1[o];
    for (let i = 0; i < p; i++) s += net.w1[o * p + i] * xhat[i];
    hid[o] = s > 0 ? s : 0;
  }
  const out = new Float64Array(d);
  for (let o = 0; o < d; o++) {
    let s = net.b2[o];
    for (let i = 0; i < h; i++) s += net.w2[o * h + i] * hid[i];
    out[o] = s;
  }
  return out;
}

/** Official EOT position: the argmax of the ids (EOT has the largest id in a CLIP vocab). */
function argmax(ids: number[]): number {
  let best = 0;
  for (let i = 1; i < ids.length; i++) if (ids[i] > ids[best]) best = i;
  return best;
}

/**
 * Text features [C][P] (un-normalised) of the official prompts for one context `ctxRows` [M·D].
 * `promptIds[c]` = tokenization of "<ctx words> <class name>." = [SOT, M context-word ids, …, EOT].
 */
export function plainPromptFeatures(model: PlainModel, promptIds: number[][], nCtx: number, ctxRows: ArrayLike<number>): number[][] {
  const D = model.config.text.hidden;
  const len = model.config.text.maxPos; // 77
  if (ctxRows.length !== nCtx * D) throw new Error(`ctx has ${ctxRows.length} values, expected ${nCtx}×${D}`);
  const table = model.tensors.get('text_model.embeddings.token_embedding.weight');
  if (!table) throw new Error('missing token embedding');
  return promptIds.map((row) => {
    if (row.length > len) throw new Error(`prompt of ${row.length} tokens > ${len}`);
    const ids = [...row, ...new Array<number>(len - row.length).fill(0)]; // clip.tokenize pads with 0
    const embeds: Float64Array[] = ids.map((id, t) => {
      if (t >= 1 && t <= nCtx) return Float64Array.from({ length: D }, (_, k) => ctxRows[(t - 1) * D + k]);
      return table.data.slice(id * D, (id + 1) * D);
    });
    return plainTextFeaturesFromEmbeds(model, embeds, argmax(ids));
  });
}

/** logits [B][C] = exp(logit_scale) · cos(x_b, t_c(x_b)); imageFeatures [B][P] un-normalised. */
export function plainCocoopLogits(
  model: PlainModel,
  promptIds: number[][],
  learner: PlainLearner,
  imageFeatures: ArrayLike<number>[],
  logitScale: number = plainLogitScale(model),
): number[][] {
  const D = model.config.text.hidden;
  const M = learner.nCtx;
  const scale = Math.exp(logitScale);
  const cosines = (xhat: Float64Array, feats: number[][]): number[] =>
    feats.map((t) => {
      const th = l2Normalize(t);
      let s = 0;
      for (let i = 0; i < th.length; i++) s += th[i] * xhat[i];
      return scale * s;
    });
  const xs = imageFeatures.map((x) => l2Normalize(x));
  if (!learner.metaNet) {
    const feats = plainPromptFeatures(model, promptIds, M, learner.ctx); // CoOp: once for all images
    return xs.map((xhat) => cosines(xhat, feats));
  }
  const net = learner.metaNet;
  return xs.map((xhat) => {
    const pi = plainMetaNet(net, xhat, D);
    const shifted = new Float64Array(M * D);
    for (let m = 0; m < M; m++) for (let k = 0; k < D; k++) shifted[m * D + k] = learner.ctx[m * D + k] + pi[k];
    return cosines(xhat, plainPromptFeatures(model, promptIds, M, shifted));
  });
}

/** Mean cross-entropy F.cross_entropy(logits, labels), with a max-shifted log-sum-exp. */
export function plainCrossEntropy(logits: number[][], labels: number[]): number {
  if (logits.length !== labels.length) throw new Error(`${labels.length} labels for ${logits.length} rows`);
  let total = 0;
  logits.forEach((row, b) => {
    const mx = Math.max(...row);
    let s = 0;
    for (const v of row) s += Math.exp(v - mx);
    total += mx + Math.log(s) - row[labels[b]];
  });
  return total / logits.length;
}

export function plainCocoopLoss(
  model: PlainModel,
  promptIds: number[][],
  learner: PlainLearner,
  imageFeatures: ArrayLike<number>[],
  labels: number[],
  logitScale?: number,
): number {
  return plainCrossEntropy(plainCocoopLogits(model, promptIds, learner, imageFeatures, logitScale), labels);
}
