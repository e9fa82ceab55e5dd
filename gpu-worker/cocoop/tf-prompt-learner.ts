// The trainable part of CoCoOp / CoOp on TF.js, in front of a frozen TfTextTower:
//
//   x̂        = f(x) / ‖f(x)‖                                   image features [B, P], given
//   π(x)     = linear2(relu(linear1(x̂)))                      meta-net, [B, D] (CoCoOp; CoOp: 0)
//   prompt   = [SOT] [ctx_1 + π(x)] … [ctx_M + π(x)] [suffix_c] [0 …]     [B·C, L, D]
//   t_{b,c}  = text tower(prompt) at prompts.eot[c], normalised   [B·C, P]
//   logits   = exp(logit_scale) · ⟨x̂_b, t̂_{b,c}⟩                [B, C]
//   loss     = mean over the batch of the cross-entropy
//
// CoOp prompts do not depend on the image: its text features are computed once for the C classes.
// All images × classes go through ONE text-tower call at L = max(eot) + 1 (the causal mask makes
// positions after each EOT irrelevant; they are zero here, token-0 embeddings in the official code).
//
// Fast gradients on wasm (docs/model.md, facts of this machine kind): the prompt assembly uses only reshape / broadcasting add /
// concat (no tf.gather, whose gradient has no wasm kernel; no tf.tile on the gradient path, whose
// gradient is a loop of slices); the meta-net linears have a custom gradient built from plain
// matMuls and explicit transposes (matMul's built-in gradient uses the slow transpose flags); the
// cosine similarities are an element-wise product and a sum, not a batched matMul.
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from '../clip/safetensors.ts';
import type { TfTextTower } from '../clip/tf/text-tower.ts';
import type { Linear } from '../clip/weights.ts';
import type { AdapterMethod, AdapterParams } from './adapter.ts';
import type { ClassPrompts } from './prompts.ts';

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkShape(what: string, t: HostTensor, shape: number[]): void {
  if (!sameShape(t.shape, shape)) throw new Error(`TfPromptLearner: ${what} has shape [${t.shape}], expected [${shape}]`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== size) throw new Error(`TfPromptLearner: ${what} has ${t.data.length} values, expected ${size}`);
}

/**
 * y = x · Wᵀ + b for x [N, in], W [out, in] (PyTorch layout), b [out], differentiable w.r.t. all
 * three, with plain matMuls only:  dx = dy · W,  dW = dyᵀ · x,  db = Σ_rows dy.
 */
const trainableLinear = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, tf.transpose(w)), b),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, sw), tf.matMul(tf.transpose(dy), sx), tf.sum(dy, 0)];
    },
  };
}) as never) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/** Rows scaled to unit L2 norm (no epsilon, as `x / x.norm(dim=-1, keepdim=True)`). */
function l2Normalize<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.rsqrt(tf.sum(tf.square(x), -1, true)));
}

interface MetaNetVars {
  w1: tf.Variable; // [H, P]
  b1: tf.Variable; // [H]
  w2: tf.Variable; // [D, H]
  b2: tf.Variable; // [D]
}

export class TfPromptLearner {
  readonly method: AdapterMethod;
  /** [ctx] for CoOp; [ctx, linear1.weight, linear1.bias, linear2.weight, linear2.bias] for CoCoOp. */
  readonly trainable: tf.Variable[];
  readonly numClasses: number; // C
  private readonly tower: TfTextTower;
  private readonly nCtx: number; // M
  private readonly width: number; // D
  private readonly projDim: number; // P
  private readonly hidden: number; // H (0 for CoOp)
  private readonly length: number; // L
  private readonly eot: number[]; // [C]
  private readonly scale: number; // exp(logit_scale)
  private readonly ctx: tf.Variable; // [M, D]
  private readonly meta: MetaNetVars | null;
  private readonly prefix: tf.Tensor3D; // [1, 1, D]  SOT embedding
  private readonly suffix: tf.Tensor3D; // [C, L-1-M, D]  class tokens + EOT, zero-padded
  private readonly classZeros: tf.Tensor; // [C, 1, 1] zeros: broadcasts a context over the classes
  private ctxInit: string;
  private disposed = false;

