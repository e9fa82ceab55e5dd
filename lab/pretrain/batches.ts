// Contrastive pretraining batches from the toy world: each batch holds distinct classes (so no two
// pairs in a batch describe the same class: no false negatives), one freshly sampled scene per class,
// rendered by the raster renderer and captioned from its attributes.
import { SeededRandom } from '../../gpu-worker/clip/random.ts';
import type { ClipTokenizer } from '../../gpu-worker/clip/tokenizer.ts';
import { normalizeToCHW } from '../../gpu-worker/cocoop/augment.ts';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from '../../gpu-worker/clip/preprocess.ts';
import type { RGBImage } from '../../gpu-worker/clip/image-resize.ts';
import { captionFor } from '../toyworld/captions.ts';
import { renderScene } from '../toyworld/raster-renderer.ts';
import { sampleScene } from '../toyworld/scene-sampler.ts';
import { CLASS_NAMES } from '../toyworld/world.ts';
import { patchify, type PatchBatch, type TextBatch } from './trainable-clip.ts';

/** Token rows padded with EOT to the longest: ids [N, L] and the EOT index of each. */
export function tokenBatch(tokenizer: ClipTokenizer, texts: string[], cache = new Map<string, number[]>()): TextBatch {
  const rows = texts.map((t) => {
    let ids = cache.get(t);
    if (!ids) {
      ids = tokenizer.encode(t);
      cache.set(t, ids);
    }
    return ids;
  });
  const l = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * l).fill(tokenizer.eotId);
  rows.forEach((r, i) => ids.set(r, i * l));
  return { ids, n: rows.length, l, eot: rows.map((r) => r.length - 1) };
}

/** Images → normalised CHW pixels → sequence-major patches. */
export function patchBatch(images: RGBImage[], imageSize: number, patchSize: number): PatchBatch {
  const plane = 3 * imageSize * imageSize;
  const pixels = new Float32Array(images.length * plane);
  images.forEach((img, i) => {
    if (img.width !== imageSize || img.height !== imageSize) throw new Error(`patchBatch: image is ${img.width}×${img.height}, expected ${imageSize}`);
    pixels.set(normalizeToCHW(img, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD), i * plane);
  });
  return { patches: patchify(pixels, images.length, imageSize, patchSize), n: images.length };
}

export interface PretrainBatch {
  images: PatchBatch;
  texts: TextBatch;
  captions: string[];
  classNames: string[];
}

export class PretrainBatches {
  private readonly rng: SeededRandom;
  private readonly cache = new Map<string, number[]>();

  constructor(
    seed: number,
    private readonly tokenizer: ClipTokenizer,
    private readonly imageSize: number,
    private readonly patchSize: number,
    private readonly batchSize: number,
  ) {
    if (batchSize < 2 || batchSize > CLASS_NAMES.length) throw new Error(`batch size must be 2..${CLASS_NAMES.length}`);
    this.rng = new SeededRandom(seed);
  }

  next(): PretrainBatch {
    const order = CLASS_NAMES.map((name) => ({ name, key: this.rng.uniform() }))
      .sort((a, b) => a.key - b.key)
      .slice(0, this.batchSize)
      .map((x) => x.name);
    const images: RGBImage[] = [];
    const captions: string[] = [];
    for (const name of order) {
      const scene = sampleScene(this.rng, name);
      images.push(renderScene(scene, this.imageSize));
      captions.push(captionFor(scene, this.rng));
    }
    return {
      images: patchBatch(images, this.imageSize, this.patchSize),
      texts: tokenBatch(this.tokenizer, captions, this.cache),
      captions,
      classNames: order,
    };
  }
}
