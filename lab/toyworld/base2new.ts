// The CoCoOp paper's base-to-new experiment in miniature, on the toy world with the bundled toy CLIP,
// as a benchmark that can tell methods apart (docs/base2new.md, "Protocol"): conditions = worlds ×
// splits; per condition many seeds, one fixed test set, and every choice (the crop scale) made on a
// validation split of the base-class few-shot images. This module holds the settings and the types;
// base2new-jobs.ts runs one seed of one condition, base2new-summary.ts the statistics over seeds.
import type { AdapterMethod } from '../../gpu-worker/cocoop/adapter.ts';
import { TRAIN_DEFAULTS } from '../../gpu-worker/cocoop/train.ts';
import type { SplitName } from './splits.ts';

/** The downstream domains of the benchmark: one global shift (night), or one shift drawn per image (mixed). */
export type World = 'night' | 'mixed';
export const WORLDS: World[] = ['night', 'mixed'];

/** Methods that are trained. */
export type TrainedMethod = 'coop' | 'coop-official' | 'cocoop';
export const TRAINED_METHODS: TrainedMethod[] = ['coop', 'coop-official', 'cocoop'];
/**
 * Every row's method: zero-shot CLIP, the trained ones, and the diagnostic "cocoop-mean-pi" (the
 * trained CoCoOp with π(x) replaced by its mean over the few-shot training images).
 */
export type Base2NewMethod = 'zero-shot' | TrainedMethod | 'cocoop-mean-pi';

export interface Recipe {
  method: AdapterMethod;
  epochs: number;
  batchSize: number;
  lr: number;
  ctxInit: string;
}

/**
 * coop and cocoop: CoCoOp's base-to-new recipe (the authors' configs/trainers/CoCoOp/
 * vit_b16_c4_ep10_batch1_ctxv1.yaml, the one our trainer runs by default): ctx "a photo of a",
 * SGD lr 0.002, batch 1, 10 epochs. coop-official: the recipe the authors' base-to-new script uses for
 * CoOp (configs/trainers/CoOp/vit_b16_ctxv1.yaml): the same context init and lr, but batch 32 and
 * 200 epochs. Warm-up, cosine schedule, momentum and weight decay are the same in all three.
 */
export const RECIPES: Record<TrainedMethod, Recipe> = {
  coop: { method: 'coop', epochs: 10, batchSize: 1, lr: TRAIN_DEFAULTS.lr, ctxInit: TRAIN_DEFAULTS.ctxInit },
  'coop-official': { method: 'coop', epochs: 200, batchSize: 32, lr: TRAIN_DEFAULTS.lr, ctxInit: TRAIN_DEFAULTS.ctxInit },
  cocoop: { method: 'cocoop', epochs: 10, batchSize: 1, lr: TRAIN_DEFAULTS.lr, ctxInit: TRAIN_DEFAULTS.ctxInit },
};

export type CropScale = [number, number];

export interface Base2NewSettings {
  worlds: World[];
  splits: SplitName[];
  /** Evaluation seeds (few-shot draw, views, initialisation), the same for every condition and method. */
  seeds: number[];
  /** Seeds of the crop-scale selection runs (disjoint from `seeds`: their own few-shot draws). */
  selectionSeeds: number[];
  shots: number; // per base class
  /** In selection runs, the last `valPerClass` of each base class's `shots` images are validation. */
  valPerClass: number;
  /** Test images per class of the one fixed test set of a world (all 64 classes). */
  testPerClass: number;
  /** Seed of the fixed test set (the test stream, independent of every training stream). */
  testSeed: number;
  methods: TrainedMethod[];
  recipes: Record<TrainedMethod, Recipe>;
  /** RandomResizedCrop area ranges the selection chooses from, per method. */
  cropCandidates: CropScale[];
}

export const BASE2NEW_DEFAULTS: Base2NewSettings = {
  worlds: WORLDS,
  splits: ['name-sorted', 'balanced'],
  seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  selectionSeeds: [101, 102],
  shots: 16,
  valPerClass: 4,
  testPerClass: 50,
  testSeed: 1,
  methods: TRAINED_METHODS,
  recipes: RECIPES,
  cropCandidates: [
    [0.08, 1],
    [0.5, 1],
  ],
};

export interface Base2NewRow {
  world: World;
  split: SplitName;
  seed: number;
  method: Base2NewMethod;
  base: number;
  new: number;
  /** Harmonic mean of this seed's base and new. */
  h: number;
  /** Training time (s); 0 for zero-shot and the diagnostic row. */
  trainSeconds: number;
  /** The crop scale the method trained with (null: not trained). */
  cropScale: CropScale | null;
  /** Share of test images whose predicted class has the right colour / the right shape. */
  attributes: { baseColor: number; baseShape: number; newColor: number; newShape: number };
  /** CoCoOp rows: mean ‖π(x)‖ over the test images of the condition / mean ‖ctx row‖. */
  piToContext?: number;
}

export interface SelectionRow {
  world: World;
  split: SplitName;
  seed: number;
  method: TrainedMethod;
  cropScale: CropScale;
  /** Accuracy on the held-out base-class few-shot images, among the base labels. */
  valAccuracy: number;
}

export function harmonicMean(a: number, b: number): number {
  return a + b === 0 ? 0 : (2 * a * b) / (a + b);
}
