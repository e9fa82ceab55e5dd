// Try a model: drop (or choose) an image, type labels — any labels, including ones it never trained on — and see the
// probabilities of the adapted model and of zero-shot CLIP side by side, over the same labels.
import { useEffect, useState } from 'preact/hooks';
import { imageType } from '../folder.ts';
import { parseLabels, repeatedLabel } from '../labels.ts';
import { percent } from '../format.ts';
import { type Problem, handleError } from '../errors.ts';
import type { Model } from '../sdk.ts';
import { api } from '../session.ts';
import { Bar, ErrorNote } from '../ui/common.tsx';
import { AdaptedZeroShotHeads } from '../ui/scores.tsx';

interface Answer {
  labels: string[];
  adapted: Map<string, number>;
  zeroShot: Map<string, number>;
}

export function TryIt({ model }: { model: Model }) {
  const [image, setImage] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [labelText, setLabelText] = useState(model.classes.join(', '));
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!image) return setPreview(null);
    const url = URL.createObjectURL(image);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [image]);

  const choose = (file: File | undefined) => {
    setAnswer(null);
    setProblem(null);
    if (!file) return;
    if (!imageType(file.name, file.type)) return setProblem({ message: `${file.name} is not a JPEG, PNG or WebP image.` });
    setImage(file);
  };

  const classify = async (e: Event) => {
    e.preventDefault();
    const labels = parseLabels(labelText);
    const twice = repeatedLabel(labels);
    if (!image) return setProblem({ message: 'Choose an image first.' });
    if (labels.length === 0) return setProblem({ message: 'Type at least one label.', param: 'labels' });
    if (twice) return setProblem({ message: `“${twice}” appears twice; list each label once.`, param: 'labels' });
    setBusy(true);
    setProblem(null);
    try {
      const [adapted, zeroShot] = await Promise.all([api().classify({ model: model.id, image, labels }), api().classify({ model: 'zero-shot', image, labels })]);
      setAnswer({
        labels: [...labels].sort((a, b) => (adapted.predictions.find((p) => p.label === b)?.score ?? 0) - (adapted.predictions.find((p) => p.label === a)?.score ?? 0)),
        adapted: new Map(adapted.predictions.map((p) => [p.label, p.score])),
        zeroShot: new Map(zeroShot.predictions.map((p) => [p.label, p.score])),
      });
    } catch (err) {
      setProblem(handleError(err));
    } finally {
      setBusy(false);
    }
  };

  const trained = new Set(model.classes);
  return (
    <form class="try-it" onSubmit={classify}>
      <div class="two-col">
        <div
          class="dropzone image-drop"
          id="try-dropzone"
          onDragOver={(e) => e.preventDefault()}
          onDrop={(e) => {
            e.preventDefault();
            choose(e.dataTransfer?.files[0]);
          }}
        >
          {preview ? <img src={preview} alt="The image to classify" class="preview" id="try-preview" /> : <p>Drop an image here, or choose one:</p>}
          <label class="file-button">
            Choose an image…
            <input type="file" id="try-image" accept="image/png,image/jpeg,image/webp" onChange={(e) => choose(e.currentTarget.files?.[0])} />
          </label>
        </div>
        <div>
          <label for="try-labels">Labels (comma-separated or one per line; any labels, trained on or not)</label>
          <textarea id="try-labels" rows={4} value={labelText} onInput={(e) => setLabelText(e.currentTarget.value)} />
          <button type="submit" class="primary" id="try-classify" disabled={busy}>
            {busy ? 'Classifying…' : 'Classify'}
          </button>
        </div>
      </div>
      <ErrorNote problem={problem} />
      {answer ? (
        <table class="predictions" id="predictions">
          <caption>Probabilities over these labels: the adapted model and zero-shot CLIP</caption>
          <thead>
            <tr>
              <th scope="col">Label</th>
              <AdaptedZeroShotHeads />
            </tr>
          </thead>
          <tbody>
            {answer.labels.map((l) => (
              <tr key={l}>
                <th scope="row">
                  <span class="label-text">{l}</span> {trained.has(l) ? null : <span class="tag">new</span>}
                </th>
                <td>
                  <Bar fraction={answer.adapted.get(l) ?? 0} kind="adapted" label={percent(answer.adapted.get(l) ?? 0)} />
                </td>
                <td>
                  <Bar fraction={answer.zeroShot.get(l) ?? 0} kind="zero-shot" label={percent(answer.zeroShot.get(l) ?? 0)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </form>
  );
}
