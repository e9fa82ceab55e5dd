import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import {
  NIGHT_BRIGHTNESS_RANGE,
  NIGHT_CAST,
  applyNight,
  renderNightScene,
} from '../../../lab/toyworld/night-domain.ts';
import { renderScene } from '../../../lab/toyworld/raster-renderer.ts';
import { sampleScene } from '../../../lab/toyworld/scene-sampler.ts';
import type { RGBImage } from '../../../gpu-worker/clip/image-resize.ts';
import type { Scene } from '../../../lab/toyworld/world.ts';

function channelMeans(img: RGBImage, pick: (x: number, y: number) => boolean = () => true): number[] {
  const s = [0, 0, 0];
  let n = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (!pick(x, y)) continue;
      n++;
      for (let c = 0; c < 3; c++) s[c] += img.data[(y * img.width + x) * 3 + c];
    }
  }
  return s.map((v) => v / n);
}

describe('toy world night domain', () => {
  it('darkens by the documented brightness range (mean over a plain scene, noise averages out)', () => {
    const scene = { ...sampleScene(new SeededRandom(3), 'white square'), background: { kind: 'plain' as const, a: [150, 150, 150] as [number, number, number], b: [150, 150, 150] as [number, number, number], angle: 0, period: 0.2, noiseAmp: 0, noiseSeed: 1 } };
    const clean = renderScene(scene, 48);
    for (let seed = 0; seed < 20; seed++) {
      const night = renderNightScene(scene, 48, seed);
      let c = 0;
      let g = 0;
      for (let i = 1; i < clean.data.length; i += 3) {
        c += clean.data[i];
        g += night.data[i];
      }
      // Green channel: brightness × cast[1], within the documented range (± noise/rounding slack).
      const ratio = g / c / NIGHT_CAST[1];
      expect(ratio).toBeGreaterThan(NIGHT_BRIGHTNESS_RANGE[0] - 0.02);
      expect(ratio).toBeLessThan(NIGHT_BRIGHTNESS_RANGE[1] + 0.02);
    }
  });

  it('is darker and bluer than the clean render, differs from it, and is deterministic', () => {
    const rng = new SeededRandom(8);
    for (let i = 0; i < 40; i++) {
      const scene = sampleScene(rng, i % 2 ? 'white hexagon' : 'yellow square');
      const clean = renderScene(scene, 32);
      const copy = Uint8Array.from(clean.data);
      const night = applyNight(clean, new SeededRandom(i));
      expect(Buffer.from(clean.data).equals(Buffer.from(copy))).toBe(true); // input untouched
      expect(night.width).toBe(32);
      expect(night.data.length).toBe(clean.data.length);
      const cm = channelMeans(clean);
      const nm = channelMeans(night);
      const cl = (cm[0] + cm[1] + cm[2]) / 3;
      const nl = (nm[0] + nm[1] + nm[2]) / 3;
      expect(nl).toBeLessThan(0.6 * cl + 8);
      expect(nm[2] / Math.max(nm[0], 1)).toBeGreaterThan(cm[2] / Math.max(cm[0], 1));
      let changed = 0;
      for (let k = 0; k < clean.data.length; k++) if (clean.data[k] !== night.data[k]) changed++;
      expect(changed / clean.data.length).toBeGreaterThan(0.8);
      expect(Buffer.from(renderNightScene(scene, 32, i).data).equals(Buffer.from(night.data))).toBe(true);
    }
    const scene = sampleScene(new SeededRandom(1), 'red star');
    expect(Buffer.from(renderNightScene(scene, 32, 1).data).equals(Buffer.from(renderNightScene(scene, 32, 2).data))).toBe(false);
  });

  it('keeps the object recognisable: its mean colour is the darkened, tinted fill', () => {
    // A large solid object: noise averages out over its interior.
    const colours: [Scene['color'], [number, number, number]][] = [
      ['red', [215, 35, 35]],
      ['blue', [40, 75, 215]],
      ['green', [35, 165, 60]],
    ];
    const means: number[][] = [];
    for (const [color, fill] of colours) {
      const scene: Scene = {
        color,
        shape: 'square',
        fill,
        cx: 0.5,
        cy: 0.5,
        radius: 0.45,
        rotation: 0,
        background: { kind: 'plain', a: [200, 200, 200], b: [200, 200, 200], angle: 0, period: 0.2, noiseAmp: 0, noiseSeed: 0 },
      };
      const night = renderNightScene(scene, 48, 3);
      // Interior: |dx|, |dy| < 0.45/√2 · 48 ≈ 15 px minus the blur margin.
      const m = channelMeans(night, (x, y) => Math.abs(x + 0.5 - 24) < 12 && Math.abs(y + 0.5 - 24) < 12);
      const lo = NIGHT_BRIGHTNESS_RANGE[0];
      const hi = NIGHT_BRIGHTNESS_RANGE[1];
      for (let c = 0; c < 3; c++) {
        const expectedLo = fill[c] * NIGHT_CAST[c] * lo;
        const expectedHi = fill[c] * NIGHT_CAST[c] * hi;
        // Clamping at 0 biases dark channels up by about σ/√(2π) ≤ 7.2.
        expect(m[c]).toBeGreaterThan(expectedLo - 3);
        expect(m[c]).toBeLessThan(expectedHi + 8);
      }
      means.push(m);
    }
    // The three colours stay apart.
    expect(means[0][0]).toBeGreaterThan(means[1][0] + 20); // red brighter in R than blue
    expect(means[1][2]).toBeGreaterThan(means[0][2] + 40); // blue brighter in B than red
    expect(means[2][1]).toBeGreaterThan(means[0][1] + 25); // green brighter in G than red
  });
});
