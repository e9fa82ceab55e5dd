// Per-tenant limits: the operator's overrides of the configured quotas and of the per-key request rate
// (PATCH /v1/tenants/{id}, admin). Stored as JSON in tenants.limits, e.g.
//   {"quotas": {"datasets": 1}, "rate_limit": {"requests_per_window": 1200}}
// a missing key means the configured default. A PATCH is applied with SQLite's json_patch (RFC 7396 merge patch: a
// null removes the override) inside the UPDATE, so two concurrent PATCHes of different fields both hold.
//
// The overrides travel with the API key's lookup (edge/tenants/tenants.ts apiKeyByHash reads tenants.limits in the
// same query), so applying them costs no query: `authenticate` gives a tenant's request a config whose `quotas` are
// the effective ones (withTenantQuotas), which every quota check and GET /v1/me read, and the rate limiter gets the
// override of the request rate (edge/http/rate-limit.ts).
import { quoteId } from '../../shared/util/quote.ts';
import { ADMIN_ACTOR, auditStatementIf } from '../audit/audit.ts';
import type { EdgeConfig, Quotas } from '../config.ts';
import { notFound, validationFailed } from '../http/errors.ts';
import type { SqlDatabase, SqlValue } from '../ports.ts';

export const QUOTA_NAMES = ['datasets', 'images', 'bytes', 'concurrent_jobs'] as const satisfies readonly (keyof Quotas)[];
export type QuotaName = (typeof QUOTA_NAMES)[number];

/** The largest value an override may take (the smallest is 1, as for the configured quotas). */
export const QUOTA_MAX: Record<QuotaName, number> = {
  datasets: 1_000_000,
  images: 1_000_000_000,
  bytes: 2 ** 50, // 1 PiB
  concurrent_jobs: 1_000,
};
export const MAX_REQUESTS_PER_WINDOW = 1_000_000;

/** A tenant's overrides as stored (only the overridden values). */
export interface TenantLimits {
  quotas?: Partial<Quotas>;
  rate_limit?: { requests_per_window?: number };
}

/** A PATCH of the overrides: a number sets one, null removes it (back to the default), absent leaves it. */
export interface TenantLimitsPatch {
  quotas?: Partial<Record<QuotaName, number | null>>;
  rate_limit?: { requests_per_window?: number | null };
}

const isCount = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= max;

/** The overrides of a stored tenants.limits text; values that are not valid counts are ignored (the default applies). */
export function parseTenantLimits(text: string | null | undefined): TenantLimits {
  let raw: unknown;
  try {
    raw = JSON.parse(text || '{}');
  } catch {
    return {};
  }
  const out: TenantLimits = {};
  const q = (raw as { quotas?: unknown })?.quotas;
  if (q && typeof q === 'object') {
    const quotas: Partial<Quotas> = {};
    for (const name of QUOTA_NAMES) {
      const v = (q as Record<string, unknown>)[name];
      if (isCount(v, QUOTA_MAX[name])) quotas[name] = v;
    }
    if (Object.keys(quotas).length > 0) out.quotas = quotas;
  }
  const rpw = (raw as { rate_limit?: { requests_per_window?: unknown } })?.rate_limit?.requests_per_window;
  if (isCount(rpw, MAX_REQUESTS_PER_WINDOW)) out.rate_limit = { requests_per_window: rpw };
  return out;
}

/** The quotas that apply to a tenant: its overrides over the configured ones. */
export function effectiveQuotas(defaults: Quotas, limits: TenantLimits): Quotas {
  return { ...defaults, ...limits.quotas };
}

/** The config of a tenant's request: `quotas` are the tenant's effective quotas (the same object when it has no override). */
export function withTenantQuotas(config: EdgeConfig, limits: TenantLimits): EdgeConfig {
  if (!limits.quotas) return config;
  return { ...config, quotas: effectiveQuotas(config.quotas, limits) };
}

/** The patch as flat `quotas.datasets` → value pairs (the audit event's data); 422 when it changes nothing. */
function changesOf(patch: TenantLimitsPatch): Record<string, SqlValue> {
  const changes: Record<string, SqlValue> = {};
  for (const name of QUOTA_NAMES) {
    const v = patch.quotas?.[name];
    if (v !== undefined) changes[`quotas.${name}`] = v;
  }
  const rpw = patch.rate_limit?.requests_per_window;
  if (rpw !== undefined) changes['rate_limit.requests_per_window'] = rpw;
  if (Object.keys(changes).length === 0) {
    throw validationFailed('The body changes nothing: give at least one of quotas.{datasets,images,bytes,concurrent_jobs} or rate_limit.requests_per_window (a number, or null to remove the override).');
  }
  return changes;
}

/**
 * Applies the patch to the tenant's overrides, with its audit event (`tenant.limits_updated`, data: the changed
 * fields) in the same batch; 404 for an unknown tenant (nothing written). Returns the tenant and its overrides after.
 */
export async function updateTenantLimits(
  db: SqlDatabase,
  id: string,
  patch: TenantLimitsPatch,
): Promise<{ id: string; name: string; limits: TenantLimits }> {
  const changes = changesOf(patch);
  const exists = { sql: 'EXISTS (SELECT 1 FROM tenants WHERE id = ?)', binds: [id] };
  const mergePatch = JSON.stringify({ ...(patch.quotas ? { quotas: patch.quotas } : {}), ...(patch.rate_limit ? { rate_limit: patch.rate_limit } : {}) });
  const [, updated] = await db.batch([
    auditStatementIf(db, { tenantId: id, actor: ADMIN_ACTOR, action: 'tenant.limits_updated', target: { type: 'tenant', id }, data: changes }, exists),
    db.prepare('UPDATE tenants SET limits = json_patch(limits, ?) WHERE id = ?').bind(mergePatch, id),
  ]);
  if (updated.changes === 0) throw notFound(`No tenant with id ${quoteId(id)}.`, 'id');
  return tenantLimits(db, id);
}

/** The tenant's id, name and overrides; 404 for an unknown tenant. */
export async function tenantLimits(db: SqlDatabase, id: string): Promise<{ id: string; name: string; limits: TenantLimits }> {
  const row = await db.prepare('SELECT id, name, limits FROM tenants WHERE id = ?').bind(id).first<{ id: string; name: string; limits: string }>();
  if (!row) throw notFound(`No tenant with id ${quoteId(id)}.`, 'id');
  return { id: row.id, name: row.name, limits: parseTenantLimits(row.limits) };
}

/** What PATCH /v1/tenants/{id} answers: the effective limits and the overrides (null: the default applies). */
export function tenantLimitsObject(
  t: { id: string; name: string; limits: TenantLimits },
  defaults: Quotas,
  policy: (override?: number) => { requests: number; windowSeconds: number },
) {
  const rpw = t.limits.rate_limit?.requests_per_window;
  const p = policy(rpw);
  return {
    id: t.id,
    name: t.name,
    quotas: effectiveQuotas(defaults, t.limits),
    rate_limit: { requests_per_window: p.requests, window_seconds: p.windowSeconds },
    overrides: {
      quotas: Object.fromEntries(QUOTA_NAMES.map((n) => [n, t.limits.quotas?.[n] ?? null])) as Record<QuotaName, number | null>,
      rate_limit: { requests_per_window: rpw ?? null },
    },
  };
}
