// Scores a labelled set of image files the way the inference service would classify them: every image decoded and
// preprocessed with the test-time transform (resize + centre crop), encoded once, then classified against a label
// list by an adapter and by zero-shot CLIP ("a photo of a {label}.") through CocoopInference — the code path of
// POST /v1/classify, so a held-out figure equals what a customer counts over classify answers.
//
//   const set = await LabelledFeatures.of(encoders, files)    // [n, P] features, once
//   await scorer.accuracy(set, labels, adapter)               // per epoch during training
//   await scorer.score(set, labels, adapter)                  // the full Scores block
import type { Scores } from '../../shared/contracts/evaluation.ts';
import type { OrtClipEncoders } from '../clip/ort-encoders.ts';
import { preprocessImage } from '../clip/preprocess.ts';
import type { AdapterParams } from './adapter.ts';
import type { ImageFolderDataset } from './dataset.ts';
import type { CocoopInference } from './ort-inference.ts';
import { argmaxRows, scoreSet } from './scoring.ts';
import { throwIfAborted } from './view-features.ts';

/** Images per image-encoder call. */
const ENCODE_BATCH = 16;
/** Images per classification call (bounds the CoCoOp text batch: images × labels prompts). */
const CLASSIFY_BATCH = 32;

/** Encoded images with their true labels (names). */
export class LabelledFeatures {
  private constructor(
    /** [n, P] projected image features. */
    readonly features: Float32Array,
    readonly n: number,
    readonly dim: number,
    /** Per image, its true label. */
    readonly truth: string[],
  ) {}

  /** Encodes every image of the dataset (test-time transform). */
  static async of(encoders: OrtClipEncoders, ds: ImageFolderDataset, signal?: AbortSignal, onImages?: (done: number) => void): Promise<LabelledFeatures> {
    const { preprocess, config } = encoders.model;
    const p = config.projectionDim;
    const n = ds.items.length;
    const out = new Float32Array(n * p);
    for (let start = 0; start < n; start += ENCODE_BATCH) {
      throwIfAborted(signal);
      const chunk = ds.items.slice(start, start + ENCODE_BATCH);
      const pixels = await Promise.all(chunk.map((it) => preprocessImage(it.path, preprocess)));
      const batch = new Float32Array(pixels.length * pixels[0].length);
      pixels.forEach((px, i) => batch.set(px, i * px.length));
      out.set(await encoders.encodePixels(batch, chunk.length), start * p);
      onImages?.(start + chunk.length);
    }
    return new LabelledFeatures(out, n, p, ds.items.map((it) => ds.classNames[it.label]));
  }
}

export class SetScorer {
  constructor(private readonly inference: CocoopInference) {}

  /** Per image, the index into `labels` of the top-1 prediction (adapter null: zero-shot CLIP). */
  async predict(set: LabelledFeatures, labels: string[], adapter: AdapterParams | null, signal?: AbortSignal, onImages?: (done: number) => void): Promise<number[]> {
    const out: number[] = [];
    const p = set.dim;
    for (let start = 0; start < set.n; start += CLASSIFY_BATCH) {
      throwIfAborted(signal);
      const k = Math.min(CLASSIFY_BATCH, set.n - start);
      const logits = await this.inference.logits(set.features.subarray(start * p, (start + k) * p), k, labels, adapter);
      out.push(...argmaxRows(logits, k, labels.length));
      onImages?.(start + k);
      await new Promise<void>((ok) => setImmediate(ok)); // heartbeats and cancels of the caller keep running
    }
    return out;
  }

  /** Top-1 accuracy of the adapter (zero-shot when null) on the set. */
  async accuracy(set: LabelledFeatures, labels: string[], adapter: AdapterParams | null, signal?: AbortSignal): Promise<number> {
    const predicted = await this.predict(set, labels, adapter, signal);
    const truth = truthIndices(set, labels);
    return set.n === 0 ? 0 : predicted.filter((p, i) => p === truth[i]).length / set.n;
  }

  /** The full figures: the adapter's (zero-shot's when null) and zero-shot CLIP's predictions, per class and confusion. */
  async score(set: LabelledFeatures, labels: string[], adapter: AdapterParams | null, signal?: AbortSignal, onImages?: (done: number) => void): Promise<Scores> {
    const zeroShot = await this.predict(set, labels, null, signal, onImages);
    const predicted = adapter ? await this.predict(set, labels, adapter, signal, (d) => onImages?.(set.n + d)) : zeroShot;
    return scoreSet({ labels, truth: truthIndices(set, labels), predicted, zeroShot });
  }
}

function truthIndices(set: LabelledFeatures, labels: string[]): number[] {
  const index = new Map(labels.map((l, i) => [l, i]));
  return set.truth.map((t) => {
    const i = index.get(t);
    if (i === undefined) throw new Error(`the label list does not contain the images' class "${t}"`);
    return i;
  });
}
