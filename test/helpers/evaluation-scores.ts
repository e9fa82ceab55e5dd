// An evaluation result a worker may report, for tests that need one to go through and do not check its figures.
import type { Scores } from '../../shared/contracts/evaluation.ts';

/** A valid result for a cat×2 + dog×2 dataset: half of the images right, as zero-shot is. */
export function halfRightScores(): Scores {
  return {
    n: 4,
    accuracy: 0.5,
    zero_shot_accuracy: 0.5,
    per_class: [
      { label: 'cat', n: 2, accuracy: 0.5, zero_shot_accuracy: 0.5 },
      { label: 'dog', n: 2, accuracy: 0.5, zero_shot_accuracy: 0.5 },
    ],
    confusion: { labels: ['cat', 'dog'], matrix: [[1, 1], [1, 1]] },
  };
}