  constructor(tower: TfTextTower, prompts: ClassPrompts, params: AdapterParams, logitScale: number) {
    const d = tower.cfg.hiddenSize;
    const m = prompts.nCtx;
    const c = prompts.classNames.length;
    const l = prompts.length;
    if (prompts.width !== d) throw new Error(`TfPromptLearner: prompts have width ${prompts.width}, the text tower ${d}`);
    if (c === 0) throw new Error('TfPromptLearner: no classes');
    if (l > tower.cfg.maxPositionEmbeddings) {
      throw new Error(`TfPromptLearner: prompt length ${l} exceeds ${tower.cfg.maxPositionEmbeddings} positions`);
    }
    if (prompts.prefix.length !== d) throw new Error(`TfPromptLearner: prefix has ${prompts.prefix.length} values, expected ${d}`);
    if (prompts.suffixes.length !== c || prompts.eot.length !== c) {
      throw new Error('TfPromptLearner: prompts have inconsistent per-class arrays');
    }
    prompts.suffixes.forEach((s, k) => {
      const rows = s.length / d;
      if (!Number.isInteger(rows) || rows < 1 || 1 + m + rows > l || prompts.eot[k] !== m + rows) {
        throw new Error(`TfPromptLearner: class ${k} suffix (${s.length} values) does not fit EOT ${prompts.eot[k]}, L = ${l}`);
      }
    });
    if (!Number.isFinite(logitScale)) throw new Error(`TfPromptLearner: logit scale ${logitScale} is not finite`);
    this.method = params.method;
    this.tower = tower;
    this.nCtx = m;
    this.width = d;
    this.projDim = tower.projectionDim;
    this.length = l;
    this.numClasses = c;
    this.eot = [...prompts.eot];
    this.scale = Math.exp(logitScale);
    this.ctxInit = params.ctxInit;

    checkShape('ctx', params.ctx, [m, d]);
    let hidden = 0;
    if (params.method === 'cocoop') {
      const mn = params.metaNet;
      if (!mn) throw new Error('TfPromptLearner: a CoCoOp adapter needs a meta-net');
      hidden = mn.linear1.weight.shape[0];
      this.checkMetaNet(mn.linear1, mn.linear2, hidden);
    } else if (params.method === 'coop') {
      if (params.metaNet) throw new Error('TfPromptLearner: a CoOp adapter has no meta-net');
    } else {
      throw new Error(`TfPromptLearner: unknown method ${String(params.method)}`);
    }
    this.hidden = hidden;

    // Frozen prompt pieces, kept out of any caller's tidy scope.
    const s = l - 1 - m;
    const suffix = new Float32Array(c * s * d);
    prompts.suffixes.forEach((rows, k) => suffix.set(rows, k * s * d));
    this.prefix = tf.keep(tf.tensor3d(prompts.prefix, [1, 1, d]));
    this.suffix = tf.keep(tf.tensor3d(suffix, [c, s, d]));
    this.classZeros = tf.keep(tf.zeros([c, 1, 1]));

    const variable = (t: HostTensor, what: string): tf.Variable => {
      const init = tf.tensor(t.data, t.shape, 'float32');
      const v = tf.variable(init, true, undefined, 'float32');
      init.dispose();
      if (!sameShape(v.shape, t.shape)) throw new Error(`TfPromptLearner: ${what} shape mismatch`);
      return v;
    };
    this.ctx = variable(params.ctx, 'ctx');
    if (params.method === 'cocoop') {
      const mn = params.metaNet!;
      this.meta = {
        w1: variable(mn.linear1.weight, 'linear1.weight'),
        b1: variable(mn.linear1.bias, 'linear1.bias'),
        w2: variable(mn.linear2.weight, 'linear2.weight'),
        b2: variable(mn.linear2.bias, 'linear2.bias'),
      };
      this.trainable = [this.ctx, this.meta.w1, this.meta.b1, this.meta.w2, this.meta.b2];
    } else {
      this.meta = null;
      this.trainable = [this.ctx];
    }
  }

