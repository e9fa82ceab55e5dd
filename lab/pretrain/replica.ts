// One data-parallel replica of toy-CLIP pretraining: a full model + Adam state + its own batch stream.
// Every replica applies the same averaged gradients, so all replicas hold identical weights
// (same float operations on the same inputs) without ever exchanging them.
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from '../../gpu-worker/clip/config.ts';
import { SeededRandom } from '../../gpu-worker/clip/random.ts';
import type { HostTensor } from '../../gpu-worker/clip/safetensors.ts';
import type { ClipTokenizer } from '../../gpu-worker/clip/tokenizer.ts';
import { renderScene } from '../toyworld/raster-renderer.ts';
import { sampleScene } from '../toyworld/scene-sampler.ts';
import { CLASS_NAMES } from '../toyworld/world.ts';
import { patchBatch, PretrainBatches, tokenBatch } from './batches.ts';
import { contrastiveLoss, l2Normalize, MAX_LOGIT_SCALE, TrainableClip } from './trainable-clip.ts';

export interface ReplicaOptions {
  /** Seed of this replica's batch stream. */
  batchSeed: number;
  batchSize: number;
  weightDecay: number;
  /** Seed and size of the held-out zero-shot check (only replicas that evaluate need it). */
  evalSeed: number;
  evalPerClass: number;
}

/** Zero-shot accuracy over all 64 labels ("a photo of a {c}.") on fixed held-out renders. */
export class HeldOutCheck {
  private readonly images: ReturnType<typeof patchBatch>[] = [];
  private readonly labels: number[] = [];
  constructor(
    cfg: ClipConfig,
    private readonly tokenizer: ClipTokenizer,
    seed: number,
    perClass: number,
  ) {
    const rng = new SeededRandom(seed);
    let chunk = [];
    for (let k = 0; k < perClass; k++) {
      for (let c = 0; c < CLASS_NAMES.length; c++) {
        chunk.push(renderScene(sampleScene(rng, CLASS_NAMES[c]), cfg.vision.imageSize));
        this.labels.push(c);
        if (chunk.length === 64) {
          this.images.push(patchBatch(chunk, cfg.vision.imageSize, cfg.vision.patchSize));
          chunk = [];
        }
      }
    }
    if (chunk.length) this.images.push(patchBatch(chunk, cfg.vision.imageSize, cfg.vision.patchSize));
  }

  async accuracy(model: TrainableClip): Promise<number> {
    const texts = tokenBatch(this.tokenizer, CLASS_NAMES.map((c) => `a photo of a ${c}.`));
    const txt = tf.tidy(() => l2Normalize(model.encodeText(texts)));
    let correct = 0;
    let i = 0;
    for (const batch of this.images) {
      const pred = tf.tidy(() => tf.argMax(tf.matMul(l2Normalize(model.encodeImages(batch)), tf.transpose(txt)), -1));
      const p = await pred.data();
      pred.dispose();
      for (const v of p) correct += v === this.labels[i++] ? 1 : 0;
    }
    txt.dispose();
    return correct / this.labels.length;
  }
}

export class PretrainReplica {
  readonly model: TrainableClip;
  private readonly vars: tf.Variable[];
  private readonly decayed: tf.Variable[];
  private readonly optimizer: tf.AdamOptimizer;
  private readonly batches: PretrainBatches;
  private check: HeldOutCheck | null = null;

  constructor(
    cfg: ClipConfig,
    init: Map<string, HostTensor>,
    private readonly tokenizer: ClipTokenizer,
    private readonly o: ReplicaOptions,
  ) {
    this.model = new TrainableClip(cfg, init);
    this.vars = this.model.trainableVariables();
    this.decayed = this.vars.filter((v) => v.rank === 2 && !v.name.includes('embedding'));
    this.optimizer = tf.train.adam(1e-3, 0.9, 0.98, 1e-6);
    this.batches = new PretrainBatches(o.batchSeed, tokenizer, cfg.vision.imageSize, cfg.vision.patchSize, o.batchSize);
  }

  get parameterCount(): number {
    return this.vars.reduce((a, v) => a + v.size, 0);
  }

  /** Loss and gradients (one Float32Array per variable, in trainableVariables order) on the next batch. */
  async gradients(): Promise<{ loss: number; grads: Float32Array[] }> {
    const batch = this.batches.next();
    const { value, grads } = tf.variableGrads(
      () => contrastiveLoss(this.model.encodeImages(batch.images), this.model.encodeText(batch.texts), this.model.logitScale()),
      this.vars,
    );
    const loss = (await value.data())[0];
    const out: Float32Array[] = [];
    for (const v of this.vars) out.push((await grads[v.name].data()) as Float32Array);
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, grads: out };
  }

  /** One Adam step with `grads` (in variable order), decoupled weight decay, temperature clamp. */
  apply(grads: Float32Array[], lr: number): void {
    (this.optimizer as unknown as { learningRate: number }).learningRate = lr;
    tf.tidy(() => {
      this.optimizer.applyGradients(this.vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i], v.shape) })));
      for (const v of this.decayed) v.assign(tf.mul(v, 1 - lr * this.o.weightDecay));
      const s = this.model.logitScale() as unknown as tf.Variable;
      s.assign(tf.minimum(s, MAX_LOGIT_SCALE));
    });
  }

  async accuracy(cfg: ClipConfig): Promise<number> {
    this.check ??= new HeldOutCheck(cfg, this.tokenizer, this.o.evalSeed, this.o.evalPerClass);
    return this.check.accuracy(this.model);
  }

  async logitScale(): Promise<number> {
    return (await this.model.logitScale().data())[0];
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
  }
}
