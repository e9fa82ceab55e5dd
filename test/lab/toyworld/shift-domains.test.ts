import { describe, expect, it } from 'vitest';
import type { RGBImage } from '../../../gpu-worker/clip/image-resize.ts';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { toyImageSet } from '../../../lab/toyworld/image-sets.ts';
import { renderScene } from '../../../lab/toyworld/raster-renderer.ts';
import { sampleScene } from '../../../lab/toyworld/scene-sampler.ts';
import {
  applyCast,
  applyFog,
  applyLowContrast,
  applyMixedShift,
  CAST_GAIN,
  CAST_STRENGTH_RANGE,
  CONTRAST_FACTOR_RANGE,
  FOG_COLOR,
  FOG_DENSITY_RANGE,
  SHIFT_KINDS,
  type ShiftKind,
} from '../../../lab/toyworld/shift-domains.ts';

function channelStats(img: RGBImage): { mean: number[]; std: number[] } {
  const n = img.data.length / 3;
  const mean = [0, 0, 0];
  for (let i = 0; i < img.data.length; i++) mean[i % 3] += img.data[i] / n;
  const v = [0, 0, 0];
  for (let i = 0; i < img.data.length; i++) v[i % 3] += (img.data[i] - mean[i % 3]) ** 2 / n;
  return { mean, std: v.map(Math.sqrt) };
}

function solid(rgb: [number, number, number], size = 8): RGBImage {
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rgb[i % 3];
  return { width: size, height: size, data };
}

const scenes = (n: number) => {
  const rng = new SeededRandom(21);
  return Array.from({ length: n }, (_, i) => renderScene(sampleScene(rng, i % 2 ? 'black star' : 'blue ring'), 32));
};

describe('mixed-shift domain', () => {
  it('fog blends every pixel toward the fog colour with a density in the documented range', () => {
    for (let seed = 0; seed < 20; seed++) {
      const out = applyFog(solid([20, 100, 240]), new SeededRandom(seed));
      // Solve (1 − d)·v + d·fog = out for d per channel: the same d in all three, within the range.
      const ds = [20, 100, 240].map((v, c) => (out.data[c] - v) / (FOG_COLOR[c] - v));
      for (const d of ds) {
        expect(d).toBeGreaterThan(FOG_DENSITY_RANGE[0] - 0.02);
        expect(d).toBeLessThan(FOG_DENSITY_RANGE[1] + 0.02);
      }
      expect(Math.max(...ds) - Math.min(...ds)).toBeLessThan(0.03);
    }
  });

  it('fog brightens dark scenes toward grey and reduces their contrast', () => {
    for (const [i, img] of scenes(10).entries()) {
      const a = channelStats(img);
      const b = channelStats(applyFog(img, new SeededRandom(i)));
      for (let c = 0; c < 3; c++) {
        expect(Math.abs(b.mean[c] - FOG_COLOR[c])).toBeLessThan(Math.abs(a.mean[c] - FOG_COLOR[c]));
        expect(b.std[c]).toBeLessThan(a.std[c] * (1 - FOG_DENSITY_RANGE[0]) + 1);
      }
    }
  });

  it('low contrast keeps each channel mean and scales its spread by the factor', () => {
    for (const [i, img] of scenes(10).entries()) {
      const a = channelStats(img);
      const b = channelStats(applyLowContrast(img, new SeededRandom(i)));
      for (let c = 0; c < 3; c++) {
        expect(b.mean[c]).toBeCloseTo(a.mean[c], 0);
        if (a.std[c] > 10) {
          const k = b.std[c] / a.std[c];
          expect(k).toBeGreaterThan(CONTRAST_FACTOR_RANGE[0] - 0.03);
          expect(k).toBeLessThan(CONTRAST_FACTOR_RANGE[1] + 0.03);
        }
      }
    }
  });

  it('the warm cast raises red, keeps green and lowers blue by the documented gains', () => {
    for (let seed = 0; seed < 20; seed++) {
      const out = applyCast(solid([100, 120, 200]), new SeededRandom(seed));
      const s = (out.data[0] / 100 - 1) / (CAST_GAIN[0] - 1); // strength recovered from red
      expect(s).toBeGreaterThan(CAST_STRENGTH_RANGE[0] - 0.02);
      expect(s).toBeLessThan(CAST_STRENGTH_RANGE[1] + 0.02);
      expect(out.data[1]).toBe(120);
      // s recovered from a rounded red value is off by up to 0.5 / 25 = 0.02 → blue by up to 200 · 0.45 · 0.02 + 0.5.
      expect(Math.abs(out.data[2] - 200 * (1 + s * (CAST_GAIN[2] - 1)))).toBeLessThan(2.5);
      expect(out.data[2]).toBeLessThan(200 * 0.7);
    }
  });

  it('mixed: each image draws one of the four shifts, about uniformly, deterministically by seed', () => {
    const img = scenes(1)[0];
    const counts = new Map<ShiftKind, number>();
    for (let seed = 0; seed < 400; seed++) {
      const { kind, image } = applyMixedShift(img, new SeededRandom(seed));
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      if (seed < 10) expect(Buffer.from(applyMixedShift(img, new SeededRandom(seed)).image.data).equals(Buffer.from(image.data))).toBe(true);
    }
    expect([...counts.keys()].sort()).toEqual([...SHIFT_KINDS].sort());
    for (const k of SHIFT_KINDS) {
      // Binomial(400, 1/4): mean 100, sd 8.7.
      expect(counts.get(k)!).toBeGreaterThan(65);
      expect(counts.get(k)!).toBeLessThan(135);
    }
  });

  it('the "mixed" image set is deterministic per seed and differs from the clean renders of the same scenes', async () => {
    const a = await toyImageSet('mixed', 'test', 3, ['red circle', 'white cross'], 4, 32);
    const b = await toyImageSet('mixed', 'test', 3, ['red circle', 'white cross'], 4, 32);
    const raster = await toyImageSet('raster', 'test', 3, ['red circle', 'white cross'], 4, 32);
    expect(a.labels).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    a.images.forEach((img, i) => {
      expect(Buffer.from(img.data).equals(Buffer.from(b.images[i].data))).toBe(true);
      expect(Buffer.from(img.data).equals(Buffer.from(raster.images[i].data))).toBe(false);
    });
  });
});
