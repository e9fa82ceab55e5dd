// A Scores block (a job's validation, a model's, an evaluation's result): the two accuracies, per-class bars of the
// adapted model next to zero-shot CLIP, and the confusion matrix as a heatmap table (each cell also shows its count).
import { percent } from '../format.ts';
import type { Scores } from '../sdk.ts';
import { Bar } from './common.tsx';

export function ScoresView({ scores, what }: { scores: Scores; what: string }) {
  const diff = scores.accuracy - scores.zero_shot_accuracy;
  return (
    <div class="scores">
      <p class="summary">
        {what}: <strong>adapted {percent(scores.accuracy)}</strong>, zero-shot CLIP {percent(scores.zero_shot_accuracy)} on {scores.n}{' '}
        {scores.n === 1 ? 'image' : 'images'} ({diff >= 0 ? '+' : '−'}
        {Math.abs(diff * 100).toFixed(1)} points).
      </p>
      <div class="two-col">
        <PerClass scores={scores} />
        <ConfusionMatrix scores={scores} />
      </div>
    </div>
  );
}

/** The column heads of an adapted-vs-zero-shot pair, each with its colour key. */
export function AdaptedZeroShotHeads() {
  return (
    <>
      <th scope="col">
        <span class="key key-adapted" aria-hidden="true" /> Adapted
      </th>
      <th scope="col">
        <span class="key key-zero-shot" aria-hidden="true" /> Zero-shot
      </th>
    </>
  );
}

function PerClass({ scores }: { scores: Scores }) {
  return (
    <figure class="per-class">
      <figcaption>Accuracy per class</figcaption>
      <table>
        <thead>
          <tr>
            <th scope="col">Class</th>
            <th scope="col">Images</th>
            <AdaptedZeroShotHeads />
          </tr>
        </thead>
        <tbody>
          {scores.per_class.map((c) => (
            <tr key={c.label}>
              <th scope="row">{c.label}</th>
              <td class="num">{c.n}</td>
              <td>
                <Bar fraction={c.accuracy} kind="adapted" label={percent(c.accuracy, 0)} />
              </td>
              <td>
                <Bar fraction={c.zero_shot_accuracy} kind="zero-shot" label={percent(c.zero_shot_accuracy, 0)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** Cell shade 0..5 by the share of the row (true class) predicted as the column. */
function shade(count: number, rowTotal: number): number {
  return rowTotal === 0 || count === 0 ? 0 : 1 + Math.min(4, Math.floor((count / rowTotal) * 5));
}

export function ConfusionMatrix({ scores }: { scores: Scores }) {
  const { labels, matrix } = scores.confusion;
  return (
    <figure class="confusion">
      <figcaption>Confusion matrix: rows are the true class, columns what the adapted model answered; the diagonal is right.</figcaption>
      <div class="table-scroll">
        <table class="heatmap" aria-label="Confusion matrix">
          <thead>
            <tr>
              <th scope="col">true ↓ / predicted →</th>
              {labels.map((l) => (
                <th scope="col" key={l}>
                  {l}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {labels.map((l, i) => {
              const row = matrix[i] ?? [];
              const total = row.reduce((a, b) => a + b, 0);
              return (
                <tr key={l}>
                  <th scope="row">{l}</th>
                  {labels.map((p, j) => (
                    <td key={p} class={`heat-${shade(row[j] ?? 0, total)}${i === j ? ' diagonal' : ''}`} title={`${l} → ${p}: ${row[j] ?? 0}`}>
                      {row[j] ?? 0}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
