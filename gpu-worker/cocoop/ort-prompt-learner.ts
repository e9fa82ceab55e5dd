// The trainable part of CoCoOp / CoOp on ONNX Runtime: the frozen text tower's forward pass, the loss and
// the backward pass to the prompt prefixes run as ONE ONNX graph call per step (ort-text-training.ts,
// clip/onnx/cocoop-step-graph.ts); the meta-net and its gradient run on the host (they are tiny). The same
// function as tf-prompt-learner.ts:
//
//   x̂        = f(x) / ‖f(x)‖                                   image features [B, P], given
//   π(x)     = linear2(relu(linear1(x̂)))                      meta-net [B, D] (CoCoOp; CoOp: none)
//   prompt   = [SOT] [ctx_1 + π(x)] … [ctx_M + π(x)] [suffix_c]                  (prefix ‖ class suffix)
//   t_{b,c}  = text tower(prompt) at its EOT                   [B·C, P]   (CoOp: [C, P], shared)
//   logits   = exp(logit_scale) · ⟨x̂_b, t_{b,c} / ‖t_{b,c}‖⟩   [B, C]
//   loss     = mean over the batch of the cross-entropy
//
// The prefix [SOT][ctx + π(x)] is one per image for CoCoOp (N = B), one for all images for CoOp (N = 1).
// Backward on the host from the graph's dprefix [N, 1+M, D]:
//   dctx_rows[n] = dprefix[n, 1..M];  dctx = Σ_n dctx_rows[n];  dπ[b] = Σ_m dctx_rows[b, m]
//   dW2 = Σ_b dπ[b] ⊗ r[b], db2 = Σ_b dπ[b];  dr = dπ · W2 ⊙ [h1 > 0];  dW1 = Σ_b dr[b] ⊗ x̂[b], db1 = Σ_b dr[b]
import type { HostTensor } from '../clip/safetensors.ts';
import type { Linear } from '../clip/weights.ts';
import type { AdapterMethod, AdapterParams } from './adapter.ts';
import { l2NormalizeRows } from './ort-inference.ts';
import type { TextTrainingRunner } from './ort-text-training.ts';
import type { ClassPrompts } from './prompts.ts';
import { throwIfAborted } from './view-features.ts';

export interface StepResult {
  loss: number;
  logits: Float32Array; // [B, C]
  grads: Float32Array[]; // in `trainable` order
}

function copy(t: HostTensor): HostTensor {
  return { shape: [...t.shape], data: t.data.slice() };
}

export class OrtPromptLearner {
  readonly method: AdapterMethod;
  readonly numClasses: number; // C
  /** The live parameters (updated in place by the optimizer): [ctx] or [ctx, W1, b1, W2, b2]. */
  readonly trainable: HostTensor[];
  private readonly m: number; // M
  private readonly d: number; // D
  private readonly p: number; // P
  private readonly hidden: number; // H (0 for CoOp)
  private readonly scale: number;
  private readonly lens: number[]; // suffix rows per class
  private readonly suffixLength: number; // S = the longest suffix
  private readonly ctxInit: string;
  private readonly suffixCache = new Map<number, { suffixes: Float32Array; eot: number[] }>();

