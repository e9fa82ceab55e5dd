// Published adapters (models): the row a completed training job writes (edge/jobs/queue.ts completeJob),
// the public model object, tenant-scoped reads and deletion, and the model a classify or embeddings
// request names, resolved to what the inference service needs.
import type { AdapterRef } from '../../shared/contracts/inference-api.ts';
import type { Scores } from '../../shared/contracts/evaluation.ts';
import type { Method } from '../../shared/contracts/training-job.ts';
import { quoteId } from '../../shared/util/quote.ts';
import { notFound } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import type { BlobStore, SqlDatabase, SqlStatement } from '../ports.ts';

/** The `model` of classify and text embeddings that names the base CLIP model without an adapter. */
export const ZERO_SHOT = 'zero-shot';

export interface ModelRow {
  id: string;
  tenant_id: string;
  job_id: string;
  method: string;
  base_model: string;
  classes: string;
  metrics: string;
  artifact_key: string;
  artifact_bytes: number;
  artifact_sha256: string;
  created_at: string;
}

export type ModelMetrics = { [name: string]: number | Scores | null | undefined; validation?: Scores | null };

export interface NewModel {
  id: string;
  tenantId: string;
  jobId: string;
  method: Method;
  baseModel: string;
  classes: string[];
  /** The job's numeric metrics, and `validation`: the job's validation block (null when nothing was held out). */
  metrics: ModelMetrics;
  artifact: { key: string; bytes: number; sha256: string };
  createdAt: string;
}

/** The INSERT of a published model, for the batch that makes its job succeed. */
export function insertModelStatement(db: SqlDatabase, m: NewModel): SqlStatement {
  return db
    .prepare(
      `INSERT INTO models (id, tenant_id, job_id, method, base_model, classes, metrics, artifact_key, artifact_bytes, artifact_sha256, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      m.id,
      m.tenantId,
      m.jobId,
      m.method,
      m.baseModel,
      JSON.stringify(m.classes),
      JSON.stringify(m.metrics),
      m.artifact.key,
      m.artifact.bytes,
      m.artifact.sha256,
      m.createdAt,
    );
}

/** The metrics of the model object: the numbers, and `validation` (null for models published before validation existed). */
export type ModelObjectMetrics = { validation: Scores | null } & Record<string, number>;

function withValidation(m: ModelMetrics): ModelObjectMetrics {
  return { ...m, validation: m.validation ?? null } as unknown as ModelObjectMetrics;
}

export function modelObject(row: ModelRow) {
  return {
    id: row.id,
    job_id: row.job_id,
    method: row.method as Method,
    base_model: row.base_model,
    classes: JSON.parse(row.classes) as string[],
    metrics: withValidation(JSON.parse(row.metrics) as ModelMetrics),
    artifact: { bytes: row.artifact_bytes, sha256: row.artifact_sha256 },
    created_at: row.created_at,
  };
}

const noModel = (id: string) => notFound(`No model with id ${quoteId(id)} in your tenant.`, 'id');

/** The tenant's model, or 404 (another tenant's model is "not found" too). */
export async function requireTenantModel(db: SqlDatabase, tenantId: string, id: string): Promise<ModelRow> {
  const row = await db.prepare('SELECT * FROM models WHERE id = ? AND tenant_id = ?').bind(id, tenantId).first<ModelRow>();
  if (!row) throw noModel(id);
  return row;
}

/** A page of the tenant's models, newest first. */
export async function listModels(db: SqlDatabase, tenantId: string, page: Pagination) {
  const rows = await listPage<ModelRow>(db, { from: 'models', where: 'tenant_id = ?', binds: [tenantId], order: 'desc' }, page);
  return { data: rows.data.map(modelObject), has_more: rows.has_more };
}

/** The adapter file of the tenant's model; 404 when the model or its stored artifact is gone. */
export async function modelArtifact(db: SqlDatabase, blobs: BlobStore, tenantId: string, id: string): Promise<{ row: ModelRow; bytes: Uint8Array }> {
  const row = await requireTenantModel(db, tenantId, id);
  const bytes = await blobs.get(row.artifact_key);
  if (!bytes) throw notFound(`The artifact of model ${row.id} is no longer stored.`, 'id');
  return { row, bytes };
}

/** Deletes the tenant's model (row, then its artifact); 404 when it is not there. */
export async function deleteModel(db: SqlDatabase, blobs: BlobStore, tenantId: string, id: string): Promise<void> {
  const row = await requireTenantModel(db, tenantId, id);
  const { changes } = await db.prepare('DELETE FROM models WHERE id = ? AND tenant_id = ?').bind(id, tenantId).run();
  if (changes === 0) throw noModel(id);
  await blobs.delete([row.artifact_key]);
}

export interface ResolvedModel {
  baseModel: string;
  adapter: AdapterRef | null;
  /** The training classes; null for zero-shot. */
  classes: string[] | null;
}

/** `model` of an inference request: ZERO_SHOT (the base model `zeroShotBase`) or one of the tenant's models (404 otherwise). */
export async function resolveModel(db: SqlDatabase, tenantId: string, model: string, zeroShotBase: string): Promise<ResolvedModel> {
  if (model === ZERO_SHOT) return { baseModel: zeroShotBase, adapter: null, classes: null };
  const row = await db
    .prepare('SELECT id, method, base_model, classes, artifact_key, artifact_sha256 FROM models WHERE id = ? AND tenant_id = ?')
    .bind(model, tenantId)
    .first<Pick<ModelRow, 'id' | 'method' | 'base_model' | 'classes' | 'artifact_key' | 'artifact_sha256'>>();
  if (!row) throw notFound(`No model with id ${quoteId(model)} in your tenant; use "zero-shot" or an id from GET /v1/models.`, 'model');
  return {
    baseModel: row.base_model,
    adapter: { key: row.artifact_key, sha256: row.artifact_sha256, method: row.method === 'coop' ? 'coop' : 'cocoop' },
    classes: JSON.parse(row.classes) as string[],
  };
}
