// The bundled toy CLIP (models/toy-clip) through the real `cocoop` command, on toy-world image folders
// written by `npm run toyworld`: it loads like any CLIP, its zero-shot accuracy holds on fresh draws of
// the pretraining renderer and of the held-out sticker renderer, and an adapter trained on base
// classes classifies new classes from their names.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cocoopJson, REPO_ROOT } from '../helpers/cli.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const MODEL = join(REPO_ROOT, 'models/toy-clip');
const root = useTmpDir('toy-model-');

function toyworld(args: string[]): void {
  execFileSync(process.execPath, ['bin/run-ts.mjs', 'scripts/toyworld-images.ts', ...args], { cwd: REPO_ROOT, stdio: 'pipe' });
}

interface EvalOut {
  accuracy: number;
  n: number;
  per_class: Record<string, { accuracy: number; n: number }>;
}

describe('the bundled toy CLIP', () => {
  beforeAll(() => {
    toyworld(['--out', join(root, 'raster'), '--domain', 'raster', '--split', 'test', '--per-class', '2', '--seed', '7']);
    toyworld(['--out', join(root, 'sticker'), '--domain', 'sticker', '--split', 'test', '--per-class', '2', '--seed', '7']);
    toyworld(['--out', join(root, 'night-base'), '--domain', 'night', '--split', 'train', '--classes', 'base', '--per-class', '4', '--seed', '7']);
    toyworld(['--out', join(root, 'night-new'), '--domain', 'night', '--split', 'test', '--classes', 'new', '--per-class', '2', '--seed', '7']);
  }, 120_000);

  it('embeds text and images like any CLIP (64-d projected features)', async () => {
    const out = await cocoopJson<{ text_embeds: number[][]; image_embeds: number[][] }>([
      'embed', '--model', MODEL, '--text', 'a photo of a red star.', '--text', 'a photo of a blue ring.',
      '--image', join(root, 'raster', 'red star', '000.png'), '--json',
    ]);
    expect(out.text_embeds.map((e) => e.length)).toEqual([64, 64]);
    const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);
    const img = out.image_embeds[0];
    expect(cos(img, out.text_embeds[0])).toBeGreaterThan(cos(img, out.text_embeds[1]));
  });

  it('zero-shot over all 64 labels: ≥ 85% on fresh pretraining-style renders, ≥ 50% on the held-out sticker renderer', async () => {
    const raster = await cocoopJson<EvalOut>(['eval', '--model', MODEL, '--data', join(root, 'raster'), '--json']);
    expect(raster.n).toBe(128);
    expect(raster.accuracy).toBeGreaterThanOrEqual(0.85);
    const sticker = await cocoopJson<EvalOut>(['eval', '--model', MODEL, '--data', join(root, 'sticker'), '--json']);
    expect(sticker.n).toBe(128);
    expect(sticker.accuracy).toBeGreaterThanOrEqual(0.5);
  });

  it('a CoCoOp adapter trained on night images of the 32 base classes classifies night images of the 32 new classes by name', async () => {
    const adapter = join(root, 'base.safetensors');
    const trained = await cocoopJson<{ classes: string[] }>([
      'train', '--model', MODEL, '--data', join(root, 'night-base'), '--method', 'cocoop', '--epochs', '2', '--out', adapter, '--json',
    ], 240_000);
    expect(trained.classes).toHaveLength(32);
    const zeroShot = await cocoopJson<EvalOut>(['eval', '--model', MODEL, '--data', join(root, 'night-new'), '--json']);
    const adapted = await cocoopJson<EvalOut>(['eval', '--model', MODEL, '--adapter', adapter, '--data', join(root, 'night-new'), '--json']);
    expect(adapted.n).toBe(64);
    // Far above chance (1/32) with labels the adapter never saw, and not collapsed below zero-shot CLIP.
    expect(adapted.accuracy).toBeGreaterThan(4 / 32);
    expect(adapted.accuracy).toBeGreaterThanOrEqual(zeroShot.accuracy - 0.15);
  }, 300_000);
});