  private checkMetaNet(linear1: Linear, linear2: Linear, hidden: number): void {
    const p = this.projDim;
    const d = this.width;
    if (!(hidden >= 1)) throw new Error('TfPromptLearner: meta-net hidden width must be ≥ 1');
    checkShape('meta-net linear1.weight', linear1.weight, [hidden, p]);
    checkShape('meta-net linear1.bias', linear1.bias, [hidden]);
    checkShape('meta-net linear2.weight', linear2.weight, [d, hidden]);
    checkShape('meta-net linear2.bias', linear2.bias, [d]);
  }

  private checkImageFeatures(imageFeatures: tf.Tensor2D): number {
    if (this.disposed) throw new Error('TfPromptLearner: used after dispose()');
    if (imageFeatures.rank !== 2 || imageFeatures.shape[1] !== this.projDim) {
      throw new Error(`TfPromptLearner: image features have shape [${imageFeatures.shape}], expected [B, ${this.projDim}]`);
    }
    const b = imageFeatures.shape[0];
    if (b < 1) throw new Error('TfPromptLearner: empty batch');
    return b;
  }

  /** Prompt embeddings [N·C, L, D] for contexts ctxRows [N, 1, M, D] (N = B for CoCoOp, 1 for CoOp). */
  private assemble(ctxRows: tf.Tensor4D): tf.Tensor3D {
    const n = ctxRows.shape[0];
    const { nCtx: m, width: d, numClasses: c } = this;
    // [N, 1, M, D] + [C, 1, 1] → [N, C, M, D]; the gradient of the broadcast is a sum over classes.
    const ctxNC = tf.reshape(tf.add(ctxRows, this.classZeros), [n * c, m, d]);
    // Constants (not on any gradient path): tiling them is fine.
    const prefix = tf.tile(this.prefix, [n * c, 1, 1]); // [N·C, 1, D]
    const suffix = n === 1 ? this.suffix : tf.tile(this.suffix, [n, 1, 1]); // [N·C, L-1-M, D], image-major
    return tf.concat([prefix, ctxNC, suffix], 1) as tf.Tensor3D;
  }

  /** Normalised text features [N·C, P] of the prompts for contexts ctxRows [N, 1, M, D]. */
  private textFeatures(ctxRows: tf.Tensor4D): tf.Tensor2D {
    const n = ctxRows.shape[0];
    const eot: number[] = [];
    for (let i = 0; i < n; i++) eot.push(...this.eot);
    return l2Normalize(this.tower.forward(this.assemble(ctxRows), eot));
  }

  /** logits [B, C] = exp(logit_scale) · cos(f(x_b), t_c(x_b)); imageFeatures [B, P] projected, not normalised. */
  logits(imageFeatures: tf.Tensor2D): tf.Tensor2D {
    const b = this.checkImageFeatures(imageFeatures);
    const { nCtx: m, width: d, numClasses: c, projDim: p } = this;
    return tf.tidy(() => {
      const x = l2Normalize(imageFeatures); // [B, P]
      let cos: tf.Tensor2D;
      if (this.meta) {
        const { w1, b1, w2, b2 } = this.meta;
        const pi = trainableLinear(tf.relu(trainableLinear(x, w1 as tf.Tensor2D, b1 as tf.Tensor1D)), w2 as tf.Tensor2D, b2 as tf.Tensor1D); // [B, D]
        // ctx [1, 1, M, D] + π [B, 1, 1, D] → [B, 1, M, D]
        const shifted = tf.add(tf.reshape(this.ctx, [1, 1, m, d]), tf.reshape(pi, [b, 1, 1, d])) as tf.Tensor4D;
        const t = tf.reshape(this.textFeatures(shifted), [b, c, p]); // [B, C, P]
        cos = tf.sum(tf.mul(t, tf.reshape(x, [b, 1, p])), -1) as tf.Tensor2D;
      } else {
        const t = tf.reshape(this.textFeatures(tf.reshape(this.ctx, [1, 1, m, d]) as tf.Tensor4D), [1, c, p]); // [1, C, P]
        cos = tf.sum(tf.mul(t, tf.reshape(x, [b, 1, p])), -1) as tf.Tensor2D;
      }
      return tf.mul(cos, this.scale) as tf.Tensor2D;
    });
  }

