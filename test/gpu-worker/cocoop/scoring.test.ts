// scoreSet and argmaxRows (gpu-worker/cocoop/scoring.ts) against a hand-built example whose figures are counted
// by hand below (not derived from the code under test).
import { describe, expect, it } from 'vitest';
import { argmaxRows, scoreSet } from '../../../gpu-worker/cocoop/scoring.ts';
import { Scores } from '../../../shared/contracts/evaluation.ts';

describe('scoreSet', () => {
  // Labels: 0 cat, 1 dog, 2 fox, 3 owl (owl has no images: a distractor).
  // image  truth  adapted  zero-shot
  //   0    cat    cat      dog
  //   1    cat    cat      cat
  //   2    cat    dog      cat
  //   3    dog    dog      dog
  //   4    dog    owl      fox
  //   5    fox    fox      fox
  //   6    fox    cat      fox
  //   7    fox    fox      owl
  //   8    fox    fox      fox
  // adapted right: images 0,1,3,5,7,8 → 6/9; zero-shot right: images 1,2,3,5,6,8 → 6/9.
  const input = {
    labels: ['cat', 'dog', 'fox', 'owl'],
    truth: [0, 0, 0, 1, 1, 2, 2, 2, 2],
    predicted: [0, 0, 1, 1, 3, 2, 0, 2, 2],
    zeroShot: [1, 0, 0, 1, 2, 2, 2, 3, 2],
  };

  it('counts accuracy, zero-shot accuracy, per-class figures and the confusion matrix', () => {
    const s = scoreSet(input);
    expect(() => Scores.parse(s)).not.toThrow();
    expect(s.n).toBe(9);
    expect(s.accuracy).toBeCloseTo(6 / 9, 12);
    expect(s.zero_shot_accuracy).toBeCloseTo(6 / 9, 12);
    expect(s.per_class).toEqual([
      { label: 'cat', n: 3, accuracy: 2 / 3, zero_shot_accuracy: 2 / 3 },
      { label: 'dog', n: 2, accuracy: 1 / 2, zero_shot_accuracy: 1 / 2 },
      { label: 'fox', n: 4, accuracy: 3 / 4, zero_shot_accuracy: 3 / 4 },
    ]);
    expect(s.confusion).toEqual({
      labels: ['cat', 'dog', 'fox', 'owl'],
      //        cat dog fox owl (predicted)
      matrix: [
        [2, 1, 0, 0], // cat
        [0, 1, 0, 1], // dog
        [1, 0, 3, 0], // fox
        [0, 0, 0, 0], // owl: a distractor, no images → zero row, no per_class entry
      ],
    });
    // Consistency of the matrix with the other figures.
    const total = s.confusion.matrix.flat().reduce((a, b) => a + b, 0);
    const diag = s.confusion.matrix.reduce((a, row, i) => a + row[i], 0);
    expect(total).toBe(s.n);
    expect(diag / s.n).toBeCloseTo(s.accuracy, 12);
  });

  it('distinguishes the adapted and zero-shot figures when they differ', () => {
    const s = scoreSet({ labels: ['a', 'b'], truth: [0, 0, 1, 1], predicted: [0, 0, 1, 1], zeroShot: [1, 1, 1, 0] });
    expect(s.accuracy).toBe(1);
    expect(s.zero_shot_accuracy).toBe(0.25);
    expect(s.per_class).toEqual([
      { label: 'a', n: 2, accuracy: 1, zero_shot_accuracy: 0 },
      { label: 'b', n: 2, accuracy: 1, zero_shot_accuracy: 0.5 },
    ]);
    expect(s.confusion.matrix).toEqual([
      [2, 0],
      [0, 2],
    ]);
  });

  it('is not fooled by a matrix read column-wise (rows are truth)', () => {
    // Every "a" image predicted as "b": row a = [0, 3], column a all zero.
    const s = scoreSet({ labels: ['a', 'b'], truth: [0, 0, 0, 1], predicted: [1, 1, 1, 1], zeroShot: [0, 0, 0, 0] });
    expect(s.confusion.matrix).toEqual([
      [0, 3],
      [0, 1],
    ]);
    expect(s.accuracy).toBe(0.25);
    expect(s.zero_shot_accuracy).toBe(0.75);
  });

  it('an empty set scores n 0 with zero figures and no per-class entries', () => {
    const s = scoreSet({ labels: ['a', 'b'], truth: [], predicted: [], zeroShot: [] });
    expect(s).toEqual({ n: 0, accuracy: 0, zero_shot_accuracy: 0, per_class: [], confusion: { labels: ['a', 'b'], matrix: [[0, 0], [0, 0]] } });
  });

  it('copies the labels (a later change to the input does not change the result)', () => {
    const labels = ['a', 'b'];
    const s = scoreSet({ labels, truth: [0], predicted: [0], zeroShot: [0] });
    labels.push('c');
    expect(s.confusion.labels).toEqual(['a', 'b']);
  });

  it.each([
    ['predicted shorter', { labels: ['a', 'b'], truth: [0, 1], predicted: [0], zeroShot: [0, 1] }],
    ['zeroShot longer', { labels: ['a', 'b'], truth: [0, 1], predicted: [0, 1], zeroShot: [0, 1, 1] }],
    ['truth index past the labels', { labels: ['a', 'b'], truth: [0, 2], predicted: [0, 1], zeroShot: [0, 1] }],
    ['negative prediction', { labels: ['a', 'b'], truth: [0, 1], predicted: [-1, 1], zeroShot: [0, 1] }],
    ['fractional zero-shot index', { labels: ['a', 'b'], truth: [0, 1], predicted: [0, 1], zeroShot: [0.5, 1] }],
    ['NaN index', { labels: ['a', 'b'], truth: [Number.NaN, 1], predicted: [0, 1], zeroShot: [0, 1] }],
  ])('refuses bad input: %s', (_, bad) => {
    expect(() => scoreSet(bad)).toThrow(Error);
  });
});

describe('argmaxRows', () => {
  it('takes the row-wise argmax of [n, c] logits', () => {
    const logits = new Float32Array([
      0.1, 0.9, 0.3, // → 1
      -1, -2, -0.5, // → 2
      5, 4, 3, // → 0
    ]);
    expect(argmaxRows(logits, 3, 3)).toEqual([1, 2, 0]);
  });

  it('takes the first maximum on ties', () => {
    const logits = new Float32Array([
      2, 2, 1, // → 0
      1, 3, 3, // → 1
      0, 0, 0, // → 0
      -Infinity, 7, 7, // → 1
    ]);
    expect(argmaxRows(logits, 4, 3)).toEqual([0, 1, 0, 1]);
  });

  it('handles one column and zero rows', () => {
    expect(argmaxRows(new Float32Array([3, -1]), 2, 1)).toEqual([0, 0]);
    expect(argmaxRows(new Float32Array([]), 0, 4)).toEqual([]);
  });
});
