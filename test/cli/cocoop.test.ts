// End to end through the real `cocoop` command: a user makes an image folder by hand, trains an
// adapter, and classifies with it, including labels the adapter never saw; bad input is refused
// with one line and exit 1.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { toyImageSet, writeImageFolder } from '../../lab/toyworld/image-sets.ts';
import { CLIP_VOCAB, cocoop, cocoopJson, REPO_ROOT } from '../helpers/cli.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const root = useTmpDir('cocoop-cli-');
const modelDir = join(root, 'model');
const otherModelDir = join(root, 'other-model');
const data = join(root, 'data');
const adapter = join(root, 'a.safetensors');
const TOY_CLIP = join(REPO_ROOT, 'models/toy-clip');
/** Toy-world classes that share colours and shapes pairwise. */
const TOY_CLASSES = ['blue circle', 'blue square', 'red circle', 'red square', 'green star', 'yellow star'];
const COLOURS: Record<string, [number, number, number]> = { red_apple: [220, 30, 30], green_leaf: [30, 200, 40], blue_sky: [40, 60, 230] };

async function png(path: string, rgb: [number, number, number], size = 48, noise = 0): Promise<void> {
  const px = Buffer.alloc(size * size * 3);
  for (let i = 0; i < px.length; i++) px[i] = Math.max(0, Math.min(255, rgb[i % 3] + ((i * 7919) % (2 * noise + 1)) - noise));
  await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path);
}

interface ClassifyOut {
  labels: string[];
  logits: number[][];
  top1: string[];
}

function expectOneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

