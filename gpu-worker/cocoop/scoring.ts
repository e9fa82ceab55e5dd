// The held-out figures of a labelled image set (the shape of shared/contracts/evaluation.ts `Scores`) from the
// predictions of the adapted model and of zero-shot CLIP: overall and per-class accuracy, and the confusion
// matrix of the adapted model. Pure counting, no model.
import type { Scores } from '../../shared/contracts/evaluation.ts';

export interface ScoreInput {
  /** The label list classified against (confusion matrix order). */
  labels: string[];
  /** Per image: index into `labels` of its true label. */
  truth: number[];
  /** Per image: index into `labels` predicted by the adapted model (by zero-shot CLIP for a zero-shot evaluation). */
  predicted: number[];
  /** Per image: index into `labels` predicted by zero-shot CLIP. */
  zeroShot: number[];
}

export function scoreSet(s: ScoreInput): Scores {
  const { labels, truth, predicted, zeroShot } = s;
  const n = truth.length;
  if (predicted.length !== n || zeroShot.length !== n) throw new Error('scoreSet: truth, predicted and zeroShot must have one entry per image');
  const c = labels.length;
  for (const xs of [truth, predicted, zeroShot]) {
    if (xs.some((i) => !Number.isInteger(i) || i < 0 || i >= c)) throw new Error('scoreSet: an index is outside the label list');
  }
  const matrix = labels.map(() => new Array<number>(c).fill(0));
  const perClass = labels.map(() => ({ n: 0, right: 0, zeroShotRight: 0 }));
  let right = 0;
  let zeroShotRight = 0;
  for (let i = 0; i < n; i++) {
    const t = truth[i];
    matrix[t][predicted[i]]++;
    perClass[t].n++;
    if (predicted[i] === t) {
      right++;
      perClass[t].right++;
    }
    if (zeroShot[i] === t) {
      zeroShotRight++;
      perClass[t].zeroShotRight++;
    }
  }
  const share = (k: number, of: number) => (of === 0 ? 0 : k / of);
  return {
    n,
    accuracy: share(right, n),
    zero_shot_accuracy: share(zeroShotRight, n),
    per_class: labels.flatMap((label, j) => {
      const pc = perClass[j];
      return pc.n === 0 ? [] : [{ label, n: pc.n, accuracy: share(pc.right, pc.n), zero_shot_accuracy: share(pc.zeroShotRight, pc.n) }];
    }),
    confusion: { labels: [...labels], matrix },
  };
}

/** Row-wise argmax of [n, c] logits (the first maximum on ties, as torch.argmax). */
export function argmaxRows(logits: Float32Array, n: number, c: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (logits[i * c + j] > logits[i * c + best]) best = j;
    out.push(best);
  }
  return out;
}
