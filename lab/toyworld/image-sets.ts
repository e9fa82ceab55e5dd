// Labelled image sets of the toy world in its three domains, deterministic by (domain, split, seed):
//   raster  — the pretraining renderer (held-out draws: splits use their own random streams)
//   night   — the shifted downstream domain: raster scenes photographed "at night" (night-domain.ts)
//   sticker — the second, independently written renderer (SVG rasterised by librsvg), never seen in pretraining
//   mixed   — raster scenes, each independently shifted by one of night / fog / colour cast / low contrast (shift-domains.ts)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RGBImage } from '../../gpu-worker/clip/image-resize.ts';
import { SeededRandom } from '../../gpu-worker/clip/random.ts';
import { deriveSeed } from '../../gpu-worker/cocoop/view-features.ts';
import { renderNightScene } from './night-domain.ts';
import { encodePng } from './png.ts';
import { renderScene } from './raster-renderer.ts';
import { renderMixedShiftScene } from './shift-domains.ts';
import { sampleScene } from './scene-sampler.ts';
import { renderSticker, sampleStickerScene } from './svg-renderer.ts';

export type ToyDomain = 'raster' | 'night' | 'sticker' | 'mixed';
export const TOY_DOMAINS: ToyDomain[] = ['raster', 'night', 'sticker', 'mixed'];
/** Independent random streams per split: pretraining draws from none of these. */
export type ToySplit = 'train' | 'test';

export interface LabelledImages {
  classNames: string[];
  images: RGBImage[];
  labels: number[]; // index into classNames
}

const DOMAIN_IDS: Record<ToyDomain, number> = { raster: 11, night: 13, sticker: 17, mixed: 19 };
const SPLIT_IDS: Record<ToySplit, number> = { train: 101, test: 103 };

/** `perClass` images of every class in `classNames` (class-major order), rendered at `size`. */
export async function toyImageSet(
  domain: ToyDomain,
  split: ToySplit,
  seed: number,
  classNames: string[],
  perClass: number,
  size: number,
): Promise<LabelledImages> {
  const images: RGBImage[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classNames.length; c++) {
    // One stream per class, so a class's images do not depend on which other classes are asked for.
    const rng = new SeededRandom(deriveSeed(DOMAIN_IDS[domain], SPLIT_IDS[split], seed, hashName(classNames[c])));
    for (let k = 0; k < perClass; k++) {
      if (domain === 'sticker') {
        images.push(await renderSticker(sampleStickerScene(rng, classNames[c]), size));
      } else {
        const scene = sampleScene(rng, classNames[c]);
        if (domain === 'raster') images.push(renderScene(scene, size));
        else {
          const shiftSeed = Math.floor(rng.uniform() * 2 ** 32);
          images.push(domain === 'night' ? renderNightScene(scene, size, shiftSeed) : renderMixedShiftScene(scene, size, shiftSeed));
        }
      }
      labels.push(c);
    }
  }
  return { classNames: [...classNames], images, labels };
}

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** Writes `<dir>/<class name>/<NNN>.png`: the image-folder layout of `cocoop train --data`. */
export async function writeImageFolder(set: LabelledImages, dir: string): Promise<void> {
  const counters = new Map<number, number>();
  for (let i = 0; i < set.images.length; i++) {
    const label = set.labels[i];
    const k = counters.get(label) ?? 0;
    counters.set(label, k + 1);
    const classDir = join(dir, set.classNames[label]);
    mkdirSync(classDir, { recursive: true });
    writeFileSync(join(classDir, `${String(k).padStart(3, '0')}.png`), await encodePng(set.images[i]));
  }
}