describe('cocoop train / classify / eval', () => {
  beforeAll(async () => {
    await cocoopJson(['make-model', '--preset', 'tiny', '--seed', '1', '--out', modelDir, '--vocab', CLIP_VOCAB]);
    await cocoopJson(['make-model', '--preset', 'tiny', '--seed', '2', '--out', otherModelDir, '--vocab', CLIP_VOCAB]);
    for (const [name, rgb] of Object.entries(COLOURS)) {
      mkdirSync(join(data, name), { recursive: true });
      for (let i = 0; i < 3; i++) await png(join(data, name, `img${i}.png`), rgb, 40 + 8 * i, 10 * i);
    }
  }, 120_000);

  it('trains a CoCoOp adapter on a hand-made folder and classifies with it, also over unseen labels', async () => {
    const trained = await cocoopJson<{ out: string; classes: string[]; train_accuracy: number; seconds: number }>([
      'train', '--model', modelDir, '--data', data, '--method', 'cocoop', '--epochs', '1', '--out', adapter, '--json',
    ]);
    expect(trained.out).toBe(adapter);
    expect(trained.classes).toEqual(['blue_sky', 'green_leaf', 'red_apple']);
    // (A random tiny model learns nothing worth a floor: accuracy floors are checked on the pretrained toy CLIP below.)

    const image = join(data, 'red_apple', 'img0.png');
    const out = await cocoopJson<ClassifyOut>(['classify', '--model', modelDir, '--adapter', adapter, '--labels', 'x,y,z', '--image', image, '--json']);
    expect(out.labels).toEqual(['x', 'y', 'z']);
    expect(out.logits).toHaveLength(1);
    expect(out.logits[0]).toHaveLength(3);
    expect(out.top1[0]).toBe(out.labels[out.logits[0].indexOf(Math.max(...out.logits[0]))]);
    // (Instance conditioning — the meta-net's π(x) moving the logits by the predicted amount — is checked in
    // test/gpu-worker/cocoop/meta-net-effect.test.ts; "another image gives other logits" holds for any classifier.)

    const evaluated = await cocoopJson<{ accuracy: number; n: number; per_class: Record<string, { accuracy: number; n: number }> }>([
      'eval', '--model', modelDir, '--adapter', adapter, '--data', data, '--json',
    ]);
    expect(evaluated.n).toBe(9);
    expect(Object.keys(evaluated.per_class).sort()).toEqual(['blue_sky', 'green_leaf', 'red_apple']);
    const mean = Object.values(evaluated.per_class).reduce((a, c) => a + c.accuracy * c.n, 0) / 9;
    expect(evaluated.accuracy).toBeCloseTo(mean, 10);
  }, 120_000);

  it('train --validation-split holds out images per class, drawn with the seed, and scores them as `cocoop eval` does', async () => {
    // Every class folder holds 3 copies of one image: whichever copy is held out, it is that image, so the validation
    // block must equal `cocoop eval` over one copy per class (adapted and zero-shot), counted by another command.
    const same = join(root, 'same');
    const oneEach = join(root, 'one-each');
    for (const name of Object.keys(COLOURS)) {
      mkdirSync(join(same, name), { recursive: true });
      mkdirSync(join(oneEach, name), { recursive: true });
      for (let i = 0; i < 3; i++) copyFileSync(join(data, name, 'img1.png'), join(same, name, `copy${i}.png`));
      copyFileSync(join(data, name, 'img1.png'), join(oneEach, name, 'only.png'));
    }
    const out = join(root, 'validated.safetensors');
    type Scores = { n: number; accuracy: number; zero_shot_accuracy: number; per_class: { label: string; n: number; accuracy: number; zero_shot_accuracy: number }[]; confusion: { labels: string[]; matrix: number[][] } };
    const trained = await cocoopJson<{ images: number; train: { loss: number; accuracy: number }; validation: Scores }>([
      'train', '--model', modelDir, '--data', same, '--epochs', '1', '--seed', '3', '--validation-split', '0.34', '--out', out, '--json',
    ]);
    const v = trained.validation;
    // 3 images per class at 0.34: floor(1.02) = 1 held out, 2 trained on.
    expect(trained.images).toBe(6);
    expect(v.n).toBe(3);
    expect(v.per_class.map((c) => [c.label, c.n])).toEqual([['blue_sky', 1], ['green_leaf', 1], ['red_apple', 1]]);
    expect(v.confusion.labels).toEqual(['blue_sky', 'green_leaf', 'red_apple']);
    expect(v.confusion.matrix.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([1, 1, 1]);
    const adapted = await cocoopJson<{ accuracy: number; per_class: Record<string, { accuracy: number }> }>(['eval', '--model', modelDir, '--adapter', out, '--data', oneEach, '--json']);
    const zeroShot = await cocoopJson<{ accuracy: number; per_class: Record<string, { accuracy: number }> }>(['eval', '--model', modelDir, '--data', oneEach, '--json']);
    expect(v.accuracy).toBeCloseTo(adapted.accuracy, 12);
    expect(v.zero_shot_accuracy).toBeCloseTo(zeroShot.accuracy, 12);
    for (const c of v.per_class) {
      expect(c.accuracy).toBe(adapted.per_class[c.label].accuracy);
      expect(c.zero_shot_accuracy).toBe(zeroShot.per_class[c.label].accuracy);
      expect(v.confusion.matrix[v.confusion.labels.indexOf(c.label)][v.confusion.labels.indexOf(c.label)]).toBe(c.accuracy);
    }

    const bad = await cocoop(['train', '--model', modelDir, '--data', same, '--validation-split', '0.7', '--out', join(root, 'y.safetensors')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--validation-split must be a number in \[0, 0\.5\], got "0\.7"/);
  }, 120_000);

  it('on the pretrained toy CLIP, a CoCoOp adapter trained on toy-world images classifies held-out images of its classes well', async () => {
    // 6 classes × 16 "night" toy-world images (image seed 3), 1/4 held out per class (24 images), 5 epochs, seed 1.
    // How the floors were chosen: training seeds 1–5 gave held-out accuracy 0.83–0.96 (zero-shot 0.92–1.00) and
    // training-view accuracy 0.58–0.76 (augmented crops); chance is 1/6. Floors 0.7 and 0.4 leave a margin
    // of several images. The same seed gave identical numbers run after run on this machine (ONNX Runtime CPU,
    // its default thread count: the product sets none), so the margin covers other machines' round-off, not luck.
    // Adapted ≥ zero-shot does not hold here (seed 5: 0.83 vs 0.96; the toy CLIP is near its ceiling on these
    // classes), so adapted is held to within 3 of 24 images of zero-shot (seeds 1–5: at most 3 below).
    const toy = join(root, 'toy-night');
    await writeImageFolder(await toyImageSet('night', 'train', 3, TOY_CLASSES, 16, 48), toy);
    const trained = await cocoopJson<{ images: number; train: { accuracy: number }; validation: { n: number; accuracy: number; zero_shot_accuracy: number } }>([
      'train', '--model', TOY_CLIP, '--data', toy, '--method', 'cocoop', '--epochs', '5', '--seed', '1', '--validation-split', '0.25',
      '--out', join(root, 'toy.safetensors'), '--json',
    ]);
    expect(trained.images).toBe(72);
    expect(trained.validation.n).toBe(24);
    expect(trained.validation.accuracy).toBeGreaterThanOrEqual(0.7);
    expect(trained.validation.accuracy).toBeGreaterThanOrEqual(trained.validation.zero_shot_accuracy - 3 / 24 - 1e-9);
    expect(trained.train.accuracy).toBeGreaterThanOrEqual(0.4);
  }, 120_000);

  it('zero-shot classify without an adapter', async () => {
    const out = await cocoopJson<ClassifyOut>(['classify', '--model', modelDir, '--labels', 'apple, leaf', '--image', join(data, 'green_leaf', 'img2.png'), '--json']);
    expect(out.labels).toEqual(['apple', 'leaf']);
    expect(out.logits[0]).toHaveLength(2);
  }, 60_000);

  it('refuses bad input with one line and exit 1', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty, { recursive: true });
    expectOneLineError(await cocoop(['train', '--model', modelDir, '--data', empty, '--out', join(root, 'x.safetensors')]), /no class folders/);
    const one = join(root, 'one');
    mkdirSync(join(one, 'only'), { recursive: true });
    copyFileSync(join(data, 'red_apple', 'img0.png'), join(one, 'only', 'a.png'));
    expectOneLineError(await cocoop(['train', '--model', modelDir, '--data', one, '--out', join(root, 'x.safetensors')]), /at least 2 classes/);
    const broken = join(root, 'broken');
    mkdirSync(join(broken, 'a'), { recursive: true });
    mkdirSync(join(broken, 'b'), { recursive: true });
    copyFileSync(join(data, 'red_apple', 'img0.png'), join(broken, 'a', 'ok.png'));
    writeFileSync(join(broken, 'b', 'bad.png'), 'not really a png');
    expectOneLineError(await cocoop(['train', '--model', modelDir, '--data', broken, '--epochs', '1', '--out', join(root, 'x.safetensors')]), /bad\.png/);
    const image = join(data, 'red_apple', 'img0.png');
    expectOneLineError(await cocoop(['classify', '--model', modelDir, '--labels', 'cat,dog,cat', '--image', image]), /duplicate label "cat"/);
    const notAdapter = join(modelDir, 'model.safetensors');
    expectOneLineError(await cocoop(['classify', '--model', modelDir, '--adapter', notAdapter, '--labels', 'a,b', '--image', image]), /not a cocoop adapter/);
    const long = Array.from({ length: 80 }, (_, i) => `w${i}`).join(' ');
    expectOneLineError(await cocoop(['classify', '--model', modelDir, '--labels', `cat,${long}`, '--image', image]), /77/);
    expectOneLineError(await cocoop(['classify', '--model', otherModelDir, '--adapter', adapter, '--labels', 'a,b', '--image', image]), /another base model/);
  }, 120_000);
});
