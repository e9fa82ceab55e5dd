// The two engines a training step can run on, behind one interface:
//   ort   — the text tower and its vector-Jacobian product as ONNX graphs on ONNX Runtime (the CUDA
//           provider when it loads, else CPU), the rest on the host (ort-prompt-learner.ts). The default.
//   tfjs  — TF.js autodiff through the text tower (tf-prompt-learner.ts), on whichever TF.js backend
//           initTfBackend selected (node-gpu, node or wasm).
// Both run the same recipe (SGD with momentum and weight decay, sgd.ts / host-sgd.ts) and keep their
// parameters and optimizer state in float32, so a run can be checked across engines step for step.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model.ts';
import type { HostTensor } from '../clip/safetensors.ts';
import { TfTextTower } from '../clip/tf/text-tower.ts';
import type { AdapterParams } from './adapter.ts';
import { HostSgd } from './host-sgd.ts';
import type { OrtEncoderOptions } from '../clip/ort-encoders.ts';
import { OrtPromptLearner } from './ort-prompt-learner.ts';
import { OrtTextTraining, type TextTrainingRunner } from './ort-text-training.ts';
import { ortProviderFromEnv } from '../runtime/ort.ts';
import type { ClassPrompts } from './prompts.ts';
import { Sgd, type SgdOptions } from './sgd.ts';
import { TfPromptLearner } from './tf-prompt-learner.ts';

export const TRAIN_ENGINES = ['ort', 'tfjs'] as const;
export type TrainEngineName = (typeof TRAIN_ENGINES)[number];
export const DEFAULT_TRAIN_ENGINE: TrainEngineName = 'ort';

export class TrainEngineError extends Error {
  override name = 'TrainEngineError';
}

/** The engine name from user input, or a one-line error naming the choices. */
export function parseTrainEngine(value: string, source: string): TrainEngineName {
  if ((TRAIN_ENGINES as readonly string[]).includes(value)) return value as TrainEngineName;
  throw new TrainEngineError(`${source} must be one of ${TRAIN_ENGINES.join(', ')}, got ${JSON.stringify(value)}`);
}

export interface StepOutput {
  loss: number; // mean cross-entropy of the batch
  logits: Float32Array; // [B, C]
}

export interface TrainEngine {
  readonly name: TrainEngineName;
  /** For logs and artifact metadata, e.g. "ort (onnxruntime, cpu)" or "tfjs (wasm)". */
  readonly description: string;
  /** Shapes of the trainable tensors, in checkpoint order ([ctx] or [ctx, W1, b1, W2, b2]). */
  readonly shapes: number[][];
  /** Forward + gradients of one batch (image features [B, P], labels [B]); no update yet. */
  compute(features: Float32Array, labels: number[], signal?: AbortSignal): Promise<StepOutput>;
  /** Applies the SGD update of the last compute() with learning rate `lr`. */
  apply(lr: number): void;
  params(): AdapterParams;
  momentum(): Float32Array[];
  setMomentum(bufs: Float32Array[] | null): void;
  dispose(): Promise<void>;
}

class TfTrainEngine implements TrainEngine {
  readonly name = 'tfjs';
  readonly description: string;
  readonly shapes: number[][];
  private readonly tower: TfTextTower;
  private readonly learner: TfPromptLearner;
  private readonly sgd: Sgd;
  private grads: tf.Tensor[] = [];

  constructor(model: ClipModel, prompts: ClassPrompts, params: AdapterParams, sgd: SgdOptions) {
    this.tower = new TfTextTower(model.weights.text, model.config.text);
    this.learner = new TfPromptLearner(this.tower, prompts, params, model.weights.logitScale);
    this.sgd = new Sgd(this.learner.trainable, sgd);
    this.shapes = this.learner.trainable.map((v) => [...v.shape]);
    this.description = `tfjs (${tf.getBackend()})`;
  }

