// Accuracy of a CLIP (zero-shot, or with a CoOp / CoCoOp adapter) on an in-memory labelled image set,
// through the product's inference path (ORT encoders + CocoopInference).
import type { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import { preprocessRGB } from '../../gpu-worker/clip/preprocess.ts';
import type { AdapterParams } from '../../gpu-worker/cocoop/adapter.ts';
import type { CocoopInference } from '../../gpu-worker/cocoop/ort-inference.ts';
import type { LabelledImages } from './image-sets.ts';

const BATCH = 64;

/** [n, P] projected image features of the set's images (test-time preprocessing). */
export async function imageSetFeatures(encoders: OrtClipEncoders, set: LabelledImages): Promise<Float32Array> {
  const { config, preprocess } = encoders.model;
  const p = config.projectionDim;
  const out = new Float32Array(set.images.length * p);
  for (let start = 0; start < set.images.length; start += BATCH) {
    const chunk = set.images.slice(start, start + BATCH).map((img) => preprocessRGB(img, preprocess));
    const batch = new Float32Array(chunk.length * chunk[0].length);
    chunk.forEach((px, i) => batch.set(px, i * chunk[0].length));
    out.set(await encoders.encodePixels(batch, chunk.length), start * p);
  }
  return out;
}

/** Top-1 predicted label of every image of the set, over `labels` (default: the set's classNames). */
export async function predictionsOn(
  inference: CocoopInference,
  features: Float32Array,
  set: LabelledImages,
  adapter: AdapterParams | null,
  labels: string[] = set.classNames,
): Promise<string[]> {
  const n = set.images.length;
  if (set.classNames.some((name) => !labels.includes(name))) throw new Error('a class of the set is missing from the labels');
  const logits = await inference.logits(features, n, labels, adapter);
  const c = labels.length;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (logits[i * c + j] > logits[i * c + best]) best = j;
    out.push(labels[best]);
  }
  return out;
}

/** Top-1 accuracy over `labels` (the set's classNames when omitted: labels must contain them all). */
export async function accuracyOn(
  inference: CocoopInference,
  features: Float32Array,
  set: LabelledImages,
  adapter: AdapterParams | null,
  labels: string[] = set.classNames,
): Promise<number> {
  const predicted = await predictionsOn(inference, features, set, adapter, labels);
  return predicted.filter((p, i) => p === set.classNames[set.labels[i]]).length / predicted.length;
}