  constructor(
    private readonly tower: TextTrainingRunner,
    private readonly prompts: ClassPrompts,
    params: AdapterParams,
    logitScale: number,
    projectionDim: number,
  ) {
    const d = prompts.width;
    this.method = params.method;
    this.m = prompts.nCtx;
    this.d = d;
    this.p = projectionDim;
    this.numClasses = prompts.classNames.length;
    if (this.numClasses === 0) throw new Error('OrtPromptLearner: no classes');
    if (params.ctx.shape[0] !== this.m || params.ctx.shape[1] !== d) {
      throw new Error(`OrtPromptLearner: ctx has shape [${params.ctx.shape}], the prompts need [${this.m}, ${d}]`);
    }
    if (!Number.isFinite(logitScale)) throw new Error(`OrtPromptLearner: logit scale ${logitScale} is not finite`);
    this.scale = Math.exp(logitScale);
    this.lens = prompts.suffixes.map((s) => s.length / d);
    this.suffixLength = Math.max(...this.lens);
    this.ctxInit = params.ctxInit;
    if (params.method === 'cocoop') {
      const mn = params.metaNet;
      if (!mn) throw new Error('OrtPromptLearner: a CoCoOp adapter needs a meta-net');
      this.hidden = mn.linear1.weight.shape[0];
      const expect = (what: string, t: HostTensor, shape: number[]) => {
        if (t.shape.length !== shape.length || t.shape.some((x, i) => x !== shape[i])) {
          throw new Error(`OrtPromptLearner: meta-net ${what} has shape [${t.shape}], expected [${shape}]`);
        }
      };
      expect('linear1.weight', mn.linear1.weight, [this.hidden, this.p]);
      expect('linear1.bias', mn.linear1.bias, [this.hidden]);
      expect('linear2.weight', mn.linear2.weight, [d, this.hidden]);
      expect('linear2.bias', mn.linear2.bias, [d]);
      this.trainable = [copy(params.ctx), copy(mn.linear1.weight), copy(mn.linear1.bias), copy(mn.linear2.weight), copy(mn.linear2.bias)];
    } else {
      if (params.metaNet) throw new Error('OrtPromptLearner: a CoOp adapter has no meta-net');
      this.hidden = 0;
      this.trainable = [copy(params.ctx)];
    }
  }

  /** Host copy in the adapter layout (PyTorch [out, in] linear weights). */
  toParams(): AdapterParams {
    const [ctx, w1, b1, w2, b2] = this.trainable.map(copy);
    const out: AdapterParams = { method: this.method, ctx, ctxInit: this.ctxInit };
    if (this.method === 'cocoop') out.metaNet = { linear1: { weight: w1, bias: b1 } as Linear, linear2: { weight: w2, bias: b2 } as Linear };
    return out;
  }

  /**
   * The meta-net on unit image features x̂ [B, P]: hidden pre-activations h1 [B, H], ReLU outputs r,
   * and π [B, D].
   */
  private metaNet(xn: Float32Array, b: number): { h1: Float32Array; r: Float32Array; pi: Float32Array } {
    const { p, d, hidden: h } = this;
    const [, w1, b1, w2, b2] = this.trainable.map((t) => t.data);
    const h1 = new Float32Array(b * h);
    const r = new Float32Array(b * h);
    const pi = new Float32Array(b * d);
    for (let i = 0; i < b; i++) {
      for (let o = 0; o < h; o++) {
        let s = b1[o];
        for (let j = 0; j < p; j++) s += w1[o * p + j] * xn[i * p + j];
        h1[i * h + o] = s;
        r[i * h + o] = s > 0 ? s : 0;
      }
      for (let o = 0; o < d; o++) {
        let s = b2[o];
        for (let j = 0; j < h; j++) s += w2[o * h + j] * r[i * h + j];
        pi[i * d + o] = s;
      }
    }
    return { h1, r, pi };
  }