  async compute(features: Float32Array, labels: number[]): Promise<StepOutput> {
    tf.dispose(this.grads);
    const b = labels.length;
    const c = this.learner.numClasses;
    const feats = tf.tensor2d(features, [b, features.length / b]);
    const onehot = new Float32Array(b * c);
    labels.forEach((y, k) => (onehot[k * c + y] = 1));
    const target = tf.tensor2d(onehot, [b, c]);
    const kept: { logits?: tf.Tensor2D } = {};
    try {
      const out = tf.variableGrads(() => {
        const lg = this.learner.logits(feats);
        kept.logits = tf.keep(lg);
        return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(lg), target))), b) as tf.Scalar;
      }, this.learner.trainable);
      this.grads = this.learner.trainable.map((v) => out.grads[v.name]);
      const loss = (await out.value.data())[0];
      out.value.dispose();
      return { loss, logits: (await kept.logits!.data()) as Float32Array };
    } finally {
      tf.dispose([feats, target]);
      kept.logits?.dispose();
    }
  }

  apply(lr: number): void {
    this.sgd.step(this.grads, lr);
    tf.dispose(this.grads);
    this.grads = [];
  }

  params(): AdapterParams {
    return this.learner.toParams();
  }

  momentum(): Float32Array[] {
    return this.sgd.state();
  }

  setMomentum(bufs: Float32Array[] | null): void {
    this.sgd.setState(bufs);
  }

  async dispose(): Promise<void> {
    tf.dispose(this.grads);
    this.sgd.dispose();
    this.learner.dispose();
    this.tower.dispose();
  }
}

class OrtTrainEngine implements TrainEngine {
  readonly name = 'ort';
  readonly description: string;
  readonly shapes: number[][];
  private readonly learner: OrtPromptLearner;
  private readonly sgd: HostSgd;
  private grads: Float32Array[] = [];

  constructor(
    model: ClipModel,
    private readonly runner: TextTrainingRunner & { release?: () => Promise<void> },
    prompts: ClassPrompts,
    params: AdapterParams,
    sgd: SgdOptions,
    provider: string,
  ) {
    this.learner = new OrtPromptLearner(runner, prompts, params, model.weights.logitScale, model.config.projectionDim);
    this.sgd = new HostSgd(
      this.learner.trainable.map((t: HostTensor) => t.data),
      sgd,
    );
    this.shapes = this.learner.trainable.map((t) => [...t.shape]);
    this.description = `ort (onnxruntime, execution provider ${provider})`;
  }

  async compute(features: Float32Array, labels: number[], signal?: AbortSignal): Promise<StepOutput> {
    const out = await this.learner.step(features, labels, signal);
    this.grads = out.grads;
    return { loss: out.loss, logits: out.logits };
  }

  apply(lr: number): void {
    this.sgd.step(this.grads, lr);
    this.grads = [];
  }

  params(): AdapterParams {
    return this.learner.toParams();
  }

  momentum(): Float32Array[] {
    return this.sgd.state();
  }

  setMomentum(bufs: Float32Array[] | null): void {
    this.sgd.setState(bufs);
  }

  async dispose(): Promise<void> {
    this.grads = [];
    await this.runner.release?.();
  }
}

export interface TrainEngineOptions {
  /** ONNX Runtime settings of the ort engine (provider, threads, log). */
  ort?: OrtEncoderOptions;
  /** Replaces the ort engine's text runner (tests). */
  runner?: TextTrainingRunner;
}

export function createTrainEngine(
  name: TrainEngineName,
  model: ClipModel,
  prompts: ClassPrompts,
  params: AdapterParams,
  sgd: SgdOptions,
  opts: TrainEngineOptions = {},
): TrainEngine {
  if (name === 'tfjs') return new TfTrainEngine(model, prompts, params, sgd);
  const provider = opts.ort?.provider ?? ortProviderFromEnv(process.env);
  return new OrtTrainEngine(model, opts.runner ?? new OrtTextTraining(model, opts.ort), prompts, params, sgd, provider);
}
