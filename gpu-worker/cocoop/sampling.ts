// Which images of a dataset a job trains on and which it validates on, drawn at random with the job's seed
// (never by file name, so the order in which a customer named or uploaded files does not choose the sample):
//   holdOut(ds, split, seed)   per class, floor(n × split) images held out for validation, at least 1 when the
//                              class has 2 or more images and split > 0; the rest is the training pool
//   drawShots(ds, shots, seed) per class, at most `shots` images of the pool
// Each class draws from its own stream (seed, purpose, class index), so adding a class does not change the draw
// of the others. The images kept keep the dataset's order.
import { MAX_VALIDATION_SPLIT } from '../../shared/contracts/training-job.ts';
import { SeededRandom } from '../clip/random.ts';
import type { ImageFolderDataset, LabelledImage } from './dataset.ts';
import { deriveSeed } from './view-features.ts';

const HOLDOUT_STREAM = 0x484f4c44; // 'HOLD'
const SHOTS_STREAM = 0x53484f54; // 'SHOT'

export { MAX_VALIDATION_SPLIT };

/** A Fisher–Yates permutation of 0..n-1 from `rng`. */
function permutation(n: number, rng: SeededRandom): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(rng.uniform() * (i + 1)));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Per class, the positions (into ds.items) of `take(n)` images drawn at random from stream (purpose, seed, class). */
function drawPerClass(ds: ImageFolderDataset, stream: number, seed: number, take: (n: number) => number): Set<number> {
  const byClass = new Map<number, number[]>();
  ds.items.forEach((it, i) => {
    const list = byClass.get(it.label);
    if (list) list.push(i);
    else byClass.set(it.label, [i]);
  });
  const chosen = new Set<number>();
  for (const [label, positions] of byClass) {
    const k = take(positions.length);
    if (k <= 0) continue;
    const order = permutation(positions.length, new SeededRandom(deriveSeed(stream, seed, label)));
    for (const o of order.slice(0, k)) chosen.add(positions[o]);
  }
  return chosen;
}

/** Images held out of a class of n images at this split. */
export function holdOutCount(n: number, split: number): number {
  if (!(split > 0) || n < 2) return 0;
  return Math.max(1, Math.floor(n * split));
}

export interface HoldOut {
  /** The training pool. */
  train: ImageFolderDataset;
  /** The held-out images; null when nothing was held out (split 0 or every class has one image). */
  validation: ImageFolderDataset | null;
}

/** Splits `ds` into a training pool and a validation set (see the file comment). */
export function holdOut(ds: ImageFolderDataset, split: number, seed: number): HoldOut {
  if (!(split >= 0 && split <= MAX_VALIDATION_SPLIT)) throw new RangeError(`validation split must be in [0, ${MAX_VALIDATION_SPLIT}], got ${split}`);
  const held = drawPerClass(ds, HOLDOUT_STREAM, seed, (n) => holdOutCount(n, split));
  const pick = (keep: boolean): LabelledImage[] => ds.items.filter((_, i) => held.has(i) === keep);
  return {
    train: { ...ds, items: pick(false) },
    validation: held.size > 0 ? { ...ds, items: pick(true) } : null,
  };
}

/** At most `shots` images per class, drawn at random with `seed` (all of a class that has no more than that). */
export function drawShots(ds: ImageFolderDataset, shots: number, seed: number): ImageFolderDataset {
  const kept = drawPerClass(ds, SHOTS_STREAM, seed, (n) => Math.min(n, shots));
  return { ...ds, items: ds.items.filter((_, i) => kept.has(i)) };
}