  /** The class suffixes [N·C, S, D] image-major (zero after each EOT) and their EOTs: constant per N, built once. */
  private suffixRows(n: number): { suffixes: Float32Array; eot: number[] } {
    let rows = this.suffixCache.get(n);
    if (!rows) {
      const { d, numClasses: c, suffixLength: s } = this;
      const suffixes = new Float32Array(n * c * s * d);
      const eot: number[] = [];
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < c; k++) {
          suffixes.set(this.prompts.suffixes[k], (i * c + k) * s * d);
          eot.push(this.lens[k] - 1);
        }
      }
      rows = { suffixes, eot };
      this.suffixCache.set(n, rows);
    }
    return rows;
  }

  /** Loss, logits and gradients of one batch: image features [B, P] (projected, not normalised), labels [B]. */
  async step(imageFeatures: Float32Array, labels: number[], signal?: AbortSignal): Promise<StepResult> {
    const { m, d, p, numClasses: c, scale } = this;
    const b = labels.length;
    if (b < 1) throw new Error('OrtPromptLearner: empty batch');
    if (imageFeatures.length !== b * p) throw new Error(`OrtPromptLearner: ${imageFeatures.length} feature values for ${b} images of ${p}`);
    labels.forEach((y) => {
      if (!Number.isInteger(y) || y < 0 || y >= c) throw new Error(`OrtPromptLearner: label ${y} outside [0, ${c})`);
    });
    throwIfAborted(signal);
    const xn = l2NormalizeRows(imageFeatures, b, p);
    const cocoop = this.method === 'cocoop';
    const n = cocoop ? b : 1; // prompt sets: one per image (CoCoOp) or one shared (CoOp)
    const ctx = this.trainable[0].data;
    const meta = cocoop ? this.metaNet(xn, b) : null;

    // Prefixes [N, 1+M, D] = [SOT][ctx + π(x)]; suffixes [N·C, S, D] image-major, zero after each EOT.
    const p0 = 1 + m;
    const s = this.suffixLength;
    const prefixes = new Float32Array(n * p0 * d);
    for (let i = 0; i < n; i++) {
      prefixes.set(this.prompts.prefix, i * p0 * d);
      for (let k = 0; k < m * d; k++) prefixes[(i * p0 + 1) * d + k] = ctx[k] + (meta ? meta.pi[i * d + (k % d)] : 0);
    }
    const { suffixes, eot } = this.suffixRows(n);
    const onehot = new Float32Array(b * c);
    labels.forEach((y, i) => (onehot[i * c + y] = 1));
    const out = await this.tower.step({ prefixes, n, prefixLength: p0, suffixes, suffixLength: s, eot, images: xn, labels: onehot, scale });
    throwIfAborted(signal); // a stop during the graph call: this step's update is not applied

    const dCtxRows = new Float64Array(n * m * d);
    for (let i = 0; i < n; i++) for (let k = 0; k < m * d; k++) dCtxRows[i * m * d + k] = out.gradPrefixes[(i * p0 + 1) * d + k];
    const grads: Float32Array[] = [new Float32Array(m * d)];
    for (let i = 0; i < n; i++) for (let k = 0; k < m * d; k++) grads[0][k] += dCtxRows[i * m * d + k];
    if (meta) grads.push(...this.metaNetGrads(dCtxRows, meta, xn, b));
    return { loss: out.loss, logits: out.logits, grads };
  }

  /** Gradients of W1, b1, W2, b2 from dctxRows [B, M, D] (dπ[b] = Σ_m dctxRows[b, m]). */
  private metaNetGrads(dCtxRows: Float64Array, meta: { h1: Float32Array; r: Float32Array }, xn: Float32Array, b: number): Float32Array[] {
    const { m, d, p, hidden: h } = this;
    const w2 = this.trainable[3].data;
    const dW1 = new Float64Array(h * p);
    const db1 = new Float64Array(h);
    const dW2 = new Float64Array(d * h);
    const db2 = new Float64Array(d);
    const dpi = new Float64Array(d);
    const dr = new Float64Array(h);
    for (let i = 0; i < b; i++) {
      dpi.fill(0);
      for (let k = 0; k < m; k++) for (let o = 0; o < d; o++) dpi[o] += dCtxRows[(i * m + k) * d + o];
      dr.fill(0);
      for (let o = 0; o < d; o++) {
        db2[o] += dpi[o];
        for (let j = 0; j < h; j++) {
          dW2[o * h + j] += dpi[o] * meta.r[i * h + j];
          dr[j] += dpi[o] * w2[o * h + j];
        }
      }
      for (let j = 0; j < h; j++) {
        if (meta.h1[i * h + j] <= 0) continue; // ReLU
        db1[j] += dr[j];
        for (let q = 0; q < p; q++) dW1[j * p + q] += dr[j] * xn[i * p + q];
      }
    }
    return [Float32Array.from(dW1), Float32Array.from(db1), Float32Array.from(dW2), Float32Array.from(db2)];
  }
}
