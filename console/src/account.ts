// The account pages' pure parts: the default usage range, the usage report's meters as table cells, a key's state,
// whether a listed key is the one this console is signed in with, the new key's expiry field, an audit event's details.
import { bytes, count, duration } from './format.ts';
import type { ApiKey, ApiKeyCreateParams, AuditEvent, Quotas, UsageDay, UsageReport } from './sdk.ts';

/** The UTC day of `d` as YYYY-MM-DD (the usage report's days are UTC days). */
export function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** This UTC month up to today: the API's own default range, spelled out for the form. */
export function currentMonth(now = new Date()): { from: string; to: string } {
  const to = utcDay(now);
  return { from: `${to.slice(0, 8)}01`, to };
}

const seconds = (s: number) => duration(s * 1000);

type Totals = UsageReport['totals'];

/** One column of the usage table: its head, a day's cell and the totals' cell. */
export interface UsageMeter {
  head: string;
  day(d: UsageDay): string;
  total(t: Totals): string;
}

/** Every meter of the report, in the order of docs/API.md. */
export const USAGE_METERS: UsageMeter[] = [
  { head: 'Classify requests', day: (d) => count(d.classify_requests), total: (t) => count(t.classify_requests) },
  { head: 'Images classified', day: (d) => count(d.classify_images), total: (t) => count(t.classify_images) },
  { head: 'Texts embedded', day: (d) => count(d.embedding_texts), total: (t) => count(t.embedding_texts) },
  { head: 'Training, CoCoOp', day: (d) => seconds(d.training_seconds.cocoop), total: (t) => seconds(t.training_seconds.cocoop) },
  { head: 'Training, CoOp', day: (d) => seconds(d.training_seconds.coop), total: (t) => seconds(t.training_seconds.coop) },
  { head: 'Evaluation, CoCoOp', day: (d) => seconds(d.evaluation_seconds.cocoop), total: (t) => seconds(t.evaluation_seconds.cocoop) },
  { head: 'Evaluation, CoOp', day: (d) => seconds(d.evaluation_seconds.coop), total: (t) => seconds(t.evaluation_seconds.coop) },
  { head: 'Evaluation, zero-shot', day: (d) => seconds(d.evaluation_seconds['zero-shot']), total: (t) => seconds(t.evaluation_seconds['zero-shot']) },
  // A day's storage is its snapshot (null: none taken that day); the total is their sum, one day each.
  { head: 'Storage', day: (d) => (d.storage_bytes === null ? '–' : bytes(d.storage_bytes)), total: (t) => `${bytes(t.storage_byte_days)}-days` },
];

/** The quotas of GET /v1/me as rows: what is limited, how its figures read. */
export const QUOTA_ROWS: { quota: keyof Quotas; label: string; format: (n: number) => string }[] = [
  { quota: 'datasets', label: 'Datasets', format: count },
  { quota: 'images', label: 'Images (all datasets, pending uploads included)', format: count },
  { quota: 'bytes', label: 'Storage (images and model files)', format: bytes },
  { quota: 'concurrent_jobs', label: 'Jobs at once (training and evaluation)', format: count },
];

export type KeyState = 'active' | 'revoked' | 'expired';

export function keyState(key: Pick<ApiKey, 'revoked_at' | 'expires_at'>, now = Date.now()): KeyState {
  if (key.revoked_at) return 'revoked';
  if (key.expires_at && new Date(key.expires_at).getTime() <= now) return 'expired';
  return 'active';
}

/**
 * Whether the listed key with `prefix` is `signedInKey`. The API does not say which key is calling and keeps only
 * each key's first characters: a key starting with a listed prefix is taken to be that key (another key sharing those
 * characters is refused too — the safe side; it can be revoked from another key).
 */
export function isSignedInKey(prefix: string, signedInKey: string | null): boolean {
  return signedInKey !== null && prefix.length > 0 && signedInKey.startsWith(prefix);
}

export const MAX_KEY_DAYS = 3650;

/** The create body for the expiry field: empty never expires, else a whole number of days from 1 to 3650. */
export function parseKeyExpiry(text: string): { params: ApiKeyCreateParams } | { error: string } {
  const t = text.trim();
  if (t === '') return { params: {} };
  const days = Number(t);
  if (!/^\d+$/.test(t) || !Number.isInteger(days) || days < 1 || days > MAX_KEY_DAYS) {
    return { error: `Expiry must be a whole number of days from 1 to ${MAX_KEY_DAYS} (or empty: never).` };
  }
  return { params: { expires_in_days: days } };
}

/** An audit event's `data` as "name: value" pairs, values as JSON unless they are strings. */
export function auditDetails(event: Pick<AuditEvent, 'data'>): string {
  return Object.entries(event.data ?? {})
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}
