// Starting a training job on a ready dataset: the method and every hyperparameter, prefilled with the API's defaults,
// each checked as the API checks it before sending; the API's own 422 is shown on the field it names.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { type Problem, handleError } from '../errors.ts';
import { DEFAULTS, type HyperparameterForm, RULES, defaultForm, describeRule, parseHyperparameters } from '../hyperparameters.ts';
import { href, navigate } from '../router.ts';
import type { Dataset } from '../sdk.ts';
import { api } from '../session.ts';
import { ErrorNote, useLoad } from '../ui/common.tsx';

function Field(props: { id: string; label: string; help: string; error?: string; children: ComponentChildren }) {
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      <small id={`${props.id}-help`}>{props.help}</small>
      {props.error ? (
        <small id={`${props.id}-error`} class="field-error">
          {props.error}
        </small>
      ) : null}
    </div>
  );
}

export function TrainForm({ dataset }: { dataset: Dataset }) {
  const [form, setForm] = useState<HyperparameterForm>(defaultForm);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const others = useLoad(async (signal) => (await api().datasets.list({ limit: 100 }, { signal }).page()).data.filter((d) => d.status === 'ready' && d.id !== dataset.id), [dataset.id]);

  const set = (k: keyof HyperparameterForm) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  const describedBy = (id: string, field: string) => (errors[field] ? `${id}-help ${id}-error` : `${id}-help`);
  const num = (id: string, field: keyof HyperparameterForm & keyof typeof RULES, label: string, def: number | string) => (
    <Field id={id} label={label} help={`${describeRule(RULES[field])}; default ${def}`} error={errors[field]}>
      <input id={id} inputMode="decimal" value={form[field]} onInput={set(field)} aria-invalid={errors[field] ? 'true' : undefined} aria-describedby={describedBy(id, field)} />
    </Field>
  );

  const submit = async (e: Event) => {
    e.preventDefault();
    const parsed = parseHyperparameters(form);
    setErrors(parsed.errors);
    setProblem(null);
    if (Object.keys(parsed.errors).length > 0) return;
    setBusy(true);
    try {
      const job = await api().trainingJobs.create({ dataset_id: dataset.id, method: form.method, hyperparameters: parsed.value });
      navigate(href('jobs', job.id));
    } catch (err) {
      const p = handleError(err);
      setProblem(p);
      const field = p.param?.replace(/^hyperparameters\./, '');
      if (field) setErrors({ [field]: p.message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="train-form" onSubmit={submit} noValidate>
      <fieldset>
        <legend>Method</legend>
        <label class="choice">
          <input type="radio" name="method" value="cocoop" checked={form.method === 'cocoop'} onChange={() => setForm({ ...form, method: 'cocoop' })} /> CoCoOp (prompts
          conditioned on each image; generalises to new labels)
        </label>
        <label class="choice">
          <input type="radio" name="method" value="coop" checked={form.method === 'coop'} onChange={() => setForm({ ...form, method: 'coop' })} /> CoOp (one static prompt)
        </label>
      </fieldset>
      <div class="grid">
        {num('hp-epochs', 'epochs', 'Epochs', DEFAULTS.epochs)}
        {num('hp-learning-rate', 'learning_rate', 'Learning rate', DEFAULTS.learning_rate)}
        {num('hp-batch-size', 'batch_size', 'Batch size', DEFAULTS.batch_size)}
        {num('hp-shots', 'shots', 'Shots (training images per class)', DEFAULTS.shots)}
        {num('hp-seed', 'seed', 'Seed', DEFAULTS.seed)}
        <Field id="hp-crop-min" label="Crop scale (smallest, largest area)" help={`each ${describeRule(RULES.crop_scale)}; default ${DEFAULTS.crop_scale.join(', ')}`} error={errors.crop_scale}>
          <span class="pair">
            <input id="hp-crop-min" aria-label="Smallest crop area" inputMode="decimal" value={form.crop_min} onInput={set('crop_min')} aria-invalid={errors.crop_scale ? 'true' : undefined} aria-describedby={describedBy('hp-crop-min', 'crop_scale')} />
            <input id="hp-crop-max" aria-label="Largest crop area" inputMode="decimal" value={form.crop_max} onInput={set('crop_max')} aria-invalid={errors.crop_scale ? 'true' : undefined} aria-describedby={describedBy('hp-crop-min', 'crop_scale')} />
          </span>
        </Field>
      </div>
      <fieldset>
        <legend>Context vectors</legend>
        <label class="choice">
          <input type="radio" name="context" checked={form.context === 'phrase'} onChange={() => setForm({ ...form, context: 'phrase' })} /> Start from a phrase
        </label>
        <label class="choice">
          <input type="radio" name="context" checked={form.context === 'random'} onChange={() => setForm({ ...form, context: 'random' })} /> Random, this many vectors
        </label>
        {form.context === 'phrase' ? (
          <Field id="hp-ctx-init" label="Phrase" help={`one vector per token; default "${DEFAULTS.ctx_init}"`} error={errors.ctx_init}>
            <input id="hp-ctx-init" value={form.ctx_init} maxLength={200} onInput={set('ctx_init')} aria-invalid={errors.ctx_init ? 'true' : undefined} aria-describedby={describedBy('hp-ctx-init', 'ctx_init')} />
          </Field>
        ) : (
          num('hp-n-ctx', 'n_ctx', 'Vectors', 4)
        )}
      </fieldset>
      <fieldset>
        <legend>Validation</legend>
        <label class="choice">
          <input type="radio" name="validation" checked={form.validation === 'split'} onChange={() => setForm({ ...form, validation: 'split' })} /> Hold out a share of each
          class
        </label>
        <label class="choice">
          <input type="radio" name="validation" checked={form.validation === 'dataset'} onChange={() => setForm({ ...form, validation: 'dataset' })} /> Another ready dataset
        </label>
        {form.validation === 'split' ? (
          num('hp-validation-split', 'validation_split', 'Share held out', DEFAULTS.validation_split)
        ) : (
          <Field id="hp-validation-dataset" label="Validation dataset" help="its labels must all be training labels" error={errors.validation_dataset_id}>
            <select id="hp-validation-dataset" value={form.validation_dataset_id} onChange={set('validation_dataset_id')} aria-describedby={describedBy('hp-validation-dataset', 'validation_dataset_id')}>
              <option value="">Choose…</option>
              {(others.data ?? []).map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} ({d.image_count} images)
                </option>
              ))}
            </select>
          </Field>
        )}
      </fieldset>
      <button type="submit" class="primary" id="start-training" disabled={busy}>
        {busy ? 'Starting…' : 'Start training'}
      </button>
      <ErrorNote problem={problem} title="The API refused the job:" />
    </form>
  );
}
