// The training form's hyperparameters: the API's defaults (shown in the form) and its rules (checked before sending,
// with the API's ranges; test/console/hyperparameters.test.ts holds both against the edge's DEFAULT_HYPERPARAMETERS
// and the HyperparametersInput schema of /openapi.json). The API checks again and its 422 is shown as it comes.

export const DEFAULTS = {
  epochs: 10,
  learning_rate: 0.002,
  batch_size: 1,
  ctx_init: 'a photo of a',
  shots: 16,
  seed: 1,
  crop_scale: [0.08, 1] as [number, number],
  validation_split: 0.2,
} as const;

export interface NumberRule {
  integer: boolean;
  min: number;
  /** The minimum itself is not allowed (learning_rate > 0). */
  exclusiveMin?: boolean;
  max: number;
}

export const RULES = {
  epochs: { integer: true, min: 1, max: 100 },
  learning_rate: { integer: false, min: 0, exclusiveMin: true, max: 1 },
  batch_size: { integer: true, min: 1, max: 64 },
  n_ctx: { integer: true, min: 1, max: 16 },
  shots: { integer: true, min: 1, max: 1000 },
  seed: { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER },
  validation_split: { integer: false, min: 0, max: 0.5 },
  crop_scale: { integer: false, min: 0, exclusiveMin: true, max: 1 },
} satisfies Record<string, NumberRule>;

export const CTX_INIT_MAX_CHARS = 200;
const NOT_PLAIN_TEXT = /[\u0000-\u001f\u007f-\u009f\ufffd]/;

/** The form as typed (strings), with the two either-or choices as radio values. */
export interface HyperparameterForm {
  method: 'cocoop' | 'coop';
  epochs: string;
  learning_rate: string;
  batch_size: string;
  shots: string;
  seed: string;
  crop_min: string;
  crop_max: string;
  context: 'phrase' | 'random';
  ctx_init: string;
  n_ctx: string;
  validation: 'split' | 'dataset';
  validation_split: string;
  validation_dataset_id: string;
}

export function defaultForm(): HyperparameterForm {
  return {
    method: 'cocoop',
    epochs: String(DEFAULTS.epochs),
    learning_rate: String(DEFAULTS.learning_rate),
    batch_size: String(DEFAULTS.batch_size),
    shots: String(DEFAULTS.shots),
    seed: String(DEFAULTS.seed),
    crop_min: String(DEFAULTS.crop_scale[0]),
    crop_max: String(DEFAULTS.crop_scale[1]),
    context: 'phrase',
    ctx_init: DEFAULTS.ctx_init,
    n_ctx: '4',
    validation: 'split',
    validation_split: String(DEFAULTS.validation_split),
    validation_dataset_id: '',
  };
}

/** What the API accepts as `hyperparameters` (HyperparametersInput). */
export interface HyperparametersInput {
  epochs?: number;
  learning_rate?: number;
  batch_size?: number;
  n_ctx?: number;
  ctx_init?: string;
  shots?: number;
  seed?: number;
  crop_scale?: [number, number];
  validation_split?: number;
  validation_dataset_id?: string;
}

/** The rule in words, e.g. "an integer from 1 to 100". */
export function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  if (rule.max === Number.MAX_SAFE_INTEGER) return `${kind} ≥ ${rule.min}`;
  return rule.exclusiveMin ? `${kind} above ${rule.min}, at most ${rule.max}` : `${kind} from ${rule.min} to ${rule.max}`;
}

/** `text` as a number obeying `rule`, or the reason it does not. */
export function parseNumber(text: string, rule: NumberRule): number | string {
  const t = text.trim();
  const n = t === '' ? NaN : Number(t);
  const ok = Number.isFinite(n) && (!rule.integer || Number.isInteger(n)) && (rule.exclusiveMin ? n > rule.min : n >= rule.min) && n <= rule.max;
  return ok ? n : `must be ${describeRule(rule)}`;
}

export interface ParsedHyperparameters {
  value: HyperparametersInput;
  /** Field (API param name, e.g. "epochs", "crop_scale") → what is wrong; empty when the form is valid. */
  errors: Record<string, string>;
}

/** The form's hyperparameters, every field checked as the API would. */
export function parseHyperparameters(form: HyperparameterForm): ParsedHyperparameters {
  const value: HyperparametersInput = {};
  const errors: Record<string, string> = {};
  const num = (field: 'epochs' | 'learning_rate' | 'batch_size' | 'shots' | 'seed' | 'n_ctx' | 'validation_split', text: string) => {
    const n = parseNumber(text, RULES[field]);
    if (typeof n === 'number') value[field] = n;
    else errors[field] = n;
  };
  num('epochs', form.epochs);
  num('learning_rate', form.learning_rate);
  num('batch_size', form.batch_size);
  num('shots', form.shots);
  num('seed', form.seed);

  const lo = parseNumber(form.crop_min, RULES.crop_scale);
  const hi = parseNumber(form.crop_max, RULES.crop_scale);
  if (typeof lo === 'string' || typeof hi === 'string') errors.crop_scale = `both ends ${typeof lo === 'string' ? lo : hi}`;
  else if (lo > hi) errors.crop_scale = 'the first number (smallest crop area) must not exceed the second';
  else value.crop_scale = [lo, hi];

  if (form.context === 'random') num('n_ctx', form.n_ctx);
  else {
    const phrase = form.ctx_init;
    if (phrase.trim() === '') errors.ctx_init = 'must contain a non-space character';
    else if (phrase.length > CTX_INIT_MAX_CHARS) errors.ctx_init = `must be at most ${CTX_INIT_MAX_CHARS} characters`;
    else if (NOT_PLAIN_TEXT.test(phrase)) errors.ctx_init = 'must be plain text without control characters';
    else value.ctx_init = phrase;
  }

  if (form.validation === 'dataset') {
    if (form.validation_dataset_id === '') errors.validation_dataset_id = 'choose a ready dataset';
    else value.validation_dataset_id = form.validation_dataset_id;
  } else num('validation_split', form.validation_split);
  return { value, errors };
}
