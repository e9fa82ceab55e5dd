// What a tenant uses of its quotas, counted from the tables (GET /v1/me and the quota checks of datasets,
// images and training jobs share it).
import type { Quotas } from '../config.ts';
import type { SqlDatabase } from '../ports.ts';

export type Usage = Quotas;

/** Job states that count against `concurrent_jobs`. */
export const ACTIVE_JOB_STATES = ['queued', 'running', 'cancelling'] as const;

/**
 * SQL of the bytes a tenant stores (images, pending uploads included, plus model artifacts): the `bytes` quota's
 * count, and what the daily storage snapshot records (edge/usage/storage.ts). `tenant` is the SQL of the tenant id
 * (a `?` placeholder or a column); it appears twice.
 */
export function storedBytesSql(tenant: string): string {
  return `(SELECT COALESCE(SUM(bytes), 0) FROM images WHERE tenant_id = ${tenant})
           + (SELECT COALESCE(SUM(artifact_bytes), 0) FROM models WHERE tenant_id = ${tenant})`;
}

export async function tenantUsage(db: SqlDatabase, tenantId: string): Promise<Usage> {
  const active = ACTIVE_JOB_STATES.map((s) => `'${s}'`).join(', ');
  const row = await db
    .prepare(
      `SELECT
         (SELECT COUNT(*) FROM datasets WHERE tenant_id = ?) AS datasets,
         (SELECT COUNT(*) FROM images WHERE tenant_id = ?) AS images,
         ${storedBytesSql('?')} AS bytes,
         (SELECT COUNT(*) FROM training_jobs WHERE tenant_id = ? AND status IN (${active})) AS concurrent_jobs`,
    )
    .bind(tenantId, tenantId, tenantId, tenantId, tenantId)
    .first<Usage>();
  return {
    datasets: Number(row?.datasets ?? 0),
    images: Number(row?.images ?? 0),
    bytes: Number(row?.bytes ?? 0),
    concurrent_jobs: Number(row?.concurrent_jobs ?? 0),
  };
}
