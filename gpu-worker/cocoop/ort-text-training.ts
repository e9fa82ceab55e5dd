// The text tower's part of one CoCoOp / CoOp training step on ONNX Runtime: ONE call of the 'cocoop-step'
// graph (clip/onnx/cocoop-step-graph.ts) does the forward pass of the shared prefixes and the class suffixes,
// the loss, and the backward pass down to the prefix embeddings:
//
//   step({prefixes [N, P0, D], suffixes [N·C, S, D], eot [N·C], images x̂ [B, P], labels [B, C], scale})
//     → loss, logits [B, C], gradient on the prefixes [N, P0, D]
//
// The graph is built from the model's weights on first use and cached by their hash.
import * as ort from 'onnxruntime-node';
import type { ClipModel } from '../clip/model.ts';
import { buildCocoopStepGraph } from '../clip/onnx/cocoop-step-graph.ts';
import { openGraphSession, type OrtEncoderOptions } from '../clip/ort-encoders.ts';

export interface TextStepInput {
  prefixes: Float32Array; // [N, P0, D]
  n: number; // N
  prefixLength: number; // P0
  suffixes: Float32Array; // [N·C, S, D], image-major, zero after each EOT
  suffixLength: number; // S
  eot: number[]; // [N·C], relative to the suffix
  images: Float32Array; // [B, P] unit-norm image features (B a multiple of N)
  labels: Float32Array; // [B, C] one-hot
  scale: number; // exp(logit_scale)
}

export interface TextStepOutput {
  loss: number;
  logits: Float32Array; // [B, C]
  gradPrefixes: Float32Array; // [N, P0, D]
}

/** What the ORT learner needs of the text tower (OrtTextTraining implements it; tests may wrap it). */
export interface TextTrainingRunner {
  step(input: TextStepInput): Promise<TextStepOutput>;
}

export class OrtTextTraining implements TextTrainingRunner {
  private session?: Promise<ort.InferenceSession>;

  constructor(
    readonly model: ClipModel,
    private readonly opts: OrtEncoderOptions = {},
  ) {}

  async step(x: TextStepInput): Promise<TextStepOutput> {
    const t = this.model.config.text;
    const d = t.hiddenSize;
    const p = this.model.config.projectionDim;
    const rows = x.eot.length;
    const b = x.images.length / p;
    const c = rows / x.n;
    // The graph trusts its indices (an EOT ≥ S would read the next row; positions past 77 are clamped).
    if (!Number.isInteger(c) || c < 1) throw new Error(`textStep: ${rows} suffix rows for ${x.n} prefixes`);
    if (x.prefixes.length !== x.n * x.prefixLength * d) throw new Error(`textStep: prefixes have ${x.prefixes.length} values for [${x.n}, ${x.prefixLength}, ${d}]`);
    if (x.suffixes.length !== rows * x.suffixLength * d) throw new Error(`textStep: suffixes have ${x.suffixes.length} values for [${rows}, ${x.suffixLength}, ${d}]`);
    if (x.prefixLength + x.suffixLength > t.maxPositionEmbeddings) throw new Error(`textStep: ${x.prefixLength} + ${x.suffixLength} tokens exceed ${t.maxPositionEmbeddings} positions`);
    for (const e of x.eot) if (!Number.isInteger(e) || e < 0 || e >= x.suffixLength) throw new Error(`textStep: EOT index ${e} outside [0, ${x.suffixLength})`);
    if (!Number.isInteger(b) || b < 1 || b % x.n !== 0) throw new Error(`textStep: ${b} images for ${x.n} prefixes (must be a multiple)`);
    if (x.labels.length !== b * c) throw new Error(`textStep: labels have ${x.labels.length} values for [${b}, ${c}]`);
    const session = await (this.session ??= openGraphSession(this.model, 'cocoop-step', this.opts, () => buildCocoopStepGraph(this.model.weights.text, t)));
    const out = await session.run({
      prefix_embeds: new ort.Tensor('float32', x.prefixes, [x.n, x.prefixLength, d]),
      suffix_embeds: new ort.Tensor('float32', x.suffixes, [rows, x.suffixLength, d]),
      eot_index: new ort.Tensor('int64', BigInt64Array.from(x.eot, BigInt), [rows]),
      image_features: new ort.Tensor('float32', x.images, [b, p]),
      labels_onehot: new ort.Tensor('float32', x.labels, [b, c]),
      logit_scale: new ort.Tensor('float32', Float32Array.of(x.scale), []),
    });
    return {
      loss: (out.loss.data as Float32Array)[0],
      logits: out.logits.data as Float32Array,
      gradPrefixes: out.grad_prefix_embeds.data as Float32Array,
    };
  }

  async release(): Promise<void> {
    if (this.session) await (await this.session).release();
    this.session = undefined;
  }
}
