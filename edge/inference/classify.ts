// Classification at the edge: everything about a classify request is checked here (model in the caller's
// tenant, labels, images by their bytes) before the GPU inference service is asked for raw logits, and
// the logits become softmax probabilities here. The limits are the internal contract's
// (shared/contracts/inference-api.ts), so a request the edge sends is always one the service accepts.
import { type ClassifyRequest, MAX_IMAGES } from '../../shared/contracts/inference-api.ts';
import { type ImageInfo, ImageProbeError, probeImage } from '../datasets/image-probe.ts';
import { MAX_IMAGE_PIXELS } from '../datasets/limits.ts';
import { validationFailed } from '../http/errors.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { resolveModel } from '../models/models.ts';
import type { SqlDatabase } from '../ports.ts';

export { MAX_LABELS, MAX_LABEL_CHARS } from '../../shared/contracts/inference-api.ts';
export const MAX_CLASSIFY_IMAGES = MAX_IMAGES;
/** Largest decoded image. */
export const MAX_CLASSIFY_IMAGE_BYTES = 10 * 1024 * 1024;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DATA_URL = /^data:image\/[a-z0-9.+-]+;base64,/i;

/** The decoded, probed image (422 with `param` otherwise) and its normalized base64. */
function checkImage(value: string, param: string): string {
  const b64 = value.replace(DATA_URL, '');
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) {
    throw validationFailed(`Field "${param}" is not valid base64; send the file's bytes base64-encoded (standard alphabet, padded).`, param);
  }
  const decodedBytes = (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
  if (decodedBytes > MAX_CLASSIFY_IMAGE_BYTES) {
    throw validationFailed(`Field "${param}" is ${decodedBytes} bytes decoded; the limit is ${MAX_CLASSIFY_IMAGE_BYTES} bytes per image.`, param);
  }
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  let info: ImageInfo;
  try {
    info = probeImage(bytes);
  } catch (err) {
    if (err instanceof ImageProbeError) throw validationFailed(`Field "${param}" is not a usable image: ${err.message}. Send a JPEG, PNG or WebP file.`, param);
    throw err;
  }
  // Decompression-bomb guard, as for dataset images: the inference service would have to decode it.
  const pixels = info.width * info.height;
  if (pixels > MAX_IMAGE_PIXELS) {
    throw validationFailed(
      `Field "${param}" is ${info.width}x${info.height} = ${pixels} pixels, over the limit of ${MAX_IMAGE_PIXELS}; downscale it.`,
      param,
    );
  }
  return b64;
}

/** Trimmed, non-empty, plain-text, distinct labels (422 with `param` otherwise). */
export function checkLabels(labels: string[]): string[] {
  const seen = new Map<string, number>();
  return labels.map((raw, i) => {
    const label = raw.trim();
    if (!label) throw validationFailed(`Field "labels[${i}]" must not be empty or blank.`, `labels[${i}]`);
    if (!isPlainText(label)) throw validationFailed(`Field "labels[${i}]" ${PLAIN_TEXT_RULE}.`, `labels[${i}]`);
    const prev = seen.get(label);
    if (prev !== undefined) throw validationFailed(`Field "labels[${i}]" repeats labels[${prev}] (${JSON.stringify(label)}); labels must be distinct.`, `labels[${i}]`);
    seen.set(label, i);
    return label;
  });
}

/** A public classify request, after the route's schema (one of image/images, labels, top_k). */
export interface ClassifyInput {
  model: string;
  image?: string;
  images?: string[];
  labels?: string[];
}

export interface PreparedClassify {
  /** What the inference service is asked. */
  request: ClassifyRequest;
  labelsSource: 'model' | 'request';
  /** `image` was sent (one result), not `images`. */
  single: boolean;
}

/**
 * Checks a classify request in the API's order (exactly one of image/images, the model, the labels or the
 * model's classes, every image) and builds the inference request; 422 / 404 with `param` otherwise.
 */
export async function prepareClassify(db: SqlDatabase, o: { tenantId: string; zeroShotBase: string; body: ClassifyInput }): Promise<PreparedClassify> {
  const { body } = o;
  if ((body.image === undefined) === (body.images === undefined)) {
    throw validationFailed(
      body.image === undefined ? 'Send one image as "image" or a batch as "images".' : 'Send either "image" or "images", not both.',
      body.image === undefined ? 'image' : 'images',
    );
  }
  const resolved = await resolveModel(db, o.tenantId, body.model, o.zeroShotBase);
  let labels: string[];
  let labelsSource: 'model' | 'request';
  if (body.labels !== undefined) {
    labels = checkLabels(body.labels);
    labelsSource = 'request';
  } else if (resolved.classes) {
    labels = resolved.classes;
    labelsSource = 'model';
  } else {
    throw validationFailed('Field "labels" is required with model "zero-shot" (it has no training classes).', 'labels');
  }
  const images = body.image !== undefined ? [checkImage(body.image, 'image')] : body.images!.map((img, i) => checkImage(img, `images[${i}]`));
  return { request: { base_model: resolved.baseModel, adapter: resolved.adapter, labels, images }, labelsSource, single: body.image !== undefined };
}

/** Numerically stable softmax of one row of logits. */
export function softmax(logits: readonly number[]): number[] {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  const exps = logits.map((x) => Math.exp(x - max));
  let sum = 0;
  for (const e of exps) sum += e;
  return exps.map((e) => e / sum);
}

/** One image's predictions: softmax probabilities over the labels, highest first (ties by label), the top k. */
export function predictions(labels: string[], logits: number[], topK: number | undefined) {
  const probs = softmax(logits);
  const out = labels.map((label, i) => ({ label, score: probs[i] }));
  out.sort((a, b) => b.score - a.score || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  return topK === undefined ? out : out.slice(0, topK);
}

/** The API answer of a classify request from the service's logits [image][label]. */
export function classifyAnswer(model: string, prepared: PreparedClassify, logits: number[][], topK: number | undefined) {
  const { labels } = prepared.request;
  const base = { model, labels_source: prepared.labelsSource };
  if (prepared.single) return { ...base, predictions: predictions(labels, logits[0], topK) };
  return { ...base, results: logits.map((row) => ({ predictions: predictions(labels, row, topK) })) };
}
