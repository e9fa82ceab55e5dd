// The console's pure parts, without a browser: the training form's defaults and rules against the edge's own
// (DEFAULT_HYPERPARAMETERS and the HyperparametersInput schema of /openapi.json), the folder plan (labels from class
// folders, what is left out and why), label lists, progress and ETA, the per-epoch figures of a job's events, the
// account page's usage columns (one per meter of the UsageDay schema), key states, the signed-in key's match and the
// new key's expiry (the CreateApiKeyRequest range).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HYPERPARAMETERS } from '../../edge/jobs/records.ts';
import { DEFAULTS, type NumberRule, RULES, defaultForm, parseHyperparameters, parseNumber } from '../../console/src/hyperparameters.ts';
import { MAX_IMAGE_BYTES, planLabelled, planUpload } from '../../console/src/folder.ts';
import { MAX_KEY_DAYS, USAGE_METERS, auditDetails, currentMonth, isSignedInKey, keyState, parseKeyExpiry } from '../../console/src/account.ts';
import { bytes, count, eta, jobFraction, percent } from '../../console/src/format.ts';
import { epochMetrics } from '../../console/src/job-metrics.ts';
import { parseLabels, repeatedLabel } from '../../console/src/labels.ts';
import type { TrainingJobEvent } from '../../sdk/src/index.ts';
import { type TestEdge, startTestEdge } from '../helpers/edge.ts';
import { launchBrowser, missingBrowser } from './browser.ts';

