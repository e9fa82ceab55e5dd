// The text tower work of one training step on ONNX Runtime, with the shared prefix of CoCoOp prompts
// (docs/model.md, speed-up 3) in the forward and in the backward pass:
//
//   prefix(embeds [N, P0, D])                          → per-layer keys/values of the N prefixes
//   suffixFeatures(state, suffixes [R, S, D], …)       → text features [R, P] (row r continues prefix row_prefix[r])
//   suffixVjp(state, suffixes, …, upstream [R, P])     → gradients on the prefixes' keys/values, summed per prefix
//   prefixVjp(embeds [N, P0, D], grad keys, grad values) → gradient on the prefix embeddings [N, P0, D]
//
// The four graphs: text-prefix / text-suffix (clip/onnx/text-prefix-graphs.ts) and their VJPs
// (clip/onnx/text-prefix-vjp-graphs.ts), built from the model's weights and cached by their hash.
import * as ort from 'onnxruntime-node';
import type { ClipModel } from '../clip/model.ts';
import { buildTextPrefixVjpGraph, buildTextSuffixVjpGraph } from '../clip/onnx/text-prefix-vjp-graphs.ts';
import { openGraphSession, type OrtEncoderOptions } from '../clip/ort-encoders.ts';
import { type PrefixState, PrefixSharedTextTower } from './ort-inference.ts';

export type { PrefixState };

/** Gradients on every layer's prefix keys and values, [layers, N, heads, P0, head_dim] each. */
export interface PrefixGrads {
  keys: Float32Array;
  values: Float32Array;
}

/** What the ORT learner needs of the text tower (OrtTextTraining implements it; tests may build their own). */
export interface TextTrainingRunner {
  prefix(embeds: Float32Array, n: number, length: number): Promise<PrefixState>;
  suffixFeatures(state: PrefixState, embeds: Float32Array, rows: number, seq: number, eot: number[], rowPrefix: number[]): Promise<Float32Array>;
  suffixVjp(state: PrefixState, embeds: Float32Array, rows: number, seq: number, eot: number[], rowPrefix: number[], upstream: Float32Array): Promise<PrefixGrads>;
  prefixVjp(embeds: Float32Array, n: number, length: number, grads: PrefixGrads): Promise<Float32Array>;
  /** e.g. "cpu" or "cuda", when known. */
  readonly provider?: string;
}

export class OrtTextTraining implements TextTrainingRunner {
  private readonly tower: PrefixSharedTextTower;
  private suffixVjpSession?: Promise<ort.InferenceSession>;
  private prefixVjpSession?: Promise<ort.InferenceSession>;

  constructor(
    readonly model: ClipModel,
    private readonly opts: OrtEncoderOptions = {},
  ) {
    this.tower = new PrefixSharedTextTower(model, opts);
  }

  prefix(embeds: Float32Array, n: number, length: number): Promise<PrefixState> {
    return this.tower.encodePrefix(embeds, n, length);
  }

  suffixFeatures(state: PrefixState, embeds: Float32Array, rows: number, seq: number, eot: number[], rowPrefix: number[]): Promise<Float32Array> {
    return this.tower.encodeSuffix(state, embeds, rows, seq, eot, rowPrefix);
  }

  async suffixVjp(state: PrefixState, embeds: Float32Array, rows: number, seq: number, eot: number[], rowPrefix: number[], upstream: Float32Array): Promise<PrefixGrads> {
    const { text } = this.model.config;
    const p = this.model.config.projectionDim;
    if (upstream.length !== rows * p) throw new Error(`suffixVjp: upstream gradient has ${upstream.length} values for [${rows}, ${p}]`);
    if (embeds.length !== rows * seq * text.hiddenSize) throw new Error(`suffixVjp: ${embeds.length} values for [${rows}, ${seq}, ${text.hiddenSize}]`);
    for (const e of eot) if (!Number.isInteger(e) || e < 0 || e >= seq) throw new Error(`suffixVjp: EOT index ${e} outside [0, ${seq})`);
    for (const b of rowPrefix) if (!Number.isInteger(b) || b < 0 || b >= state.batch) throw new Error(`suffixVjp: prefix index ${b} outside [0, ${state.batch})`);
    const session = await (this.suffixVjpSession ??= openGraphSession(this.model, 'text-suffix-vjp', this.opts, () => buildTextSuffixVjpGraph(this.model.weights.text, text)));
    const out = await session.run({
      suffix_embeds: new ort.Tensor('float32', embeds, [rows, seq, text.hiddenSize]),
      eot_index: new ort.Tensor('int64', BigInt64Array.from(eot, BigInt), [rows]),
      row_prefix: new ort.Tensor('int64', BigInt64Array.from(rowPrefix, BigInt), [rows]),
      past_keys: state.keys,
      past_values: state.values,
      grad_text_embeds: new ort.Tensor('float32', upstream, [rows, p]),
    });
    return { keys: out.grad_past_keys.data as Float32Array, values: out.grad_past_values.data as Float32Array };
  }

  async prefixVjp(embeds: Float32Array, n: number, length: number, grads: PrefixGrads): Promise<Float32Array> {
    const t = this.model.config.text;
    const dims = [t.numHiddenLayers, n, t.numAttentionHeads, length, t.hiddenSize / t.numAttentionHeads];
    const size = dims.reduce((a, b) => a * b, 1);
    if (grads.keys.length !== size || grads.values.length !== size) throw new Error(`prefixVjp: key/value gradients must be [${dims}]`);
    const session = await (this.prefixVjpSession ??= openGraphSession(this.model, 'text-prefix-vjp', this.opts, () => buildTextPrefixVjpGraph(this.model.weights.text, t)));
    const out = await session.run({
      prefix_embeds: new ort.Tensor('float32', embeds, [n, length, t.hiddenSize]),
      grad_past_keys: new ort.Tensor('float32', grads.keys, dims),
      grad_past_values: new ort.Tensor('float32', grads.values, dims),
    });
    return out.grad_prefix_embeds.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.tower.release();
    for (const s of [this.suffixVjpSession, this.prefixVjpSession]) if (s) await (await s).release();
    this.suffixVjpSession = this.prefixVjpSession = undefined;
  }
}
