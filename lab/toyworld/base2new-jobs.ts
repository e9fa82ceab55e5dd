// One unit of work of the base-to-new benchmark, run inside a worker process (base2new-worker.ts):
//   eval   — one seed of one condition (world × split): few-shot training set, every trained method,
//            zero-shot CLIP and the meta-net diagnostics, all scored on the world's fixed test set;
//   select — one selection seed of one condition and one crop scale: every method trained on the first
//            shots − valPerClass images of each base class, scored on the rest (validation).
// Training runs on the ORT engine; the methods of a job that use the same crop scale share one
// ViewFeatures (the same augmented views, computed once).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ClipModel } from '../../gpu-worker/clip/model.ts';
import type { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import type { AdapterParams } from '../../gpu-worker/cocoop/adapter.ts';
import { readImageFolder, type ImageFolderDataset } from '../../gpu-worker/cocoop/dataset.ts';
import { CocoopInference } from '../../gpu-worker/cocoop/ort-inference.ts';
import { trainAdapter, TRAIN_DEFAULTS } from '../../gpu-worker/cocoop/train.ts';
import { ViewFeatures } from '../../gpu-worker/cocoop/view-features.ts';
import {
  harmonicMean,
  type Base2NewRow,
  type CropScale,
  type Recipe,
  type SelectionRow,
  type TrainedMethod,
  type World,
} from './base2new.ts';
import { imageSetFeatures, predictionsOn } from './evaluate.ts';
import { toyImageSet, writeImageFolder, type LabelledImages } from './image-sets.ts';
import { constantPiAdapter, meanMetaNetOutput, piToContextRatio } from './meta-net-diagnostics.ts';
import { splitClasses, type SplitName } from './splits.ts';
import { CLASS_NAMES, classInfo } from './world.ts';

interface JobBase {
  world: World;
  split: SplitName;
  seed: number;
  shots: number;
  methods: TrainedMethod[];
  recipes: Record<TrainedMethod, Recipe>;
}
export interface EvalJob extends JobBase {
  kind: 'eval';
  testPerClass: number;
  testSeed: number;
  cropScales: Record<TrainedMethod, CropScale>;
}
export interface SelectJob extends JobBase {
  kind: 'select';
  valPerClass: number;
  cropScale: CropScale;
}
export type Base2NewJob = EvalJob | SelectJob;
export type Base2NewJobResult = { kind: 'eval'; rows: Base2NewRow[] } | { kind: 'select'; rows: SelectionRow[] };

export interface JobContext {
  model: ClipModel;
  encoders: OrtClipEncoders;
  inference: CocoopInference;
  /** Scratch directory for few-shot image folders. */
  workDir: string;
  /** ONNX Runtime intra-op threads of the training graphs (undefined: the default). */
  ortThreads?: number;
  log: (line: string) => void;
}

interface Scored {
  accuracy: number;
  color: number;
  shape: number;
}

/** Accuracy, and the shares of predictions with the right colour and the right shape. */
export function score(predicted: string[], set: LabelledImages): Scored {
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

interface FeatureSet {
  set: LabelledImages;
  features: Float32Array;
}

/** The images of `classNames` out of a labelled set with its features (labels re-indexed to classNames). */
export function subsetByClass(all: FeatureSet, classNames: string[], dim: number): FeatureSet {
  const idx: number[] = [];
  const labels: number[] = [];
  all.set.labels.forEach((l, i) => {
    const k = classNames.indexOf(all.set.classNames[l]);
    if (k >= 0) {
      idx.push(i);
      labels.push(k);
    }
  });
  const features = new Float32Array(idx.length * dim);
  idx.forEach((i, j) => features.set(all.features.subarray(i * dim, (i + 1) * dim), j * dim));
  return { set: { classNames: [...classNames], images: idx.map((i) => all.set.images[i]), labels }, features };
}

const testSets = new Map<string, Promise<FeatureSet>>();

/** The world's one fixed test set (all 64 classes), rendered and encoded once per process. */
function testSet(ctx: JobContext, world: World, testSeed: number, perClass: number): Promise<FeatureSet> {
  const key = `${world}/${testSeed}/${perClass}`;
  let p = testSets.get(key);
  if (!p) {
    p = (async () => {
      const set = await toyImageSet(world, 'test', testSeed, CLASS_NAMES, perClass, ctx.model.config.vision.imageSize);
      return { set, features: await imageSetFeatures(ctx.encoders, set) };
    })();
    testSets.set(key, p);
  }
  return p;
}

async function folderDataset(set: LabelledImages, dir: string): Promise<ImageFolderDataset> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await writeImageFolder(set, dir);
  return readImageFolder(dir);
}

async function train(ctx: JobContext, data: ImageFolderDataset, recipe: Recipe, shots: number, seed: number, cropScale: CropScale, views: ViewFeatures) {
  const t0 = performance.now();
  const result = await trainAdapter(ctx.model, ctx.encoders, data, {
    ...TRAIN_DEFAULTS,
    method: recipe.method,
    epochs: recipe.epochs,
    batchSize: recipe.batchSize,
    lr: recipe.lr,
    ctxInit: recipe.ctxInit,
    shots,
    seed,
    cropScale,
    engine: 'ort',
    ort: ctx.ortThreads ? { threads: ctx.ortThreads } : undefined,
    viewFeatures: views,
    log: () => {},
  });
  return { params: result.params, seconds: (performance.now() - t0) / 1000 };
}

/** One ViewFeatures per crop scale, shared by the methods of a job that train with it. */
function viewCache(ctx: JobContext, data: ImageFolderDataset, seed: number) {
  const m = ctx.model;
  const cache = new Map<string, ViewFeatures>();
  return (cropScale: CropScale): ViewFeatures => {
    const key = cropScale.join(',');
    let v = cache.get(key);
    if (!v) {
      v = new ViewFeatures(
        ctx.encoders,
        data.items.map((it) => it.path),
        { modelSha256: m.weightsSha256(), preprocess: m.preprocess, dim: m.config.projectionDim, seed, cropScale },
      );
      cache.set(key, v);
    }
    return v;
  };
}

const pct = (x: number) => (x * 100).toFixed(1);

export async function runEvalJob(ctx: JobContext, job: EvalJob): Promise<Base2NewRow[]> {
  const { base, novel } = splitClasses(job.split);
  const dim = ctx.model.config.projectionDim;
  const size = ctx.model.config.vision.imageSize;
  const test = await testSet(ctx, job.world, job.testSeed, job.testPerClass);
  const baseTest = subsetByClass(test, base, dim);
  const newTest = subsetByClass(test, novel, dim);
  const trainSet = await toyImageSet(job.world, 'train', job.seed, base, job.shots, size);
  const dir = join(ctx.workDir, `eval-${job.world}-${job.split}-${job.seed}`);
  const data = await folderDataset(trainSet, dir);
  const views = viewCache(ctx, data, job.seed);
  const rows: Base2NewRow[] = [];
  const tag = `${job.world}/${job.split} seed ${job.seed}`;
  const evaluate = async (adapter: AdapterParams | null) => {
    const b = score(await predictionsOn(ctx.inference, baseTest.features, baseTest.set, adapter, base), baseTest.set);
    const n = score(await predictionsOn(ctx.inference, newTest.features, newTest.set, adapter, novel), newTest.set);
    return { b, n };
  };
  const push = (method: Base2NewRow['method'], r: { b: Scored; n: Scored }, trainSeconds: number, cropScale: CropScale | null, extra: Partial<Base2NewRow> = {}) => {
    const row: Base2NewRow = {
      world: job.world,
      split: job.split,
      seed: job.seed,
      method,
      base: r.b.accuracy,
      new: r.n.accuracy,
      h: harmonicMean(r.b.accuracy, r.n.accuracy),
      trainSeconds,
      cropScale,
      attributes: { baseColor: r.b.color, baseShape: r.b.shape, newColor: r.n.color, newShape: r.n.shape },
      ...extra,
    };
    rows.push(row);
    ctx.log(`${tag} ${method.padEnd(14)} base ${pct(row.base)}%  new ${pct(row.new)}%  H ${pct(row.h)}%` + (trainSeconds ? `  (trained in ${trainSeconds.toFixed(0)} s)` : ''));
  };
  try {
    push('zero-shot', await evaluate(null), 0, null);
    for (const method of job.methods) {
      const crop = job.cropScales[method];
      const { params, seconds } = await train(ctx, data, job.recipes[method], job.shots, job.seed, crop, views(crop));
      if (method === 'cocoop') {
        const piToContext = piToContextRatio(params, test.features, test.set.images.length);
        push(method, await evaluate(params), seconds, crop, { piToContext });
        // π(x) replaced by its mean over the few-shot training images (evaluation view).
        const trainFeatures = await imageSetFeatures(ctx.encoders, trainSet);
        const m = meanMetaNetOutput(params, trainFeatures, trainSet.images.length);
        push('cocoop-mean-pi', await evaluate(constantPiAdapter(params, m)), 0, crop);
      } else {
        push(method, await evaluate(params), seconds, crop);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export async function runSelectJob(ctx: JobContext, job: SelectJob): Promise<SelectionRow[]> {
  const { base } = splitClasses(job.split);
  const size = ctx.model.config.vision.imageSize;
  const nTrain = job.shots - job.valPerClass;
  if (!(nTrain >= 1 && job.valPerClass >= 1)) throw new Error(`selection: ${job.shots} shots cannot be split into train and ${job.valPerClass} validation images`);
  const all = await toyImageSet(job.world, 'train', job.seed, base, job.shots, size);
  // Class-major order: within each class the first nTrain images train, the rest validate.
  const pick = (keep: (k: number) => boolean): LabelledImages => {
    const idx = all.labels.map((_, i) => i).filter((i) => keep(i % job.shots));
    return { classNames: all.classNames, images: idx.map((i) => all.images[i]), labels: idx.map((i) => all.labels[i]) };
  };
  const trainPart = pick((k) => k < nTrain);
  const valPart = pick((k) => k >= nTrain);
  const valFeatures = await imageSetFeatures(ctx.encoders, valPart);
  const dir = join(ctx.workDir, `select-${job.world}-${job.split}-${job.seed}-${job.cropScale.join('-')}`);
  const data = await folderDataset(trainPart, dir);
  const views = viewCache(ctx, data, job.seed);
  const rows: SelectionRow[] = [];
  try {
    for (const method of job.methods) {
      const { params } = await train(ctx, data, job.recipes[method], nTrain, job.seed, job.cropScale, views(job.cropScale));
      const valAccuracy = score(await predictionsOn(ctx.inference, valFeatures, valPart, params, base), valPart).accuracy;
      rows.push({ world: job.world, split: job.split, seed: job.seed, method, cropScale: job.cropScale, valAccuracy });
      ctx.log(`selection ${job.world}/${job.split} seed ${job.seed} crop ${job.cropScale.join('–')} ${method.padEnd(13)} validation ${pct(valAccuracy)}%`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export async function runJob(ctx: JobContext, job: Base2NewJob): Promise<Base2NewJobResult> {
  return job.kind === 'eval' ? { kind: 'eval', rows: await runEvalJob(ctx, job) } : { kind: 'select', rows: await runSelectJob(ctx, job) };
}

export function createJobContext(model: ClipModel, encoders: OrtClipEncoders, workDir: string, ortThreads: number | undefined, log: (line: string) => void): JobContext {
  return { model, encoders, inference: new CocoopInference(encoders, ortThreads ? { threads: ortThreads } : {}), workDir, ortThreads, log };
}