interface JsonSchema {
  type?: string | string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  prefixItems?: JsonSchema[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  $ref?: string;
}

let edge: TestEdge;
let schema: Record<string, JsonSchema>;
let schemas: Record<string, { properties: Record<string, JsonSchema> }>;
beforeAll(async () => {
  edge = await startTestEdge();
  const doc = (await (await edge.fetch('/openapi.json')).json()) as { components: { schemas: Record<string, { properties: Record<string, JsonSchema> }> } };
  schemas = doc.components.schemas;
  schema = schemas.HyperparametersInput!.properties;
});
afterAll(async () => {
  await edge?.close();
});

const png = (name: string, bytes = 10) => new File([new Uint8Array(bytes)], name, { type: 'image/png' });

describe('the training form', () => {
  it('shows the API’s defaults', () => {
    expect({ ...DEFAULTS, crop_scale: [...DEFAULTS.crop_scale] }).toEqual({ ...DEFAULT_HYPERPARAMETERS, crop_scale: [...DEFAULT_HYPERPARAMETERS.crop_scale] });
  });

  it('checks each number with the range and type of the API’s schema', () => {
    const numeric = ['epochs', 'learning_rate', 'batch_size', 'n_ctx', 'shots', 'seed', 'validation_split'] as const;
    for (const field of numeric) {
      const s = schema[field]!;
      const rule: NumberRule = RULES[field];
      expect(rule.integer, field).toBe(s.type === 'integer');
      expect(rule.max, field).toBe(s.maximum);
      if (s.exclusiveMinimum !== undefined) expect([rule.min, rule.exclusiveMin], field).toEqual([s.exclusiveMinimum, true]);
      else expect([rule.min, rule.exclusiveMin ?? false], field).toEqual([s.minimum, false]);
    }
    const crop = schema.crop_scale!.prefixItems![0]!;
    expect([RULES.crop_scale.min, RULES.crop_scale.exclusiveMin, RULES.crop_scale.max]).toEqual([crop.exclusiveMinimum, true, crop.maximum]);
  });

  it('turns the default form into exactly the defaults, and refuses what the API refuses', () => {
    expect(parseHyperparameters(defaultForm())).toEqual({
      value: { epochs: 10, learning_rate: 0.002, batch_size: 1, shots: 16, seed: 1, crop_scale: [0.08, 1], ctx_init: 'a photo of a', validation_split: 0.2 },
      errors: {},
    });
    const bad = parseHyperparameters({ ...defaultForm(), epochs: '0', learning_rate: '0', batch_size: '2.5', crop_min: '0.9', crop_max: '0.5', ctx_init: '   ', validation_split: '0.6' });
    expect(Object.keys(bad.errors).sort()).toEqual(['batch_size', 'crop_scale', 'ctx_init', 'epochs', 'learning_rate', 'validation_split']);
    expect(bad.errors.epochs).toBe('must be an integer from 1 to 100');
    expect(bad.errors.learning_rate).toBe('must be a number above 0, at most 1');
    expect(bad.errors.crop_scale).toMatch(/must not exceed/);
    // Either-or choices send one of the two.
    const other = parseHyperparameters({ ...defaultForm(), context: 'random', n_ctx: '8', validation: 'dataset', validation_dataset_id: 'ds_x' });
    expect(other.value).toMatchObject({ n_ctx: 8, validation_dataset_id: 'ds_x' });
    expect(other.value).not.toHaveProperty('ctx_init');
    expect(other.value).not.toHaveProperty('validation_split');
    expect(parseHyperparameters({ ...defaultForm(), validation: 'dataset' }).errors).toEqual({ validation_dataset_id: 'choose a ready dataset' });
    expect(parseNumber(' 12 ', RULES.seed)).toBe(12);
    expect(parseNumber('', RULES.seed)).toBe('must be an integer ≥ 0');
  });
});

describe('the folder plan', () => {
  it('labels files by their class folder under one dropped folder, and says what it leaves out', () => {
    const plan = planUpload([
      { path: 'shapes/red star/000.png', file: png('000.png') },
      { path: 'shapes/red star/001.JPG', file: png('001.JPG') },
      { path: 'shapes/blue ring/000.webp', file: png('000.webp') },
      { path: 'shapes/blue ring/notes.txt', file: png('notes.txt') },
      { path: 'shapes/blue ring/empty.png', file: png('empty.png', 0) },
      { path: 'shapes/blue ring/huge.png', file: png('huge.png', MAX_IMAGE_BYTES + 1) },
      { path: 'shapes/loose.png', file: png('loose.png') },
      { path: 'shapes/deep/er/x.png', file: png('x.png') },
      { path: 'shapes/.DS_Store', file: png('.DS_Store') },
      { path: 'shapes/red star/.hidden.png', file: png('.hidden.png') },
    ]);
    expect(plan.classes).toEqual([
      { label: 'blue ring', count: 1 },
      { label: 'red star', count: 2 },
    ]);
    expect(plan.files.map((f) => [f.label, f.contentType])).toEqual([
      ['blue ring', 'image/webp'],
      ['red star', 'image/png'],
      ['red star', 'image/jpeg'],
    ]);
    expect(plan.skipped).toEqual([
      'shapes/blue ring/notes.txt: not a JPEG, PNG or WebP image',
      'shapes/blue ring/empty.png: empty file',
      'shapes/blue ring/huge.png: over 10 MiB',
      'shapes/loose.png: not inside a class folder',
      'shapes/deep/er/x.png: in a nested folder (one level of class folders only)',
    ]);
  });

  it('takes dropped class folders as classes, and loose files with the label given', () => {
    const plan = planUpload([
      { path: 'cat/a.png', file: png('a.png') },
      { path: 'dog/b.png', file: png('b.png') },
    ]);
    expect(plan.classes.map((c) => c.label)).toEqual(['cat', 'dog']);
    const loose = planLabelled([png('a.png'), png('b.gif')], '  tabby cat ');
    expect(loose.files.map((f) => f.label)).toEqual(['tabby cat']);
    expect(loose.skipped).toEqual(['b.gif: not a JPEG, PNG or WebP image']);
  });
});

describe('labels, progress and figures', () => {
  it('reads label lists typed by commas or lines and finds repeats', () => {
    expect(parseLabels('red star, blue ring\n\n purple hexagon ,')).toEqual(['red star', 'blue ring', 'purple hexagon']);
    expect(repeatedLabel(['a', 'b', 'a'])).toBe('a');
    expect(repeatedLabel(['a', 'b'])).toBeUndefined();
  });

  it('measures progress over all epochs and extrapolates the time left', () => {
    expect(jobFraction({ epoch: 2, epochs: 4, step: 5, steps: 10 })).toBe(0.375);
    expect(jobFraction({ epoch: 0, epochs: 0, step: 0, steps: 0 })).toBe(0);
    const started = new Date(1_000_000).toISOString();
    expect(eta(started, 0.25, 1_000_000 + 30_000)).toBe(90_000);
    expect(eta(null, 0.5)).toBeNull();
    expect(eta(started, 1, 2_000_000)).toBeNull();
    expect(percent(0.8234)).toBe('82.3%');
    expect(percent(null)).toBe('–');
  });

  it('reads the per-epoch figures from metrics events, the last of an epoch winning', () => {
    const ev = (id: string, type: 'message' | 'metrics', data?: unknown): TrainingJobEvent => ({ id, created_at: '', level: 'info', type, message: '', data });
    expect(
      epochMetrics([
        ev('1', 'message'),
        ev('2', 'metrics', { epoch: 1, loss: 2, accuracy: 0.5 }),
        ev('3', 'metrics', { epoch: 2, loss: 1, accuracy: 0.7, val_accuracy: 0.6 }),
        ev('4', 'metrics', { epoch: 2, loss: 0.9, accuracy: 0.8, val_accuracy: 0.65 }),
        ev('5', 'metrics', { nothing: true }),
      ]),
    ).toEqual([
      { epoch: 1, loss: 2, accuracy: 0.5, val_accuracy: null },
      { epoch: 2, loss: 0.9, accuracy: 0.8, val_accuracy: 0.65 },
    ]);
  });
});

describe('the account page', () => {
  it('has one usage column per meter of the API’s UsageDay, each reading its own figure', () => {
    // The meters of a day: its number fields and the numbers inside its objects (seconds per method), not the date.
    const resolve = (s: JsonSchema) => (s.$ref ? schemas[s.$ref.replace('#/components/schemas/', '')]! : s);
    const leaves = Object.entries(schemas.UsageDay!.properties)
      .filter(([name]) => name !== 'date')
      .flatMap(([name, s]) => {
        const props = resolve(s).properties;
        return props ? Object.keys(props).map((k) => `${name}.${k}`) : [name];
      });
    expect(leaves).toContain('evaluation_seconds.zero-shot');
    expect(USAGE_METERS).toHaveLength(leaves.length);
    const figures = {
      date: '2025-01-31',
      classify_requests: 1234,
      classify_images: 5,
      embedding_texts: 6,
      training_seconds: { cocoop: 61, coop: 7 },
      evaluation_seconds: { cocoop: 8, coop: 9, 'zero-shot': 3600 },
      storage_bytes: 3 * 1024 ** 3,
    };
    expect(USAGE_METERS.map((m) => m.day(figures))).toEqual(['1,234', '5', '6', '1 min 1 s', '7 s', '8 s', '9 s', '1 h 0 min', '3.0 GiB']);
    expect(USAGE_METERS.at(-1)!.day({ ...figures, storage_bytes: null })).toBe('–');
    const { date: _date, storage_bytes: _storage, ...sums } = figures;
    expect(USAGE_METERS.map((m) => m.total({ ...sums, storage_byte_days: 2048 }))).toEqual(['1,234', '5', '6', '1 min 1 s', '7 s', '8 s', '9 s', '1 h 0 min', '2.0 KiB-days']);
  });

  it('reads sizes and counts, and defaults the usage range to this UTC month', () => {
    expect([bytes(512), bytes(1536), bytes(5 * 1024 ** 2), bytes(2 * 1024 ** 3), bytes(2 ** 50)]).toEqual(['512 B', '1.5 KiB', '5.0 MiB', '2.0 GiB', '1.0 PiB']);
    expect(count(20000)).toBe('20,000');
    // 23:30 on 31 March in UTC−2 is already 1 April in UTC: the report's days are UTC days.
    expect(currentMonth(new Date('2025-03-31T23:30:00-02:00'))).toEqual({ from: '2025-04-01', to: '2025-04-01' });
    expect(currentMonth(new Date('2025-02-14T12:00:00Z'))).toEqual({ from: '2025-02-01', to: '2025-02-14' });
  });

  it('tells active, revoked and expired keys apart, and knows the signed-in key by its prefix', () => {
    const now = Date.parse('2025-06-01T00:00:00Z');
    expect(keyState({ revoked_at: null, expires_at: null }, now)).toBe('active');
    expect(keyState({ revoked_at: null, expires_at: '2025-06-02T00:00:00Z' }, now)).toBe('active');
    expect(keyState({ revoked_at: null, expires_at: '2025-05-31T23:59:59Z' }, now)).toBe('expired');
    expect(keyState({ revoked_at: '2025-05-01T00:00:00Z', expires_at: '2025-05-31T00:00:00Z' }, now)).toBe('revoked');
    const key = 'ck_live_3fJ9kQ2mXcV7pL0aZr8tN5wB1yH6dE4u';
    expect(isSignedInKey('ck_live_3fJ9', key)).toBe(true);
    expect(isSignedInKey('ck_live_3fJ8', key)).toBe(false);
    expect(isSignedInKey('', key)).toBe(false);
    expect(isSignedInKey('ck_live_3fJ9', null)).toBe(false);
  });

  it('takes an optional expiry in whole days within the API’s range', () => {
    const days = schemas.CreateApiKeyRequest!.properties.expires_in_days!;
    expect([days.minimum, days.maximum]).toEqual([1, MAX_KEY_DAYS]);
    expect(parseKeyExpiry('  ')).toEqual({ params: {} });
    expect(parseKeyExpiry(' 90 ')).toEqual({ params: { expires_in_days: 90 } });
    expect(parseKeyExpiry(String(MAX_KEY_DAYS))).toEqual({ params: { expires_in_days: MAX_KEY_DAYS } });
    for (const bad of ['0', '3651', '1.5', '-3', '1e2', 'ninety']) expect(parseKeyExpiry(bad), bad).toHaveProperty('error');
  });

  it('spells out an audit event’s details', () => {
    expect(auditDetails({ data: { prefix: 'ck_live_3fJ9', expires_at: null, 'quotas.datasets': 7 } })).toBe('prefix: ck_live_3fJ9, expires_at: null, quotas.datasets: 7');
    expect(auditDetails({})).toBe('');
  });
});

describe('the browser prerequisite', () => {
  it('without Chromium the browser tests fail with one line saying how to install it', async () => {
    const line = missingBrowser('/nonexistent/chromium');
    expect(line).toBe(
      "No Chromium at /nonexistent/chromium: install Debian's chromium (sudo apt-get install -y chromium) or set CHROME_PATH to a Chromium executable.",
    );
    await expect(launchBrowser('/nonexistent/chromium')).rejects.toThrow(line!);
    expect(missingBrowser(process.execPath)).toBeNull();
  });
});