  /** Mean cross-entropy over the batch; labels [B] are class indices. */
  loss(imageFeatures: tf.Tensor2D, labels: number[]): tf.Scalar {
    const b = this.checkImageFeatures(imageFeatures);
    const c = this.numClasses;
    if (labels.length !== b) throw new Error(`TfPromptLearner: ${labels.length} labels for ${b} images`);
    const onehot = new Float32Array(b * c);
    labels.forEach((y, i) => {
      if (!Number.isInteger(y) || y < 0 || y >= c) throw new Error(`TfPromptLearner: label ${y} outside [0, ${c})`);
      onehot[i * c + y] = 1;
    });
    return tf.tidy(() => {
      const logp = tf.logSoftmax(this.logits(imageFeatures)); // [B, C]
      return tf.div(tf.neg(tf.sum(tf.mul(logp, tf.tensor2d(onehot, [b, c])))), b) as tf.Scalar;
    });
  }

  /** The loss value and its gradients w.r.t. `trainable`, in that order (the caller disposes them). */
  lossAndGrads(imageFeatures: tf.Tensor2D, labels: number[]): { loss: number; grads: tf.Tensor[] } {
    const { value, grads } = tf.variableGrads(() => this.loss(imageFeatures, labels), this.trainable);
    const loss = value.dataSync()[0];
    value.dispose();
    return { loss, grads: this.trainable.map((v) => grads[v.name]) };
  }

  /** Host copy (fp32) in the adapter layout (PyTorch [out, in] linear weights). */
  toParams(): AdapterParams {
    if (this.disposed) throw new Error('TfPromptLearner: used after dispose()');
    const host = (v: tf.Variable): HostTensor => ({ shape: [...v.shape], data: (v.dataSync() as Float32Array).slice() });
    const out: AdapterParams = { method: this.method, ctx: host(this.ctx), ctxInit: this.ctxInit };
    if (this.meta) {
      out.metaNet = {
        linear1: { weight: host(this.meta.w1), bias: host(this.meta.b1) },
        linear2: { weight: host(this.meta.w2), bias: host(this.meta.b2) },
      };
    }
    return out;
  }

  /** Loads parameters of the same method and shapes (e.g. a checkpoint) into the variables. */
  setParams(p: AdapterParams): void {
    if (this.disposed) throw new Error('TfPromptLearner: used after dispose()');
    if (p.method !== this.method) throw new Error(`TfPromptLearner: cannot load ${p.method} parameters into a ${this.method} learner`);
    checkShape('ctx', p.ctx, [this.nCtx, this.width]);
    const pairs: [tf.Variable, HostTensor][] = [[this.ctx, p.ctx]];
    if (this.meta) {
      const mn = p.metaNet;
      if (!mn) throw new Error('TfPromptLearner: CoCoOp parameters without a meta-net');
      this.checkMetaNet(mn.linear1, mn.linear2, this.hidden);
      pairs.push([this.meta.w1, mn.linear1.weight], [this.meta.b1, mn.linear1.bias], [this.meta.w2, mn.linear2.weight], [this.meta.b2, mn.linear2.bias]);
    } else if (p.metaNet) {
      throw new Error('TfPromptLearner: CoOp parameters with a meta-net');
    }
    tf.tidy(() => {
      for (const [v, t] of pairs) v.assign(tf.tensor(t.data, v.shape, 'float32'));
    });
    this.ctxInit = p.ctxInit;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.trainable, this.prefix, this.suffix, this.classZeros]);
  }
}
