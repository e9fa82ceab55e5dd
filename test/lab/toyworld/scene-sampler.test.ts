import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../gpu-worker/clip/random.ts';
import { renderScene } from '../../../lab/toyworld/raster-renderer.ts';
import {
  backgroundContrasts,
  luma,
  sampleClassName,
  sampleScene,
  sceneInsideCanvas,
} from '../../../lab/toyworld/scene-sampler.ts';
import { BACKGROUND_KINDS, CLASS_NAMES, COLOR_RGB, SCENE_RANGES } from '../../../lab/toyworld/world.ts';
import type { BackgroundKind, RGB, Scene } from '../../../lab/toyworld/world.ts';

function dist(p: RGB, q: RGB): number {
  return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}

function lumaDiff(p: RGB, q: RGB): number {
  // Written out here rather than trusting the module's luma().
  const y = (c: RGB) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  return Math.abs(y(p) - y(q));
}

describe('toy world scene sampler', () => {
  const rng = new SeededRandom(2024);
  const scenes: Scene[] = [];
  for (let i = 0; i < 1024; i++) scenes.push(sampleScene(rng, CLASS_NAMES[i % CLASS_NAMES.length]));

  it('is deterministic given the rng seed', () => {
    const a = sampleScene(new SeededRandom(5), 'yellow star');
    const b = sampleScene(new SeededRandom(5), 'yellow star');
    expect(a).toEqual(b);
    expect(sampleScene(new SeededRandom(6), 'yellow star')).not.toEqual(a);
  });

  it('keeps the class, jitters the fill by at most ±12 and draws attributes in range', () => {
    const kinds = new Map<BackgroundKind, number>();
    for (const [i, s] of scenes.entries()) {
      expect(`${s.color} ${s.shape}`).toBe(CLASS_NAMES[i % CLASS_NAMES.length]);
      const base = COLOR_RGB[s.color];
      for (let c = 0; c < 3; c++) {
        expect(Number.isInteger(s.fill[c])).toBe(true);
        expect(Math.abs(s.fill[c] - base[c])).toBeLessThanOrEqual(12);
      }
      expect(s.radius).toBeGreaterThanOrEqual(SCENE_RANGES.radius[0]);
      expect(s.radius).toBeLessThanOrEqual(SCENE_RANGES.radius[1]);
      expect(Math.abs(s.rotation)).toBeLessThanOrEqual(SCENE_RANGES.maxRotation);
      expect(Math.abs(s.cx - 0.5)).toBeLessThanOrEqual(SCENE_RANGES.positionJitter);
      expect(Math.abs(s.cy - 0.5)).toBeLessThanOrEqual(SCENE_RANGES.positionJitter);
      if (s.shape === 'circle' || s.shape === 'ring') expect(s.rotation).toBe(0);
      const bg = s.background;
      kinds.set(bg.kind, (kinds.get(bg.kind) ?? 0) + 1);
      expect(bg.period).toBeGreaterThanOrEqual(0.1);
      expect(bg.period).toBeLessThanOrEqual(0.3);
      expect(Number.isInteger(bg.noiseSeed) && bg.noiseSeed >= 0 && bg.noiseSeed < 2 ** 32).toBe(true);
      if (bg.kind === 'noise') {
        expect(bg.noiseAmp).toBeGreaterThanOrEqual(15);
        expect(bg.noiseAmp).toBeLessThanOrEqual(40);
      }
      if (bg.kind !== 'plain' && bg.kind !== 'noise') {
        // Patterns are visible: their two colours differ clearly.
        expect(lumaDiff(bg.a, bg.b)).toBeGreaterThan(25);
      }
      // Backgrounds are low-saturation: channels within a small spread.
      for (const c of [bg.a, bg.b]) expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(40);
    }
    // Every kind is used, roughly uniformly (1024 / 6 ≈ 171 each).
    for (const k of BACKGROUND_KINDS) {
      expect(kinds.get(k) ?? 0).toBeGreaterThan(120);
      expect(kinds.get(k) ?? 0).toBeLessThan(230);
    }
    // Sizes cover the range.
    expect(Math.min(...scenes.map((s) => s.radius))).toBeLessThan(SCENE_RANGES.radius[0] + 0.01);
    expect(Math.max(...scenes.map((s) => s.radius))).toBeGreaterThan(SCENE_RANGES.radius[1] - 0.01);
  });

  it('keeps every object inside the canvas', () => {
    for (const s of scenes) {
      expect(sceneInsideCanvas(s, 0.02)).toBe(true);
      expect(s.cx - s.radius).toBeGreaterThanOrEqual(0.02 - 1e-9);
      expect(s.cy - s.radius).toBeGreaterThanOrEqual(0.02 - 1e-9);
      expect(s.cx + s.radius).toBeLessThanOrEqual(0.98 + 1e-9);
      expect(s.cy + s.radius).toBeLessThanOrEqual(0.98 + 1e-9);
    }
    // And positions and angles spread over their whole ranges.
    expect(Math.min(...scenes.map((s) => s.cx))).toBeLessThan(0.5 - 0.8 * SCENE_RANGES.positionJitter);
    expect(Math.max(...scenes.map((s) => s.cy))).toBeGreaterThan(0.5 + 0.8 * SCENE_RANGES.positionJitter);
    expect(Math.max(...scenes.map((s) => s.rotation))).toBeGreaterThan(0.8 * SCENE_RANGES.maxRotation);
    expect(Math.min(...scenes.map((s) => s.rotation))).toBeLessThan(-0.8 * SCENE_RANGES.maxRotation);
    // With the defaults overridden, objects go anywhere they fit.
    const anywhere = Array.from({ length: 300 }, (_, i) => sampleScene(new SeededRandom(1000 + i), 'red star', { positionJitter: 0.5, maxRotation: Math.PI }));
    expect(Math.min(...anywhere.map((s) => s.cx))).toBeLessThan(0.35);
    for (const s of anywhere) expect(sceneInsideCanvas(s, 0.02)).toBe(true);
    expect(sceneInsideCanvas({ ...scenes[0], cx: scenes[0].radius - 0.01 })).toBe(false);
  });

  it('always contrasts the background with the object, checked on the rendered pixels', () => {
    const S = 32;
    let worstDist = Infinity;
    let worstLuma = Infinity;
    let interiorFill = 0;
    for (const s of scenes) {
      expect(backgroundContrasts(s.fill, s.background)).toBe(true);
      const img = renderScene(s, S);
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const d = Math.hypot(x + 0.5 - s.cx * S, y + 0.5 - s.cy * S);
          if (d <= s.radius * S + 1) continue; // possibly touched by the object
          const o = (y * S + x) * 3;
          const p: RGB = [img.data[o], img.data[o + 1], img.data[o + 2]];
          worstDist = Math.min(worstDist, dist(p, s.fill));
          worstLuma = Math.min(worstLuma, lumaDiff(p, s.fill));
        }
      }
      // The object's colour is visible where it is solid.
      const probe = s.shape === 'ring' ? [s.cx + 0.775 * s.radius, s.cy] : [s.cx, s.cy];
      const o = (Math.floor(probe[1] * S) * S + Math.floor(probe[0] * S)) * 3;
      if (dist([img.data[o], img.data[o + 1], img.data[o + 2]], s.fill) < 1) interiorFill++;
    }
    expect(worstDist).toBeGreaterThanOrEqual(109);
    expect(worstLuma).toBeGreaterThanOrEqual(44);
    expect(interiorFill / scenes.length).toBeGreaterThan(0.97);
  });

  it('gives dark objects light backgrounds and light objects dark ones', () => {
    for (const s of scenes) {
      const y = luma(s.background.a);
      if (s.color === 'black') expect(y).toBeGreaterThan(luma(s.fill) + 44);
      if (s.color === 'white') expect(y).toBeLessThan(luma(s.fill) - 44);
    }
  });

  it('backgroundContrasts rejects colours near the fill, including via noise or a gradient', () => {
    const fill: RGB = [240, 215, 35];
    const base = { angle: 0, period: 0.2, noiseAmp: 0, noiseSeed: 0 };
    expect(backgroundContrasts(fill, { ...base, kind: 'plain', a: [120, 120, 120], b: [120, 120, 120] })).toBe(true);
    expect(backgroundContrasts(fill, { ...base, kind: 'plain', a: [250, 240, 200], b: [250, 240, 200] })).toBe(false);
    // a ± amp reaches the fill's luma.
    expect(backgroundContrasts(fill, { ...base, kind: 'noise', a: [140, 140, 140], b: [140, 140, 140], noiseAmp: 40 })).toBe(false);
    // Both ends far from the fill, but the gradient passes through its luma.
    expect(backgroundContrasts(fill, { ...base, kind: 'gradient', a: [20, 20, 20], b: [255, 255, 255] })).toBe(false);
  });

  it('sampleClassName covers all 64 classes', () => {
    const r = new SeededRandom(9);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(sampleClassName(r));
    expect(seen.size).toBe(64);
    expect(() => sampleScene(r, 'pink blob')).toThrow();
  });

  it('honours a custom radius range', () => {
    const r = new SeededRandom(3);
    for (let i = 0; i < 100; i++) {
      const s = sampleScene(r, 'red cross', { radius: [0.3, 0.32] });
      expect(s.radius).toBeGreaterThanOrEqual(0.3);
      expect(s.radius).toBeLessThanOrEqual(0.32);
      expect(sceneInsideCanvas(s, 0.02)).toBe(true);
    }
    expect(() => sampleScene(r, 'red cross', { radius: [0.3, 0.6] })).toThrow();
  });
});
