// Hand-written evaluation results a worker may report: halfRightScores for tests that need one to go through and do
// not check its figures; handResult for tests that check the figures the edge stores and reports.
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

/** Hand-written figures for a cat×2 + dog×2 dataset classified against [cat, dog]: 3 of 4 right, zero-shot 2 of 4. */
export function handResult(labels = ['cat', 'dog']): Scores {
  return {
    n: 4,
    accuracy: 0.75,
    zero_shot_accuracy: 0.5,
    per_class: [
      { label: 'cat', n: 2, accuracy: 1, zero_shot_accuracy: 0.5 },
      { label: 'dog', n: 2, accuracy: 0.5, zero_shot_accuracy: 0.5 },
    ],
    // Rows: true cat → [2, 0], true dog → [1, 1]; rows and columns of further labels are zero.
    confusion: {
      labels,
      matrix: labels.map((truth) => labels.map((_, j) => (truth === 'cat' && j === 0 ? 2 : truth === 'dog' && j < 2 ? 1 : 0))),
    },
  };
}
