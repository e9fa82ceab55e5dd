// The CoCoOp paper's base-to-new experiment in miniature, on the toy world with the bundled toy CLIP:
// classes sorted by name, the first 32 are base (few-shot training + test), the last 32 new (test only,
// their names fed at inference). The few-shot data and all test images come from the shifted "night"
// domain. Zero-shot CLIP, CoOp and CoCoOp are trained/evaluated through the product's own engine
// (trainAdapter, CocoopInference) for each seed; Base, New and H = harmonic mean are reported.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ClipModel } from '../../gpu-worker/clip/model.ts';
import type { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import type { AdapterMethod } from '../../gpu-worker/cocoop/adapter.ts';
import { readImageFolder } from '../../gpu-worker/cocoop/dataset.ts';
import { CocoopInference } from '../../gpu-worker/cocoop/ort-inference.ts';
import { trainAdapter, TRAIN_DEFAULTS } from '../../gpu-worker/cocoop/train.ts';
import { ViewFeatures } from '../../gpu-worker/cocoop/view-features.ts';
import { imageSetFeatures, predictionsOn } from './evaluate.ts';
import { toyImageSet, writeImageFolder, type LabelledImages, type ToyDomain } from './image-sets.ts';
import { baseNewSplit, CLASS_NAMES, classInfo } from './world.ts';

export type Base2NewMethod = 'zero-shot' | AdapterMethod;
export const BASE2NEW_METHODS: Base2NewMethod[] = ['zero-shot', 'coop', 'cocoop'];

export interface Base2NewSettings {
  seeds: number[];
  shots: number; // per base class
  testPerClass: number; // held-out test images per class (base and new)
  domain: ToyDomain;
  epochs: number;
  lr: number;
  batchSize: number;
  ctxInit: string;
  /** RandomResizedCrop area range of the training views (official: [0.08, 1]). */
  cropScale: [number, number];
}

export const BASE2NEW_DEFAULTS: Base2NewSettings = {
  seeds: [1, 2, 3],
  shots: 16,
  testPerClass: 25,
  domain: 'night',
  epochs: TRAIN_DEFAULTS.epochs,
  lr: TRAIN_DEFAULTS.lr,
  batchSize: TRAIN_DEFAULTS.batchSize,
  ctxInit: TRAIN_DEFAULTS.ctxInit,
  // Adapted to 48-px images whose object fills much of the frame: the official area range (0.08, 1)
  // mostly crops the object away, and both CoOp and CoCoOp then fall below zero-shot CLIP on base
  // AND new classes (measured: docs/base2new.md, "the official crop").
  cropScale: [0.5, 1],
};

export interface Base2NewRow {
  seed: number;
  method: Base2NewMethod;
  base: number;
  novel: number;
  h: number;
  trainSeconds: number;
  /** Share of test images whose predicted class has the right color / the right shape (error analysis). */
  attributes: { baseColor: number; baseShape: number; novelColor: number; novelShape: number };
}

/** Accuracy, and the shares of predictions with the right color and the right shape. */
function score(predicted: string[], set: LabelledImages): { accuracy: number; color: number; shape: number } {
  let accuracy = 0;
  let color = 0;
  let shape = 0;
  predicted.forEach((p, i) => {
    const truth = classInfo(set.classNames[set.labels[i]]);
    const guess = classInfo(p);
    accuracy += truth.name === guess.name ? 1 : 0;
    color += truth.color === guess.color ? 1 : 0;
    shape += truth.shape === guess.shape ? 1 : 0;
  });
  const n = predicted.length;
  return { accuracy: accuracy / n, color: color / n, shape: shape / n };
}

export function harmonicMean(a: number, b: number): number {
  return a + b === 0 ? 0 : (2 * a * b) / (a + b);
}

export interface Base2NewRunOptions {
  model: ClipModel;
  encoders: OrtClipEncoders;
  settings: Base2NewSettings;
  /** Scratch directory for the few-shot image folders (removed afterwards). */
  workDir: string;
  methods?: Base2NewMethod[];
  log: (line: string) => void;
}

export async function runBase2New(o: Base2NewRunOptions): Promise<Base2NewRow[]> {
  const s = o.settings;
  const size = o.model.config.vision.imageSize;
  const { base, novel } = baseNewSplit(CLASS_NAMES);
  const methods = o.methods ?? BASE2NEW_METHODS;
  const inference = new CocoopInference(o.encoders);
  const rows: Base2NewRow[] = [];
  for (const seed of s.seeds) {
    const dir = join(o.workDir, `seed-${seed}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await writeImageFolder(await toyImageSet(s.domain, 'train', seed, base, s.shots, size), dir);
    const data = readImageFolder(dir);
    const baseTest = await toyImageSet(s.domain, 'test', seed, base, s.testPerClass, size);
    const novelTest = await toyImageSet(s.domain, 'test', seed, novel, s.testPerClass, size);
    const baseFeats = await imageSetFeatures(o.encoders, baseTest);
    const novelFeats = await imageSetFeatures(o.encoders, novelTest);
    // Both methods of a seed train on the same views: compute them once.
    const views = new ViewFeatures(
      o.encoders,
      data.items.map((it) => it.path),
      { modelSha256: o.model.weightsSha256(), preprocess: o.model.preprocess, dim: o.model.config.projectionDim, seed, cropScale: s.cropScale },
    );
    for (const method of methods) {
      let adapter = null;
      let trainSeconds = 0;
      if (method !== 'zero-shot') {
        const t0 = performance.now();
        const result = await trainAdapter(o.model, o.encoders, data, {
          ...TRAIN_DEFAULTS,
          method,
          epochs: s.epochs,
          shots: s.shots,
          lr: s.lr,
          batchSize: s.batchSize,
          ctxInit: s.ctxInit,
          seed,
          cropScale: s.cropScale,
          viewFeatures: views,
          log: () => {},
        });
        trainSeconds = (performance.now() - t0) / 1000;
        adapter = result.params;
      }
      const b = score(await predictionsOn(inference, baseFeats, baseTest, adapter, base), baseTest);
      const n = score(await predictionsOn(inference, novelFeats, novelTest, adapter, novel), novelTest);
      const row: Base2NewRow = {
        seed,
        method,
        base: b.accuracy,
        novel: n.accuracy,
        h: harmonicMean(b.accuracy, n.accuracy),
        trainSeconds,
        attributes: { baseColor: b.color, baseShape: b.shape, novelColor: n.color, novelShape: n.shape },
      };
      rows.push(row);
      o.log(
        `seed ${seed} ${method.padEnd(9)} base ${(row.base * 100).toFixed(1)}%  new ${(row.novel * 100).toFixed(1)}%  H ${(row.h * 100).toFixed(1)}%` +
          (trainSeconds ? `  (trained in ${trainSeconds.toFixed(0)} s)` : ''),
      );
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export interface Base2NewSummary {
  method: Base2NewMethod;
  base: { mean: number; min: number; max: number };
  novel: { mean: number; min: number; max: number };
  h: { mean: number; min: number; max: number };
}

function stats(xs: number[]): { mean: number; min: number; max: number } {
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * Mean and min/max over seeds per method. As in the paper, the H of the mean row is the harmonic mean
 * of the mean Base and mean New accuracies; its min/max are those of the per-seed H.
 */
export function summarize(rows: Base2NewRow[]): Base2NewSummary[] {
  const methods = [...new Set(rows.map((r) => r.method))];
  return methods.map((method) => {
    const rs = rows.filter((r) => r.method === method);
    const base = stats(rs.map((r) => r.base));
    const novel = stats(rs.map((r) => r.novel));
    const h = { ...stats(rs.map((r) => r.h)), mean: harmonicMean(base.mean, novel.mean) };
    return { method, base, novel, h };
  });
}
