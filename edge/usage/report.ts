// GET /v1/usage: a tenant's billable usage per UTC day over a range of days, and its totals (what edge/usage/record.ts
// and storage.ts wrote). Every day of the range has a bucket, zeros included. Two indexed reads per report:
// usage_daily by its key (tenant_id, day) and usage_work by (tenant_id, day).
import { validationFailed } from '../http/errors.ts';
import type { SqlDatabase } from '../ports.ts';
import { utcDay } from './record.ts';

/** Longest range of one report, in days (both ends included). */
export const MAX_USAGE_DAYS = 366;

export const TRAINING_METHODS = ['cocoop', 'coop'] as const;
export const EVALUATION_METHODS = ['cocoop', 'coop', 'zero-shot'] as const;
type TrainingMethod = (typeof TRAINING_METHODS)[number];
type EvaluationMethod = (typeof EVALUATION_METHODS)[number];

export interface UsageMeters {
  classify_requests: number;
  classify_images: number;
  embedding_texts: number;
  /** Seconds of training jobs that ended, by method. */
  training_seconds: Record<TrainingMethod, number>;
  /** Seconds of evaluations that ended, by the evaluated model's method. */
  evaluation_seconds: Record<EvaluationMethod, number>;
}

export interface UsageDay extends UsageMeters {
  date: string;
  /** The day's storage snapshot (bytes); null when none was taken that day. */
  storage_bytes: number | null;
}

export interface UsageReport {
  from: string;
  to: string;
  granularity: 'day';
  data: UsageDay[];
  totals: UsageMeters & { storage_byte_days: number };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/** ms of a YYYY-MM-DD date (UTC midnight); 422 with `param` when it is not a real date of that form. */
function parseDate(value: string, param: 'from' | 'to'): number {
  const ms = DATE.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms) || utcDay(new Date(ms)) !== value) {
    throw validationFailed(`Query parameter "${param}" must be a date as YYYY-MM-DD (UTC), e.g. "2025-01-31"; got ${JSON.stringify(value.slice(0, 40))}.`, param);
  }
  return ms;
}

/**
 * The report's range from the query: `to` defaults to today (UTC), `from` to the first day of `to`'s month. 422 with
 * `param` for a date that is not YYYY-MM-DD, `from` after `to`, or more than MAX_USAGE_DAYS days.
 */
export function usageRange(q: { from?: string; to?: string }, now = new Date()): { from: string; to: string } {
  const toMs = q.to === undefined ? Date.parse(`${utcDay(now)}T00:00:00Z`) : parseDate(q.to, 'to');
  const to = utcDay(new Date(toMs));
  const fromMs = q.from === undefined ? Date.parse(`${to.slice(0, 8)}01T00:00:00Z`) : parseDate(q.from, 'from');
  if (fromMs > toMs) throw validationFailed(`Query parameter "from" (${q.from}) is after "to" (${to}); give from <= to.`, 'from');
  const days = (toMs - fromMs) / DAY_MS + 1;
  if (days > MAX_USAGE_DAYS) {
    throw validationFailed(`The range ${utcDay(new Date(fromMs))}..${to} is ${days} days; one report covers at most ${MAX_USAGE_DAYS} days.`, 'to');
  }
  return { from: utcDay(new Date(fromMs)), to };
}

function emptyMeters(): UsageMeters {
  return {
    classify_requests: 0,
    classify_images: 0,
    embedding_texts: 0,
    training_seconds: { cocoop: 0, coop: 0 },
    evaluation_seconds: { cocoop: 0, coop: 0, 'zero-shot': 0 },
  };
}

interface DailyRow {
  day: string;
  classify_requests: number;
  classify_images: number;
  embedding_texts: number;
  storage_bytes: number | null;
}

interface WorkRow {
  day: string;
  kind: 'training' | 'evaluation';
  method: string;
  ms: number;
}

/** Seconds from summed milliseconds (exact to the millisecond). */
const seconds = (ms: number) => ms / 1000;

/** The tenant's usage per day from `from` to `to` (YYYY-MM-DD, checked by usageRange) and the totals. */
export async function usageReport(db: SqlDatabase, tenantId: string, range: { from: string; to: string }): Promise<UsageReport> {
  const { from, to } = range;
  const [daily, work] = await Promise.all([
    db
      .prepare(
        `SELECT day, classify_requests, classify_images, embedding_texts, storage_bytes
           FROM usage_daily WHERE tenant_id = ? AND day >= ? AND day <= ?`,
      )
      .bind(tenantId, from, to)
      .all<DailyRow>(),
    db
      .prepare(
        `SELECT day, kind, method, SUM(duration_ms) AS ms
           FROM usage_work WHERE tenant_id = ? AND day >= ? AND day <= ? GROUP BY day, kind, method`,
      )
      .bind(tenantId, from, to)
      .all<WorkRow>(),
  ]);
  const byDay = new Map<string, UsageDay>();
  for (let ms = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); ms <= end; ms += DAY_MS) {
    const date = utcDay(new Date(ms));
    byDay.set(date, { date, ...emptyMeters(), storage_bytes: null });
  }
  const workMs = new Map<string, { training: Record<string, number>; evaluation: Record<string, number> }>();
  for (const r of daily) {
    const d = byDay.get(r.day);
    if (!d) continue;
    d.classify_requests = Number(r.classify_requests);
    d.classify_images = Number(r.classify_images);
    d.embedding_texts = Number(r.embedding_texts);
    d.storage_bytes = r.storage_bytes === null ? null : Number(r.storage_bytes);
  }
  for (const r of work) {
    if (!byDay.has(r.day)) continue;
    const w = workMs.get(r.day) ?? { training: {}, evaluation: {} };
    w[r.kind][r.method] = (w[r.kind][r.method] ?? 0) + Number(r.ms);
    workMs.set(r.day, w);
  }
  const totals = { ...emptyMeters(), storage_byte_days: 0 };
  const totalMs = { training: {} as Record<string, number>, evaluation: {} as Record<string, number> };
  for (const d of byDay.values()) {
    const w = workMs.get(d.date);
    for (const m of TRAINING_METHODS) {
      const ms = w?.training[m] ?? 0;
      d.training_seconds[m] = seconds(ms);
      totalMs.training[m] = (totalMs.training[m] ?? 0) + ms;
    }
    for (const m of EVALUATION_METHODS) {
      const ms = w?.evaluation[m] ?? 0;
      d.evaluation_seconds[m] = seconds(ms);
      totalMs.evaluation[m] = (totalMs.evaluation[m] ?? 0) + ms;
    }
    totals.classify_requests += d.classify_requests;
    totals.classify_images += d.classify_images;
    totals.embedding_texts += d.embedding_texts;
    totals.storage_byte_days += d.storage_bytes ?? 0;
  }
  for (const m of TRAINING_METHODS) totals.training_seconds[m] = seconds(totalMs.training[m] ?? 0);
  for (const m of EVALUATION_METHODS) totals.evaluation_seconds[m] = seconds(totalMs.evaluation[m] ?? 0);
  return { from, to, granularity: 'day', data: [...byDay.values()], totals };
}
